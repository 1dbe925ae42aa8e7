// The baselines run on the same engine: each method's weight rule and sampling, checked on the GPU.
import { describe, expect, it } from 'vitest';
import { mlpSpec } from '../../src/train/models';
import { ParamLayout } from '../../src/train/param_layout';
import { IndexStream } from '../../src/train/sampler';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { backwardBatch, forwardBatch } from '../reference/graph';
import { bootstrapRef } from '../reference/softmax_xent';

const D = 6;
const spec = mlpSpec(D, [8], 3);

/** n examples, class c with probability probs[c]. */
function dataset(rng: Rng, n: number, probs: number[]) {
  const y = Uint32Array.from({ length: n }, () => {
    let u = rng.next();
    let c = 0;
    while (c < probs.length - 1 && u >= probs[c]) u -= probs[c++];
    return c;
  });
  return { x: rng.normals(n * D), y, n, dim: D };
}

async function run(method: TrainConfig['method'], steps: number, extra: Partial<TrainConfig> = {}) {
  const gpu = await testGpu();
  const rng = new Rng(77);
  const data = { train: dataset(rng, 400, [0.8, 0.15, 0.05]), clean: dataset(rng, 9, [1 / 3, 1 / 3, 1 / 3]) };
  const t = await Trainer.create(gpu, spec, data, { method, steps, batch: 40, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 3, logEvery: 1000, ...extra });
  return { t, data };
}

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('baseline weight rules on the GPU', () => {
  it('plain: uniform 1/n', async () => {
    const { t } = await run('plain', 5);
    await t.trainStep();
    const b = await t.inspectLastBatch();
    expectClose(b.weights, new Array(40).fill(1 / 40), { atol: 0, rtol: 1e-6 }, 'w');
    t.destroy();
  });

  it('proportion: w_i ∝ 1 / (training-set count of class y_i), normalised per batch', async () => {
    const { t, data } = await run('proportion', 5);
    await t.trainStep();
    const b = await t.inspectLastBatch();
    const counts = [0, 0, 0];
    data.train.y.forEach((y) => counts[y]++);
    const raw = Array.from(b.indices, (i) => 1 / counts[data.train.y[i]]);
    const total = sum(raw);
    expectClose(b.weights, raw.map((v) => v / total), { atol: 0, rtol: 1e-5 }, 'w');
    t.destroy();
  });

  it('hardmining: the ceil(keep·n) highest-loss examples get 1/k each, the rest 0', async () => {
    const { t } = await run('hardmining', 5, { hardMiningKeep: 0.25 });
    for (let s = 0; s < 3; s++) await t.trainStep();
    const b = await t.inspectLastBatch();
    const k = 10;
    const order = Array.from(b.losses, (l, i) => [l, i] as const).sort((a, c) => c[0] - a[0] || a[1] - c[1]);
    const expected = new Array(40).fill(0);
    for (const [, i] of order.slice(0, k)) expected[i] = 1 / k;
    expectClose(b.weights, expected, { atol: 0, rtol: 1e-6 }, 'w');
    t.destroy();
  });

  it('random: rectified Gaussian, normalised, new every step, reproducible under the seed', async () => {
    const a = await run('random', 5);
    const b = await run('random', 5);
    const seen: Float32Array[] = [];
    for (let s = 0; s < 2; s++) {
      await a.t.trainStep();
      await b.t.trainStep();
      const wa = (await a.t.inspectLastBatch()).weights;
      const wb = (await b.t.inspectLastBatch()).weights;
      expect(Array.from(wa)).toEqual(Array.from(wb));
      expect(Math.abs(sum(wa) - 1)).toBeLessThan(1e-5);
      const zeros = Array.from(wa).filter((v) => v === 0).length;
      // About half of N(0,1) draws are negative: 40 draws give 8..32 zeros with overwhelming probability.
      expect(zeros).toBeGreaterThan(8);
      expect(zeros).toBeLessThan(32);
      seen.push(wa);
    }
    expect(Array.from(seen[0])).not.toEqual(Array.from(seen[1]));
    a.t.destroy();
    b.t.destroy();
  });

  it('resample: class-balanced minibatches with uniform weights', async () => {
    const { t, data } = await run('resample', 20);
    const counts = [0, 0, 0];
    for (let s = 0; s < 20; s++) {
      await t.trainStep();
      const b = await t.inspectLastBatch();
      b.indices.forEach((i) => counts[data.train.y[i]]++);
    }
    // 800 draws, each class with probability 1/3 (the training set is 80/15/5).
    for (const c of counts) expect(c / 800).toBeGreaterThan(0.27);
    t.destroy();
  });

  it('clean-only: minibatches from the clean set alone', async () => {
    const { t } = await run('clean-only', 5);
    await t.trainStep();
    const b = await t.inspectLastBatch();
    expect(b.indices.length).toBe(9);
    expect([...b.indices].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expectClose(b.weights, new Array(9).fill(1 / 9), { atol: 0, rtol: 1e-6 }, 'w');
    t.destroy();
  });

  it('finetune: training-set minibatches, then the clean set for the last finetuneSteps', async () => {
    const { t } = await run('finetune', 6, { finetuneSteps: 2 });
    const sizes: number[] = [];
    for (let s = 0; s < 6; s++) {
      await t.trainStep();
      sizes.push((await t.inspectLastBatch()).indices.length);
    }
    expect(sizes).toEqual([40, 40, 40, 40, 9, 9]);
    t.destroy();
  });
});

describe('statistics', () => {
  it('flaggedWeight is the weight the batch gives to flagged (e.g. mislabelled) examples', async () => {
    const gpu = await testGpu();
    const rng = new Rng(5);
    const train = dataset(rng, 400, [0.5, 0.3, 0.2]);
    const trainFlags = Uint8Array.from(train.y, (y) => (y === 0 ? 1 : 0));
    const t = await Trainer.create(gpu, spec, { train, clean: dataset(rng, 9, [1 / 3, 1 / 3, 1 / 3]), trainFlags }, {
      method: 'plain', steps: 1, batch: 40, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 3, logEvery: 1,
    });
    const snap = await (await t.trainStep())!.stats;
    const b = await t.inspectLastBatch();
    const expected = Array.from(b.indices).reduce((a, i, j) => a + (trainFlags[i] ? b.weights[j] : 0), 0);
    expect(expected).toBeGreaterThan(0.2);
    expect(Math.abs(snap.flaggedWeight - expected)).toBeLessThan(1e-5);
    t.destroy();
  });
});

describe('sampler', () => {
  it('shuffle: every epoch is a permutation of the dataset', () => {
    const s = new IndexStream(new Uint32Array(10), 'shuffle', 1);
    for (let e = 0; e < 3; e++) expect([...s.take(10)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('is deterministic under its seed', () => {
    const labels = Uint32Array.from({ length: 50 }, (_, i) => i % 3);
    for (const mode of ['shuffle', 'balanced'] as const) {
      expect([...new IndexStream(labels, mode, 4).take(120)]).toEqual([...new IndexStream(labels, mode, 4).take(120)]);
      expect([...new IndexStream(labels, mode, 4).take(120)]).not.toEqual([...new IndexStream(labels, mode, 5).take(120)]);
    }
  });
});

describe('learning-rate schedule', () => {
  it('step decay: identical until the decay step, then a step of factor x the size', async () => {
    // Momentum 0 and no weight decay make the update exactly θ ← θ − lr·g, so the step taken after
    // the decay is the undecayed step scaled by the factor (same θ, same batch, same gradient).
    const opts = { momentum: 0, lr: 0.05 };
    const decayed = (await run('plain', 3, { ...opts, lrDecay: { atSteps: [2], factor: 0.25 } })).t;
    const constant = (await run('plain', 3, opts)).t;
    expect(decayed.learningRateAt(1)).toBe(0.05);
    expect(decayed.learningRateAt(2)).toBe(0.0125);
    for (let s = 0; s < 2; s++) {
      await decayed.trainStep();
      await constant.trainStep();
    }
    const before = await decayed.model.readParams();
    expect(Array.from(await constant.model.readParams())).toEqual(Array.from(before));
    await decayed.trainStep();
    await constant.trainStep();
    const after = await decayed.model.readParams();
    const full = await constant.model.readParams();
    const stepDecayed = after.map((v, i) => v - before[i]);
    const stepFull = full.map((v, i) => 0.25 * (v - before[i]));
    expect(Math.max(...stepFull.map(Math.abs))).toBeGreaterThan(1e-3); // the step is not trivially zero
    // Each difference of two f32 parameters near 1 carries up to ~1.2e-7 of rounding.
    expectClose(stepDecayed, stepFull, { atol: 3e-7, rtol: 1e-4 }, 'Δθ');
    decayed.destroy();
    constant.destroy();
  });
});

describe('weight decay groups', () => {
  it('decayBiases false: the bias update loses exactly its decay term, the weight update is unchanged', async () => {
    const gpu = await testGpu();
    const rng = new Rng(5);
    const data = { train: dataset(rng, 40, [0.5, 0.3, 0.2]), clean: dataset(rng, 3, [1 / 3, 1 / 3, 1 / 3]) };
    const layout = new ParamLayout(spec);
    // Non-zero biases, so that their decay term lr·wd·b is visible.
    const theta0 = rng.normals(layout.denseSize);
    const lr = 0.1;
    const wd = 0.5;
    const step = async (decayBiases: boolean) => {
      const t = await Trainer.create(gpu, spec, data, { method: 'plain', steps: 1, batch: 40, lr, momentum: 0, weightDecay: wd, decayBiases, seed: 1, logEvery: 10 }, { params: theta0 });
      await t.trainStep();
      const theta1 = await t.model.readParams();
      t.destroy();
      return theta1;
    };
    const [all, weightsOnly] = [await step(true), await step(false)];
    for (const slot of layout.tensors) {
      for (let i = slot.denseOffset; i < slot.denseOffset + slot.size; i++) {
        // SGD without momentum: θ1 = θ0 − lr (g + wd θ0); dropping the decay adds lr·wd·θ0 back.
        const expected = slot.name.endsWith('.bias') ? all[i] + lr * wd * theta0[i] : all[i];
        expect(Math.abs(weightsOnly[i] - expected)).toBeLessThanOrEqual(4e-7 * (1 + Math.abs(expected)));
      }
    }
    expect(layout.tensors.some((t) => t.name.endsWith('.bias'))).toBe(true);
  });
});

describe('bootstrapping (Reed et al.)', () => {
  for (const [method, kind, beta] of [['bootstrap-soft', 'soft', 0.95], ['bootstrap-hard', 'hard', 0.8]] as const) {
    it(`${method}: the update is the backpropagated bootstrapped loss gradient (β = ${beta}), uniform weights`, async () => {
      const gpu = await testGpu();
      const rng = new Rng(21);
      const data = { train: dataset(rng, 40, [0.4, 0.4, 0.2]), clean: dataset(rng, 3, [1 / 3, 1 / 3, 1 / 3]) };
      const layout = new ParamLayout(spec);
      const theta0 = Float32Array.from(rng.normals(layout.denseSize), (v) => 0.5 * v);
      const lr = 0.1;
      const t = await Trainer.create(gpu, spec, data, { method, steps: 1, batch: 40, lr, momentum: 0, weightDecay: 0, seed: 1, logEvery: 10 }, { params: theta0 });
      await t.trainStep();
      const b = await t.inspectLastBatch();
      const X = new Float32Array(40 * D);
      b.indices.forEach((j, i) => X.set(data.train.x.subarray(j * D, (j + 1) * D), i * D));
      const y = Uint32Array.from(b.indices, (j) => data.train.y[j]);
      const fwd = forwardBatch(spec, theta0, X);
      const ref = bootstrapRef(fwd.logits, y, new Float64Array(40).fill(1 / 40), 40, 3, kind, beta);
      expectClose(b.losses, ref.loss, { atol: 1e-6, rtol: 1e-5 }, `${method} losses`);
      const grad = backwardBatch(spec, theta0, fwd, ref.dlogits).grad;
      const theta1 = await t.model.readParams();
      const want = Float64Array.from(theta0, (v, i) => v - lr * grad[i]);
      expectClose(theta1.map((v, i) => v - theta0[i]), want.map((v, i) => v - theta0[i]), { atol: 1e-7, rtol: 1e-4 }, `${method} Δθ`);
      t.destroy();
    });
  }
});
