// The L2RW engine on the GPU against the literal float64 Algorithm 1 (explicit per-example gradients).
import { describe, expect, it } from 'vitest';
import { lenetSpec, mlpSpec } from '../../src/train/models';
import { useGramForm } from '../../src/train/ops/dense';
import { numClasses, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Trainer } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { alignments, epsGradFiniteDiff, l2rwStep } from '../reference/l2rw';
import { tinyConv, tinyMlp } from '../helpers/specs';
import { maxAbs, permuted, problemTrainer, randomProblem, type Problem } from '../helpers/l2rw_problem';

const lenet2 = lenetSpec(2);
/** Both ways the engine computes L2RW (TrainConfig.l2rwPath): they must agree with the reference alike. */
const PATHS = ['fast', 'general'] as const;

/** A random problem; `flipVal`: the δ guard's case (see below). */
function problemFor(spec: ModelSpec, seed: number, n: number, m: number, opts: { trainClasses?: readonly number[]; flipVal?: boolean } = {}): Problem {
  const p = randomProblem(spec, seed, n, m, { trainClasses: opts.trainClasses });
  if (!opts.flipVal) return p;
  // Every training row is one image x with label y, every clean row x with the other label of a
  // two-class model: at x the two losses' logit gradients are opposite (p − e_y = −(p_y/p_{1−y})·
  // (p − e_{1−y})), so every ∇f_i is a negative multiple of g and s_i < 0: the δ guard's case.
  if (numClasses(spec) !== 2) throw new Error('flipVal needs a two-class model');
  const d = shapeSize(spec.input);
  for (let i = 1; i < n; i++) p.Xf.copyWithin(i * d, 0, d);
  p.yf.fill(p.yf[0]);
  return { ...p, Xg: p.Xf.slice(0, m * d), yg: new Uint32Array(m).fill(1 - p.yf[0]) };
}

const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };

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
      const p = problemFor(spec, 11, n, m);
      const t = await problemTrainer(gpu, p, { ...SGD, l2rwPath });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, b.indices);
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
      const p = problemFor(spec, 23, n, m);
      const t = await problemTrainer(gpu, p, { ...SGD, l2rwPath });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, b.indices);
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
    const p = problemFor(spec, 3, 6, 6, { flipVal: true });
    const t = await problemTrainer(gpu, p, { ...SGD, weightDecay: 0 });
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
      const p = problemFor(tinyMlp, 7, 33, m, opts);
      const t = await problemTrainer(gpu, p, { ...SGD });
      for (let step = 0; step < 3; step++) {
        await t.trainStep();
        const b = await t.inspectLastBatch();
        const { X, y } = permuted(p, b.indices);
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
    const p = problemFor(tinyConv, 9, 12, 4);
    const ws: Float32Array[] = [];
    for (const lookaheadAlpha of [1e-3, 1, 1e3]) {
      const t = await problemTrainer(gpu, p, { ...SGD, lookaheadAlpha });
      await t.trainStep();
      ws.push((await t.inspectLastBatch()).weights);
      t.destroy();
    }
    // One fp32 multiply by α per score, then the same normalisation: a few ulps.
    expectClose(ws[0], ws[1], { atol: 1e-7, rtol: 1e-6 }, 'α = 1e-3 vs 1');
    expectClose(ws[2], ws[1], { atol: 1e-7, rtol: 1e-6 }, 'α = 1e3 vs 1');
    await expect(problemTrainer(gpu, p, { ...SGD, lookaheadAlpha: 0 })).rejects.toThrow(/lookahead step size/);
  });
});

describe('scheduler', () => {
  it('exactly 1 submit and 0 readbacks per step between logging points', async () => {
    const gpu = await testGpu();
    const p = problemFor(tinyConv, 5, 16, 4);
    const t = await problemTrainer(gpu, p, { ...SGD, batch: 8, logEvery: 5 });
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
