// The graph engine on models that are not chains: a skip connection (a tensor with two consumers, a
// ReLU after an add), and the same graph with a test-only op that couples the examples of a batch.
// Both L2RW paths against the literal float64 Algorithm 1; the general path must be the one taken
// when examples are coupled. Also: the engine frees every GPU buffer it makes.
import './ops/center'; // registers the GPU `center` op before the reference's stand-in can
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu';
import { lenetSpec } from '../../src/train/models';
import { numClasses, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { skipGraph } from '../helpers/specs';
import { batchGrad } from '../reference/graph';
import { alignments, decayMask, epsGradFiniteDiff, initParams, l2rwStep, sgdMomentumStep } from '../reference/l2rw';
import '../reference/ops/center';

const SKIP = skipGraph(false);
const SKIP_CENTER = skipGraph(true);
const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };

interface Problem {
  theta: Float32Array;
  Xf: Float32Array;
  yf: Uint32Array;
  Xg: Float32Array;
  yg: Uint32Array;
}

function problem(spec: ModelSpec, seed: number, n: number, m: number): Problem {
  const rng = new Rng(seed);
  const d = shapeSize(spec.input);
  const K = numClasses(spec);
  return {
    theta: Float32Array.from(initParams(spec, rng, { biasStd: 0.1 })),
    Xf: rng.normals(n * d),
    yf: Uint32Array.from({ length: n }, () => rng.int(K)),
    Xg: rng.normals(m * d),
    yg: Uint32Array.from({ length: m }, () => rng.int(K)),
  };
}

function trainer(gpu: Gpu, spec: ModelSpec, p: Problem, extra: Partial<TrainConfig> = {}): Promise<Trainer> {
  const d = shapeSize(spec.input);
  return Trainer.create(
    gpu,
    spec,
    { train: { x: p.Xf, y: p.yf, n: p.yf.length, dim: d }, clean: { x: p.Xg, y: p.yg, n: p.yg.length, dim: d } },
    { method: 'l2rw', steps: 100, batch: p.yf.length, valBatch: p.yg.length, seed: 5, logEvery: 1000, ...SGD, ...extra },
    { params: p.theta },
  );
}

