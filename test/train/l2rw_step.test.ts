// The L2RW engine on the GPU against the literal float64 Algorithm 1 (explicit per-example gradients).
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu';
import { lenetSpec, mlpSpec } from '../../src/train/models';
import { useGramForm } from '../../src/train/ops/dense';
import { numClasses, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { alignments, epsGradFiniteDiff, initParams, l2rwStep } from '../reference/l2rw';
import { tinyConv, tinyMlp } from '../helpers/specs';

const lenet2 = lenetSpec(2);
/** Both ways the engine computes L2RW (TrainConfig.l2rwPath): they must agree with the reference alike. */
const PATHS = ['fast', 'general'] as const;

interface Problem {
  theta: Float32Array;
  Xf: Float32Array;
  yf: Uint32Array;
  Xg: Float32Array;
  yg: Uint32Array;
}

function randomProblem(spec: ModelSpec, seed: number, n: number, m: number, opts: { trainClasses?: readonly number[]; flipVal?: boolean } = {}): Problem {
  const rng = new Rng(seed);
  const d = shapeSize(spec.input);
  const K = numClasses(spec);
  const classes = opts.trainClasses ?? Array.from({ length: K }, (_, k) => k);
  const theta = Float32Array.from(initParams(spec, rng, { biasStd: 0.1 }));
  const Xf = rng.normals(n * d);
  const yf = Uint32Array.from({ length: n }, () => classes[rng.int(classes.length)]);
  let Xg = rng.normals(m * d);
  let yg = Uint32Array.from({ length: m }, () => rng.int(K));
  if (opts.flipVal) {
    // Every training row is one image x with label y, every clean row x with the other label of a
    // two-class model: at x the two losses' logit gradients are opposite (p − e_y = −(p_y/p_{1−y})·
    // (p − e_{1−y})), so every ∇f_i is a negative multiple of g and s_i < 0: the δ guard's case.
    if (K !== 2) throw new Error('flipVal needs a two-class model');
    for (let i = 1; i < n; i++) Xf.copyWithin(i * d, 0, d);
    yf.fill(yf[0]);
    Xg = Xf.slice(0, m * d);
    yg = new Uint32Array(m).fill(1 - yf[0]);
  }
  return { theta, Xf, yf, Xg, yg };
}

const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };

async function trainerFor(gpu: Gpu, spec: ModelSpec, p: Problem, extra: Partial<TrainConfig> = {}): Promise<Trainer> {
  const d = shapeSize(spec.input);
  const n = p.yf.length;
  const m = p.yg.length;
  return Trainer.create(
    gpu,
    spec,
    { train: { x: p.Xf, y: p.yf, n, dim: d }, clean: { x: p.Xg, y: p.yg, n: m, dim: d } },
    { method: 'l2rw', steps: 100, batch: n, valBatch: m, seed: 5, logEvery: 1000, ...SGD, ...extra },
    { params: p.theta },
  );
}

/** The problem's training rows in the order the GPU's minibatch took them. */
function permuted(p: Problem, spec: ModelSpec, idx: Uint32Array): { X: Float32Array; y: Uint32Array } {
  const d = shapeSize(spec.input);
  const X = new Float32Array(idx.length * d);
  idx.forEach((j, i) => X.set(p.Xf.subarray(j * d, (j + 1) * d), i * d));
  return { X, y: Uint32Array.from(idx, (j) => p.yf[j]) };
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// s_i sums, over every layer, dot products of signals with tangents (lengths up to ~10^4 for LeNet)
// in fp32 after a forward and backward pass in fp32: relative error ~1e-5 of the largest term is
// expected; 1e-4 * max|s| absolute (entries near 0 cancel) plus 1e-3 relative leaves headroom.
const sTol = (ref: ArrayLike<number>) => ({ atol: 1e-4 * maxAbs(ref), rtol: 1e-3 });

describe('epsilon-gradient (steps 5-10): GPU alignments vs float64 per-example gradients and finite differences', () => {
  // Finite differences only where the problem is small enough to stay clear of ReLU and pooling
  // kinks at τ = 1e-5 (random LeNet activations sit on many of them); LeNet is checked against the
  // literal per-example gradients, which the reference tests check against finite differences.
  const cases: [string, ModelSpec, number, number, boolean][] = [
    ['tiny MLP', tinyMlp, 7, 3, true],
    ['tiny conv net', tinyConv, 7, 3, true],
    // Wide enough that its dense layers take the Gram form (useGramForm), the tiny MLP the tangent form.
    ['MLP 40-30-3 (Gram form)', mlpSpec(40, [30], 3), 7, 3, true],
    ['LeNet (Caffe), 28x28, K=2', lenet2, 8, 4, false],
  ];
  for (const [name, spec, n, m, withFd] of cases) for (const l2rwPath of PATHS) {
    it(`${name}, n=${n}, m=${m}, ${l2rwPath} path`, async () => {
      const gpu = await testGpu();
      const p = randomProblem(spec, 11, n, m);
      const t = await trainerFor(gpu, spec, p, { l2rwPath });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, spec, b.indices);
      const ref = alignments(spec, p.theta, X, y, p.Xg, p.yg);
      expectClose(b.alignments!, ref, sTol(ref), `${name} s`);
      if (!withFd) return t.destroy();
      // The reference against central differences of h(ε) = L_g(θ − α Σ ε_i ∇f_i): ∂h/∂ε_i = −α s_i.
      const alpha = 0.5;
      const fd = epsGradFiniteDiff(spec, p.theta, X, y, p.Xg, p.yg, alpha, 1e-5);
      const scale = maxAbs(fd);
      let worstGpu = 0;
      ref.forEach((s, i) => {
        expect(Math.abs(fd[i] + alpha * s)).toBeLessThanOrEqual(1e-6 * scale + 1e-9);
        worstGpu = Math.max(worstGpu, Math.abs(fd[i] + alpha * b.alignments![i]) / scale);
      });
      // GPU (fp32) against finite differences, relative to the largest entry.
      expect(worstGpu).toBeLessThan(1e-3);
      console.log(`${name}: max |GPU −α s − finite difference| / max|fd| = ${worstGpu.toExponential(2)}`);
      t.destroy();
    });
  }
});

