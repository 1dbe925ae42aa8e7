// The trainer's input transforms: per-channel normalisation equals training on normalised data, and GPU
// augmentation is seeded (the same run twice is identical) and changes what is trained on.
import { describe, expect, it } from 'vitest';
import { lenetSpec } from '../../src/train/models';
import { Trainer, type TrainConfig, type TrainData } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';

const spec = lenetSpec(3, 'lenet5', [2, 12, 12]);
const DIM = 2 * 12 * 12;

function data(seed: number): TrainData & { train: { x: Float32Array } } {
  const rng = new Rng(seed);
  const split = (n: number) => ({ x: Float32Array.from({ length: n * DIM }, () => rng.next()), y: Uint32Array.from({ length: n }, () => rng.int(3)), n, dim: DIM });
  return { train: split(24), clean: split(6), test: split(10) };
}

const base: TrainConfig = { method: 'l2rw', steps: 10, batch: 8, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, seed: 4, logEvery: 100 };

async function train(d: TrainData, extra: Partial<TrainConfig>, steps = 3): Promise<{ params: Float32Array; test: { error: number; loss: number } }> {
  const gpu = await testGpu();
  const t = await Trainer.create(gpu, spec, d, { ...base, ...extra });
  for (let i = 0; i < steps; i++) await t.trainStep();
  const out = { params: await t.model.readParams(), test: await t.evaluate('test') };
  t.destroy();
  return out;
}

describe('input transforms', () => {
  it('normalize: the same run as on data normalised on the host, evaluation included', async () => {
    const mean = [0.4, 0.6];
    const std = [0.25, 0.5];
    const raw = data(1);
    // The kernel computes (x − mean) · (1/std) in fp32; the host does the same.
    const normalise = (s: { x: Float32Array | Uint8Array; y: Uint32Array; n: number; dim: number }) => ({
      ...s,
      x: Float32Array.from(s.x as Float32Array, (v, i) => {
        const c = Math.floor((i % DIM) / 144);
        return Math.fround(Math.fround(v - Math.fround(mean[c])) * Math.fround(1 / std[c]));
      }),
    });
    const host = { train: normalise(raw.train), clean: normalise(raw.clean), test: normalise(raw.test!) };
    const a = await train(raw, { normalize: { mean, std } });
    const b = await train(host, {});
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(a.test).toEqual(b.test);
  });

  it('augment: seeded and deterministic, and it changes the training batches', async () => {
    const d = data(2);
    const [a, b, none] = [await train(d, { augment: { pad: 2 } }), await train(d, { augment: { pad: 2 } }), await train(d, {})];
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(Array.from(a.params)).not.toEqual(Array.from(none.params));
  });

  it('refuses augmentation of vector inputs and a normalisation of the wrong width', async () => {
    const gpu = await testGpu();
    const d = data(3);
    const live = gpu.counters.liveBuffers;
    await expect(Trainer.create(gpu, spec, d, { ...base, normalize: { mean: [0.5], std: [0.2] } })).rejects.toThrow(/2 mean and std value/);
    await expect(Trainer.create(gpu, spec, d, { ...base, augment: { pad: -1 } })).rejects.toThrow(/augment.pad/);
    await expect(Trainer.create(gpu, lenetSpec(3, 'caffe', [1, 28, 28]), { ...d, train: { ...d.train, dim: 784, n: 0 } }, base)).rejects.toThrow(/empty/);
    // A refused configuration leaves no buffer behind.
    expect(gpu.counters.liveBuffers).toBe(live);
  });
});