/** The training rows in the order the GPU's minibatch took them. */
function permuted(p: Problem, spec: ModelSpec, idx: Uint32Array): { X: Float32Array; y: Uint32Array } {
  const d = shapeSize(spec.input);
  const X = new Float32Array(idx.length * d);
  idx.forEach((j, i) => X.set(p.Xf.subarray(j * d, (j + 1) * d), i * d));
  return { X, y: Uint32Array.from(idx, (j) => p.yf[j]) };
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
// fp32 sums of a few hundred products per alignment (see l2rw_step.test.ts for the reasoning).
const sTol = (ref: ArrayLike<number>) => ({ atol: 1e-4 * maxAbs(ref), rtol: 1e-3 });

describe('a graph with a skip connection and a coupling op', () => {
  const cases = [
    ['skip connection', SKIP, 'fast'],
    ['skip connection', SKIP, 'general'],
    ['skip connection + center (coupled)', SKIP_CENTER, 'auto'],
  ] as const;
  for (const [name, spec, l2rwPath] of cases) {
    it(`${name}, ${l2rwPath} path: alignments vs literal per-example gradients and finite differences`, async () => {
      const gpu = await testGpu();
      const p = problem(spec, 31, 6, 3);
      const t = await trainer(gpu, spec, p, { l2rwPath });
      expect(t.generalPath).toBe(l2rwPath !== 'fast');
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, spec, b.indices);
      const ref = alignments(spec, p.theta, X, y, p.Xg, p.yg);
      expectClose(b.alignments!, ref, sTol(ref), `${name} s`);
      // ∂/∂ε_i L_val(θ − α Σ ε_i ∇f_i) = −α s_i, by central differences of the float64 model.
      const alpha = 0.5;
      const fd = epsGradFiniteDiff(spec, p.theta, X, y, p.Xg, p.yg, alpha, 1e-5);
      const worst = Math.max(...Array.from(fd, (v, i) => Math.abs(v + alpha * b.alignments![i]))) / maxAbs(fd);
      expect(worst).toBeLessThan(1e-3);
      t.destroy();
    });

    it(`${name}, ${l2rwPath} path: three whole steps match the literal float64 Algorithm 1`, async () => {
      const gpu = await testGpu();
      const p = problem(spec, 37, 7, 3);
      const t = await trainer(gpu, spec, p, { l2rwPath });
      let theta: ArrayLike<number> = p.theta;
      let velocity: ArrayLike<number> = new Float64Array(p.theta.length);
      for (let step = 0; step < 3; step++) {
        await t.trainStep();
        const b = await t.inspectLastBatch();
        const { X, y } = permuted(p, spec, b.indices);
        // Each step starts from the GPU's parameters, so fp32 rounding does not compound.
        const ref = l2rwStep(spec, theta, velocity, X, y, p.Xg, p.yg, SGD);
        const margin = 1e-3 * maxAbs(ref.s);
        if (Array.from(ref.s).every((s) => Math.abs(s) > margin)) expectClose(b.weights, ref.w, { atol: 1e-5, rtol: 1e-3 }, `${name} w, step ${step}`);
        const next = await t.model.readParams();
        const dGpu = next.map((v, i) => v - theta[i]);
        const dRef = ref.theta.map((v, i) => v - theta[i]);
        expectClose(dGpu, dRef, { atol: 1e-4 * maxAbs(dRef), rtol: 1e-3 }, `${name} Δθ, step ${step}`);
        const v = await t.model.readVelocity();
        expectClose(v, ref.velocity, { atol: 1e-4 * maxAbs(ref.velocity), rtol: 1e-3 }, `${name} velocity, step ${step}`);
        theta = next;
        velocity = v;
      }
      t.destroy();
    });
  }

  for (const method of ['plain', 'proportion', 'hardmining', 'random'] as const) {
    it(`${method} on the coupled graph: the update is the gradient of Σ w_i f_i through the whole batch`, async () => {
      const gpu = await testGpu();
      const p = problem(SKIP_CENTER, 41, 7, 3);
      const t = await trainer(gpu, SKIP_CENTER, p, { method });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, SKIP_CENTER, b.indices);
      // Whatever the rule's weights, Σ w_i ∇f_i must be taken with the batch coupling (a weighted
      // backward pass), not from unit signals scaled afterwards.
      const grad = batchGrad(SKIP_CENTER, p.theta, X, y, b.weights);
      const ref = sgdMomentumStep(p.theta, new Float64Array(p.theta.length), grad, SGD, decayMask(SKIP_CENTER));
      const next = await t.model.readParams();
      const dRef = ref.theta.map((v, i) => v - p.theta[i]);
      expectClose(next.map((v, i) => v - p.theta[i]), dRef, { atol: 1e-4 * maxAbs(dRef), rtol: 1e-3 }, `${method} Δθ`);
      t.destroy();
    });
  }

  it('a model that couples examples never takes the fast path', async () => {
    const gpu = await testGpu();
    const p = problem(SKIP_CENTER, 3, 4, 2);
    await expect(trainer(gpu, SKIP_CENTER, p, { l2rwPath: 'fast' })).rejects.toThrow(/couples the examples/);
    const t = await trainer(gpu, SKIP_CENTER, p);
    expect(t.generalPath).toBe(true);
    const names = t.stepGroups().find((g) => g.name === '10 alignments')!.dispatches.map((d) => d.label);
    expect(names.some((l) => l.includes('.tan.'))).toBe(true);
    expect(names.some((l) => l.includes('.align.'))).toBe(false);
    t.destroy();
  });
});

describe('GPU memory', () => {
  it('20 create/train/evaluate/destroy cycles of a LeNet L2RW trainer leave the live buffers and bytes where they started', async () => {
    const gpu = await testGpu();
    const spec = lenetSpec(2);
    const rng = new Rng(8);
    const d = shapeSize(spec.input);
    const split = (n: number) => ({ x: Uint8Array.from({ length: n * d }, () => rng.int(256)), y: Uint32Array.from({ length: n }, () => rng.int(2)), n, dim: d });
    const data = { train: split(60), clean: split(10), test: split(30) };
    const config: TrainConfig = { method: 'l2rw', steps: 3, batch: 20, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, seed: 1, logEvery: 3 };
    // One cycle first: pipelines and the device's own objects are made once per device, not per trainer.
    const cycle = async (general: boolean) => {
      const t = await Trainer.create(gpu, spec, data, { ...config, l2rwPath: general ? 'general' : 'fast' });
      for (let i = 0; i < 3; i++) {
        const s = await t.trainStep();
        if (s) await s.stats;
      }
      await t.evaluate('test');
      await t.evaluate('clean');
      t.destroy();
    };
    await cycle(false);
    await gpu.idle();
    const before = { buffers: gpu.counters.liveBuffers, bytes: gpu.counters.liveBytes };
    for (let i = 0; i < 20; i++) await cycle(i % 2 === 1);
    await gpu.idle();
    expect({ buffers: gpu.counters.liveBuffers, bytes: gpu.counters.liveBytes }).toEqual(before);
  });
});