it('the Gram and tangent forms are both exercised above', () => {
  expect(useGramForm(40, 30, 3)).toBe(true);
  expect(useGramForm(7, 3, 3)).toBe(false);
  expect(useGramForm(800, 500, 4)).toBe(true);
});

describe('one whole L2RW step (steps 2-14) matches the literal float64 Algorithm 1', () => {
  for (const [name, spec, n, m] of [
    ['tiny MLP', tinyMlp, 9, 4],
    ['tiny conv net', tinyConv, 7, 3],
    ['LeNet (Caffe)', lenet2, 8, 4],
  ] as const) for (const l2rwPath of PATHS) {
    it(`${name}, ${l2rwPath} path`, async () => {
      const gpu = await testGpu();
      const p = randomProblem(spec, 23, n, m);
      const t = await trainerFor(gpu, spec, p, { l2rwPath });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, spec, b.indices);
      const ref = l2rwStep(spec, p.theta, new Float64Array(p.theta.length), X, y, p.Xg, p.yg, SGD);
      // Weights: exact function of s; compare where the sign of s is unambiguous.
      const margin = 1e-3 * maxAbs(ref.s);
      expect(Array.from(ref.s).every((s) => Math.abs(s) > margin), 'test data has an alignment too close to 0').toBe(true);
      expectClose(b.weights, ref.w, { atol: 1e-5, rtol: 1e-3 }, `${name} w`);
      const theta1 = await t.model.readParams();
      const dGpu = theta1.map((v, i) => v - p.theta[i]);
      const dRef = ref.theta.map((v, i) => v - p.theta[i]);
      // Parameter changes are lr * (gradient + wd θ): fp32 gradients of a few hundred terms, so
      // 1e-3 relative plus 1e-4 of the largest change (cancelling entries).
      expectClose(dGpu, dRef, { atol: 1e-4 * maxAbs(dRef), rtol: 1e-3 }, `${name} Δθ`);
      const v1 = await t.model.readVelocity();
      expectClose(v1, ref.velocity, { atol: 1e-4 * maxAbs(ref.velocity), rtol: 1e-3 }, `${name} velocity`);
      t.destroy();
    });
  }
});

describe('weights (step 11)', () => {
  it('δ guard: when every alignment is ≤ 0 the weights are 0 and the gradient step is exactly zero', async () => {
    const gpu = await testGpu();
    const spec = mlpSpec(5, [7, 3], 2);
    const p = randomProblem(spec, 3, 6, 6, { flipVal: true });
    const t = await trainerFor(gpu, spec, p, { weightDecay: 0 });
    await t.trainStep();
    const b = await t.inspectLastBatch();
    expect(Array.from(b.alignments!).every((s) => s <= 0), `alignments ${b.alignments}`).toBe(true);
    expect(Array.from(b.weights)).toEqual(new Array(6).fill(0));
    expect(Array.from(await t.model.readGrads()).every((g) => g === 0)).toBe(true);
    expect(Array.from(await t.model.readParams())).toEqual(Array.from(p.theta));
    t.destroy();
  });

  for (const [name, opts, m] of [
    ['non-negative and summing to 1', {}, 4],
    ['one class absent from the batch', { trainClasses: [0, 2] }, 4],
    ['m = 1', {}, 1],
  ] as const) {
    it(name, async () => {
      const gpu = await testGpu();
      const p = randomProblem(tinyMlp, 7, 33, m, opts);
      const t = await trainerFor(gpu, tinyMlp, p);
      for (let step = 0; step < 3; step++) {
        await t.trainStep();
        const b = await t.inspectLastBatch();
        const { X, y } = permuted(p, tinyMlp, b.indices);
        if (step === 0) {
          const ref = alignments(tinyMlp, p.theta, X, y, p.Xg, p.yg);
          expectClose(b.alignments!, ref, sTol(ref), `${name} s`);
        }
        const w = Array.from(b.weights);
        expect(w.every((v) => v >= 0)).toBe(true);
        const sum = w.reduce((a, v) => a + v, 0);
        if (b.alignments!.some((s) => s > 0)) expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
        else expect(sum).toBe(0);
        // Positive weight exactly where the alignment is positive.
        w.forEach((v, i) => expect(v > 0).toBe(b.alignments![i] > 0));
      }
      t.destroy();
    });
  }
});

