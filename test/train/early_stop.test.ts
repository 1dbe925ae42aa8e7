// Early stopping kept on the GPU: trackBest() keeps the model with the best clean-set score (fewer
// errors, then lower loss, then the earlier one) without a readback, and restoreBest() puts it back.
import { describe, expect, it } from 'vitest';
import { mlpSpec } from '../../src/train/models';
import { Trainer } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';

function blobs(rng: Rng, n: number, d: number) {
  const x = new Float32Array(n * d);
  const y = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(3);
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() + (j === y[i] ? 1.5 : 0);
  }
  return { x, y, n, dim: d };
}

describe('early stopping', () => {
  it('keeps the best clean-set model through training and a deliberately ruined model, with no readback', async () => {
    const gpu = await testGpu();
    const rng = new Rng(12);
    const data = { train: blobs(rng, 300, 6), clean: blobs(rng, 30, 6), test: blobs(rng, 100, 6) };
    const t = await Trainer.create(gpu, mlpSpec(6, [8], 3), data, { method: 'early-stop', steps: 200, batch: 20, lr: 0.2, momentum: 0.9, weightDecay: 0, seed: 2, logEvery: 1000 });
    expect(t.selectsOnClean).toBe(true);
    const seen: { errors: number; loss: number; params: Float32Array }[] = [];
    const snapshot = async () => {
      const readbacks = gpu.counters.readbacks;
      t.trackBest();
      expect(gpu.counters.readbacks).toBe(readbacks);
      const clean = await t.evaluate('clean');
      seen.push({ errors: Math.round(clean.error * clean.n), loss: clean.loss, params: await t.model.readParams() });
    };
    for (let i = 0; i < 6; i++) {
      for (let s = 0; s < 5; s++) await t.trainStep();
      await snapshot();
    }
    // A model far worse than any seen: it must not replace the kept one.
    t.model.writeParams(new Float32Array(t.model.layout.denseSize).map((_, i) => (i % 7) - 3));
    await snapshot();
    let best = 0;
    seen.forEach((p, i) => {
      if (p.errors < seen[best].errors || (p.errors === seen[best].errors && p.loss < seen[best].loss)) best = i;
    });
    expect(best).toBeLessThan(seen.length - 1);
    expect(await t.restoreBest()).toBe(true);
    expect(Array.from(await t.model.readParams())).toEqual(Array.from(seen[best].params));
    t.destroy();
  });

  it('restoreBest() without trackBest() keeps the current model', async () => {
    const gpu = await testGpu();
    const rng = new Rng(3);
    const data = { train: blobs(rng, 40, 4), clean: blobs(rng, 6, 4) };
    const t = await Trainer.create(gpu, mlpSpec(4, [5], 3), data, { method: 'early-stop', steps: 5, batch: 10, lr: 0.1, momentum: 0, weightDecay: 0, seed: 1, logEvery: 100 });
    await t.trainStep();
    const before = await t.model.readParams();
    expect(await t.restoreBest()).toBe(false);
    expect(Array.from(await t.model.readParams())).toEqual(Array.from(before));
    t.destroy();
  });
});
