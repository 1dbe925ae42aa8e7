// The graph engine on models that are not chains: a skip connection (a tensor with two consumers, a
// ReLU after an add), and the same graph with a test-only op that couples the examples of a batch.
// Both L2RW paths against the literal float64 Algorithm 1; the general path must be the one taken
// when examples are coupled. Also: the engine frees every GPU buffer it makes.
import './ops/center'; // registers the GPU `center` op before the reference's stand-in can
import { describe, expect, it } from 'vitest';
import { lenetSpec } from '../../src/train/models';
import { shapeSize } from '../../src/train/spec';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectStepsMatchReference, maxAbs, permuted, problemTrainer, randomProblem } from '../helpers/l2rw_problem';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { skipGraph } from '../helpers/specs';
import { batchGrad } from '../reference/graph';
import { alignments, decayMask, epsGradFiniteDiff, sgdMomentumStep } from '../reference/l2rw';
import '../reference/ops/center';

const SKIP = skipGraph(false);
const SKIP_CENTER = skipGraph(true);
const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };

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
      const p = randomProblem(spec, 31, 6, 3);
      const t = await problemTrainer(gpu, p, { ...SGD, l2rwPath });
      expect(t.generalPath).toBe(l2rwPath !== 'fast');
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, b.indices);
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
      const p = randomProblem(spec, 37, 7, 3);
      const t = await problemTrainer(gpu, p, { ...SGD, l2rwPath });
      await expectStepsMatchReference(t, p, SGD, 3, { update: (ref) => ({ atol: 1e-4 * maxAbs(ref), rtol: 1e-3 }), weights: { atol: 1e-5, rtol: 1e-3 } }, name);
      t.destroy();
    });
  }

  for (const method of ['plain', 'proportion', 'hardmining', 'random'] as const) {
    it(`${method} on the coupled graph: the update is the gradient of Σ w_i f_i through the whole batch`, async () => {
      const gpu = await testGpu();
      const p = randomProblem(SKIP_CENTER, 41, 7, 3);
      const t = await problemTrainer(gpu, p, { ...SGD, method });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const { X, y } = permuted(p, b.indices);
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
    const p = randomProblem(SKIP_CENTER, 3, 4, 2);
    await expect(problemTrainer(gpu, p, { ...SGD, l2rwPath: 'fast' })).rejects.toThrow(/couples the examples/);
    const t = await problemTrainer(gpu, p, { ...SGD });
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