describe('lookahead step size α', () => {
  it('cancels: weights are the same for α = 1e-3, 1 and 1e3; α ≤ 0 is refused', async () => {
    const gpu = await testGpu();
    const p = randomProblem(tinyConv, 9, 12, 4);
    const ws: Float32Array[] = [];
    for (const lookaheadAlpha of [1e-3, 1, 1e3]) {
      const t = await trainerFor(gpu, tinyConv, p, { lookaheadAlpha });
      await t.trainStep();
      ws.push((await t.inspectLastBatch()).weights);
      t.destroy();
    }
    // One fp32 multiply by α per score, then the same normalisation: a few ulps.
    expectClose(ws[0], ws[1], { atol: 1e-7, rtol: 1e-6 }, 'α = 1e-3 vs 1');
    expectClose(ws[2], ws[1], { atol: 1e-7, rtol: 1e-6 }, 'α = 1e3 vs 1');
    await expect(trainerFor(gpu, tinyConv, p, { lookaheadAlpha: 0 })).rejects.toThrow(/lookahead step size/);
  });
});

describe('scheduler', () => {
  it('exactly 1 submit and 0 readbacks per step between logging points', async () => {
    const gpu = await testGpu();
    const p = randomProblem(tinyConv, 5, 16, 4);
    const t = await trainerFor(gpu, tinyConv, p, { batch: 8, logEvery: 5 });
    const before = { ...gpu.counters };
    for (let i = 0; i < 4; i++) expect(await t.trainStep()).toBeNull();
    expect(gpu.counters.submits - before.submits).toBe(4);
    expect(gpu.counters.readbacks - before.readbacks).toBe(0);
    expect(gpu.counters.buffersCreated - before.buffersCreated).toBe(0);
    expect(gpu.counters.bindGroupsCreated - before.bindGroupsCreated).toBe(0);
    expect(gpu.counters.pipelinesCompiled - before.pipelinesCompiled).toBe(0);
    const stats = await t.trainStep();
    expect(stats).not.toBeNull();
    expect(gpu.counters.submits - before.submits).toBe(5);
    expect(gpu.counters.readbacks - before.readbacks).toBe(1);
    const snap = await stats!.stats;
    expect(snap.steps).toBe(5);
    expect(snap.trainLoss).toBeGreaterThan(0);
    expect(snap.valLoss).toBeGreaterThan(0);
    // The next window starts from cleared statistics.
    for (let i = 0; i < 4; i++) await t.trainStep();
    const snap2 = await (await t.trainStep())!.stats;
    expect(snap2.steps).toBe(5);
    expect(snap2.step).toBe(10);
    t.destroy();
  });
});

/** Two overlapping Gaussian classes in d dimensions; `minority` of the training set is class 1. */
function blobs(rng: Rng, n: number, d: number, minority: number) {
  const x = new Float32Array(n * d);
  const y = new Uint32Array(n);
  const n1 = Math.round(n * minority);
  for (let i = 0; i < n; i++) {
    y[i] = i < n1 ? 1 : 0;
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() + (j < 4 ? (y[i] ? 0.6 : -0.6) : 0);
  }
  return { x, y, n, dim: d };
}

describe('learning', () => {
  it('on a seeded imbalanced problem L2RW reaches lower balanced test error than plain SGD in 300 steps', async () => {
    const gpu = await testGpu();
    const rng = new Rng(2024);
    const d = 16;
    const data = { train: blobs(rng, 2000, d, 0.02), clean: blobs(rng, 10, d, 0.5), test: blobs(rng, 2000, d, 0.5) };
    const spec = mlpSpec(d, [32], 2);
    const errors: Record<string, number> = {};
    for (const method of ['plain', 'l2rw'] as const) {
      const t = await Trainer.create(gpu, spec, data, { method, steps: 300, batch: 50, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, seed: 1, logEvery: 100 });
      for (let i = 0; i < 300; i++) {
        const s = await t.trainStep();
        if (s) await s.stats;
      }
      errors[method] = (await t.evaluate('test')).error;
      t.destroy();
    }
    console.log('balanced test error after 300 steps:', errors);
    expect(errors.l2rw).toBeLessThan(errors.plain);
  });
});
