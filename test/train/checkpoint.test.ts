// Checkpoints: a run interrupted at step s, written to disk, read into a fresh trainer and continued
// reaches bit-identical parameters, momentum, running statistics and statistics curves as the run
// that was never interrupted (an MLP on the fast L2RW path, a batch-normalised ResNet on the general
// one, with augmentation; interrupted between logging points, mid index chunk, during fine-tuning,
// after a learning-rate decay, with early stopping's kept model, with class-balanced sampling).
// Truncated or corrupted files, and states or checkpoints from another configuration, are refused.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu';
import { CheckpointError, checkpointMismatch, dataFingerprint, decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint, type CheckpointMeta } from '../../src/train/checkpoint';
import { mlpSpec, resnetSpec } from '../../src/train/models';
import { decodeSafetensors, encodeSafetensors, asF32 } from '../../src/train/safetensors';
import { IndexStream } from '../../src/train/sampler';
import type { ModelSpec } from '../../src/train/spec';
import type { StepStatsSnapshot } from '../../src/train/stats_reader';
import { Trainer, type TrainConfig, type TrainData, type TrainerState } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';

const dir = mkdtempSync(path.join(os.tmpdir(), 'l2rw-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Gaussian blobs, one per class, in `dim` dimensions (float inputs). */
function blobs(rng: Rng, n: number, dim: number, classes: number) {
  const x = new Float32Array(n * dim);
  const y = Uint32Array.from({ length: n }, () => rng.int(classes));
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) x[i * dim + j] = rng.normal() + (j % classes === y[i] ? 1.5 : 0);
  return { x, y, n, dim };
}

/** Byte images [3, 8, 8] whose brightness depends on the class. */
function images(rng: Rng, n: number, classes: number) {
  const dim = 3 * 8 * 8;
  const y = Uint32Array.from({ length: n }, () => rng.int(classes));
  const x = Uint8Array.from({ length: n * dim }, (_, k) => Math.max(0, Math.min(255, Math.round(80 * y[Math.floor(k / dim)] + 60 * rng.normal() + 40))));
  return { x, y, n, dim };
}

const mlpData = (): TrainData => {
  const rng = new Rng(21);
  const train = blobs(rng, 50, 6, 3);
  return { train, clean: blobs(rng, 9, 6, 3), test: blobs(rng, 30, 6, 3), trainFlags: Uint8Array.from({ length: 50 }, (_, i) => i % 5 === 0 ? 1 : 0) };
};
const MLP = mlpSpec(6, [8, 5], 3);
const MLP_BASE: TrainConfig = { method: 'l2rw', steps: 12, batch: 10, lr: 0.1, momentum: 0.9, weightDecay: 1e-3, seed: 4, logEvery: 3, indexChunk: 4 };

const resnetData = (): TrainData => {
  const rng = new Rng(8);
  return { train: images(rng, 24, 3), clean: images(rng, 6, 3), test: images(rng, 10, 3) };
};
const RESNET = resnetSpec(8, 3, [3, 8, 8], { width: 2 });
const RESNET_BASE: TrainConfig = {
  method: 'l2rw', steps: 8, batch: 6, valBatch: 4, lr: 0.05, momentum: 0.9, weightDecay: 1e-3, decayBiases: false, seed: 3, logEvery: 2, indexChunk: 3,
  augment: { pad: 1 }, normalize: { mean: [0.4, 0.5, 0.45], std: [0.3, 0.25, 0.2] },
};

interface Run {
  params: Float32Array;
  velocity: Float32Array;
  state: Float32Array;
  /** Statistics snapshots after the interruption point. */
  stats: StepStatsSnapshot[];
  clean: { error: number; loss: number };
  best: Float32Array | null;
}

/** Steps [from, to) of a run; trackBest() after every `trackEvery` steps (early stopping). */
async function steps(t: Trainer, from: number, to: number, trackEvery?: number): Promise<StepStatsSnapshot[]> {
  const pending: Promise<StepStatsSnapshot>[] = [];
  for (let i = from; i < to; i++) {
    expect(t.step).toBe(i);
    const p = await t.trainStep();
    if (p) pending.push(p.stats);
    if (trackEvery && (i + 1) % trackEvery === 0) t.trackBest();
  }
  return Promise.all(pending);
}

async function finish(t: Trainer, stats: StepStatsSnapshot[], after: number): Promise<Run> {
  const run: Run = {
    params: await t.model.readParams(),
    velocity: await t.model.readVelocity(),
    state: await t.model.readState(),
    stats: stats.filter((s) => s.step > after),
    clean: await t.evaluate('clean'),
    best: null,
  };
  if (await t.restoreBest()) run.best = await t.model.readParams();
  return run;
}

const bits = (a: Float32Array | null) => (a ? Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)) : null);

function expectBitIdentical(resumed: Run, straight: Run, what: string) {
  expect(bits(resumed.params), `${what}: parameters`).toEqual(bits(straight.params));
  expect(bits(resumed.velocity), `${what}: momentum`).toEqual(bits(straight.velocity));
  expect(bits(resumed.state), `${what}: model state`).toEqual(bits(straight.state));
  expect(bits(resumed.best), `${what}: early stopping's kept model`).toEqual(bits(straight.best));
  expect(resumed.stats, `${what}: statistics curve`).toEqual(straight.stats);
  expect(resumed.clean, `${what}: clean evaluation`).toEqual(straight.clean);
}

interface ResumeCase {
  what: string;
  spec: ModelSpec;
  data: TrainData;
  config: TrainConfig;
  /** Interrupted after this many steps. */
  at: number;
  trackEvery?: number;
  check?: (t: Trainer, state: TrainerState) => void;
}

/** Trains straight through, then interrupted at `at` (checkpoint file, new trainer) and resumed; compares. */
async function expectResumeBitIdentical(gpu: Gpu, c: ResumeCase): Promise<void> {
  const live = gpu.counters.liveBuffers;
  const { steps: T } = c.config;
  const a = await Trainer.create(gpu, c.spec, c.data, c.config);
  const straight = await finish(a, await steps(a, 0, T, c.trackEvery), c.at);
  a.destroy();

  const b = await Trainer.create(gpu, c.spec, c.data, c.config);
  await steps(b, 0, c.at, c.trackEvery);
  const state = await b.saveState();
  c.check?.(b, state);
  const file = path.join(dir, `${c.what.replace(/\W+/g, '-')}.safetensors`);
  const meta: CheckpointMeta = { config: { model: c.spec.name, ...c.config }, data: dataFingerprint(c.data), extra: { curves: [{ step: c.at }] } };
  await writeCheckpoint(file, state, meta);
  b.destroy();

  // Another initialisation: everything must come from the checkpoint.
  const resumed = await Trainer.create(gpu, c.spec, c.data, c.config, { seed: 999 });
  const ck = await readCheckpoint(file);
  expect(checkpointMismatch(meta, ck.meta)).toBeNull();
  expect(ck.meta.extra).toEqual({ curves: [{ step: c.at }] });
  resumed.loadState(ck.state);
  expect(resumed.step).toBe(c.at);
  const run = await finish(resumed, await steps(resumed, c.at, T, c.trackEvery), c.at);
  resumed.destroy();
  expect(run.stats.length, `${c.what}: statistics after the interruption`).toBeGreaterThan(0);
  expectBitIdentical(run, straight, c.what);
  expect(gpu.counters.liveBuffers, `${c.what}: live buffers`).toBe(live);
}

describe('bit-identical resume from a checkpoint', () => {
  it('MLP, L2RW fast path, momentum: interrupted between logging points, mid index chunk, after the lr decay', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, {
      what: 'mlp l2rw decayed',
      spec: MLP,
      data: mlpData(),
      config: { ...MLP_BASE, lrDecay: { atSteps: [5, 9], factor: 0.3 } },
      at: 7,
      check: (t, state) => {
        expect(t.generalPath).toBe(false);
        expect(state.info.lr).toBe(0.1 * 0.3);
        expect(state.info.step).toBe(7);
        // The weights open under their own names.
        const names = t.model.layout.tensors.map((s) => s.name);
        expect(names).toContain('logits.weight');
        expect([...state.tensors.keys()].slice(0, names.length)).toEqual(names);
        expect(state.tensors.get('logits.weight')!.shape).toEqual([3, 5]);
      },
    });
  });

  it('MLP, L2RW then fine-tuning: interrupted during the fine-tune phase', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, {
      what: 'mlp l2rw-finetune',
      spec: MLP,
      data: mlpData(),
      config: { ...MLP_BASE, method: 'l2rw-finetune', finetuneSteps: 5 },
      at: 9,
      check: (_, state) => expect(state.info.phase).toBe(1),
    });
  });

  it('MLP, L2RW on the general path', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, { what: 'mlp l2rw general', spec: MLP, data: mlpData(), config: { ...MLP_BASE, l2rwPath: 'general', steps: 8 }, at: 5 });
  });

  it('MLP, plain SGD: a state saved before the first step', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, { what: 'mlp plain at 0', spec: MLP, data: mlpData(), config: { ...MLP_BASE, method: 'plain', steps: 5 }, at: 0 });
  });

  it('MLP, early stopping: the kept model and its score continue', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, {
      what: 'mlp early-stop',
      spec: MLP,
      data: mlpData(),
      // A learning rate raised tenfold after step 5: the best clean-set model (step 6 here) is kept
      // before the interruption, and the later ones are worse, so only a restored kept model and
      // score end the run right.
      config: { ...MLP_BASE, method: 'early-stop', lr: 0.3, lrDecay: { atSteps: [5], factor: 10 } },
      at: 9,
      trackEvery: 2,
      check: (_, state) => {
        expect(state.info.best).toBe(true);
        expect(state.tensors.has('best/score')).toBe(true);
      },
    });
  });

  it('MLP, class-balanced resampling and random weights (per-step draws)', async () => {
    const gpu = await testGpu();
    const data = mlpData();
    await expectResumeBitIdentical(gpu, { what: 'mlp resample', spec: MLP, data, config: { ...MLP_BASE, method: 'resample', steps: 8 }, at: 3 });
    await expectResumeBitIdentical(gpu, { what: 'mlp random', spec: MLP, data, config: { ...MLP_BASE, method: 'random', steps: 8 }, at: 4 });
  });

  it('ResNet with batch normalisation, L2RW general path, augmentation: running statistics continue', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, {
      what: 'resnet l2rw',
      spec: RESNET,
      data: resnetData(),
      config: { ...RESNET_BASE, lrDecay: { atSteps: [4], factor: 0.5 } },
      at: 5,
      check: (t, state) => {
        expect(t.generalPath).toBe(true);
        expect([...state.tensors.keys()].some((n) => n.endsWith('.running_var'))).toBe(true);
      },
    });
  });

  it('ResNet, L2RW then fine-tuning: interrupted during the fine-tune phase', async () => {
    const gpu = await testGpu();
    await expectResumeBitIdentical(gpu, {
      what: 'resnet l2rw-finetune',
      spec: RESNET,
      data: resnetData(),
      config: { ...RESNET_BASE, method: 'l2rw-finetune', finetuneSteps: 3 },
      at: 6,
      check: (_, state) => expect(state.info.phase).toBe(1),
    });
  });

  it('the comparison can fail: parameters alone (no momentum, sampler or step) do not resume the run', async () => {
    const gpu = await testGpu();
    const data = mlpData();
    const config = { ...MLP_BASE, steps: 8 };
    const a = await Trainer.create(gpu, MLP, data, config);
    await steps(a, 0, 8);
    const straight = await a.model.readParams();
    a.destroy();
    const b = await Trainer.create(gpu, MLP, data, config);
    await steps(b, 0, 5);
    const params = await b.model.readParams();
    b.destroy();
    const c = await Trainer.create(gpu, MLP, data, config, { params });
    await steps(c, 0, 3);
    expect(bits(await c.model.readParams())).not.toEqual(bits(straight));
    c.destroy();
  });

  it('the sampler state round-trips (and refuses a permutation of another dataset)', () => {
    const labels = Uint32Array.from({ length: 13 }, (_, i) => i % 3);
    for (const mode of ['shuffle', 'balanced'] as const) {
      const a = new IndexStream(labels, mode, 5);
      a.take(17);
      const saved = a.saveState();
      const b = new IndexStream(labels, mode, 77);
      b.loadState(saved);
      expect(Array.from(b.take(40))).toEqual(Array.from(a.take(40)));
    }
    const s = new IndexStream(labels, 'shuffle', 1);
    s.take(3);
    const saved = s.saveState();
    expect(() => new IndexStream(new Uint32Array(12), 'shuffle', 1).loadState(saved)).toThrow(/cannot hold a permutation of 13/);
    expect(() => new IndexStream(labels, 'shuffle', 1).loadState({ ...saved, perm: saved.perm.map(() => 0) })).toThrow(/not a permutation/);
    expect(() => new IndexStream(labels, 'shuffle', 1).loadState({ ...saved, pos: 14 })).toThrow(/position 14/);
  });
});

describe('refused checkpoints and states', () => {
  /** A checkpoint of 3 steps of the MLP run, and its meta. */
  async function sample(gpu: Gpu) {
    const data = mlpData();
    const t = await Trainer.create(gpu, MLP, data, MLP_BASE);
    await steps(t, 0, 3);
    const state = await t.saveState();
    t.destroy();
    const meta: CheckpointMeta = { config: { model: MLP.name, ...MLP_BASE, augment: { pad: 4 } }, data: dataFingerprint(data) };
    return { data, state, meta, bytes: encodeCheckpoint(state, meta) };
  }

  it('refuses a truncated file and every single-byte corruption, naming the file', async () => {
    const gpu = await testGpu();
    const { bytes } = await sample(gpu);
    const file = path.join(dir, 'damaged.safetensors');
    for (const length of [0, 5, 8, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
      writeFileSync(file, bytes.subarray(0, length));
      await expect(readCheckpoint(file), `truncated to ${length}`).rejects.toThrow(CheckpointError);
      await expect(readCheckpoint(file)).rejects.toThrow(new RegExp(`checkpoint ${file} .*not loaded`));
    }
    writeFileSync(file, Buffer.concat([bytes, Buffer.from([0])]));
    await expect(readCheckpoint(file)).rejects.toThrow(/trailing bytes/);
    // Every byte of the file, flipped in two ways (in memory: the same decoder readCheckpoint uses).
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0xa0]) {
        const bad = bytes.slice();
        bad[i] ^= mask;
        expect(() => decodeCheckpoint(bad, 'flipped.safetensors'), `byte ${i} ^ ${mask}`).toThrow(/^checkpoint flipped\.safetensors .*not loaded$/);
        refused++;
      }
    }
    expect(refused).toBe(2 * bytes.length);
    // A flip inside the data section, on disk: the checksum catches it.
    const bad = bytes.slice();
    bad[bad.length - 3] ^= 0x10;
    writeFileSync(file, bad);
    await expect(readCheckpoint(file)).rejects.toThrow(/SHA-256 checksum does not match/);
    await expect(readCheckpoint(path.join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot read checkpoint .*missing\.safetensors: no such file/);
    await expect(readCheckpoint(dir)).rejects.toThrow(/is a directory/);
    // A valid safetensors file that is not a checkpoint.
    writeFileSync(file, encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }));
    await expect(readCheckpoint(file)).rejects.toThrow(/not an l2rw checkpoint/);
  });

  it('writes atomically: no temporary file left, an existing checkpoint replaced, an impossible path named', async () => {
    const gpu = await testGpu();
    const { state, meta, bytes } = await sample(gpu);
    const sub = path.join(dir, 'atomic');
    mkdirSync(sub);
    const file = path.join(sub, 'ckpt.safetensors');
    writeFileSync(file, 'old contents');
    await writeCheckpoint(file, state, meta);
    expect(readdirSync(sub)).toEqual(['ckpt.safetensors']);
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(bytes))).toBe(true);
    const missing = path.join(dir, 'no-such-folder', 'ckpt.safetensors');
    await expect(writeCheckpoint(missing, state, meta)).rejects.toThrow(/cannot write checkpoint .*no-such-folder.*ckpt\.safetensors/);
    expect(existsSync(path.dirname(missing))).toBe(false);
  });

  it('names the first differing config field or the data; a trainer refuses another config, model or damaged state', async () => {
    const gpu = await testGpu();
    const { data, state, meta } = await sample(gpu);
    const cfg = meta.config as Record<string, unknown>;
    expect(checkpointMismatch({ ...meta, config: { ...cfg, lr: 0.005 } }, meta)).toBe('the checkpoint was made with lr 0.1, this run has lr 0.005');
    expect(checkpointMismatch({ ...meta, config: { ...cfg, augment: { pad: 2 } } }, meta)).toBe('the checkpoint was made with augment.pad 4, this run has augment.pad 2');
    expect(checkpointMismatch({ ...meta, config: { ...cfg, method: 'plain' } }, meta)).toBe('the checkpoint was made with method l2rw, this run has method plain');
    expect(checkpointMismatch({ ...meta, config: { ...cfg, lrDecay: { atSteps: [6], factor: 0.1 } } }, meta)).toBe('the checkpoint was made with no lrDecay, this run has lrDecay {"atSteps":[6],"factor":0.1}');
    const other = mlpData();
    other.train.x[0] += 1;
    expect(checkpointMismatch({ ...meta, data: dataFingerprint(other) }, meta)).toMatch(/^the checkpoint was made from other data \(fingerprint sha256:[0-9a-f]{64}\), this run's data has fingerprint sha256:/);

    const live = gpu.counters.liveBuffers;
    const t = await Trainer.create(gpu, MLP, data, { ...MLP_BASE, lr: 0.005 });
    expect(() => t.loadState(state)).toThrow('cannot load the trainer state: it was saved with lr 0.1, this trainer has lr 0.005');
    t.destroy();
    const wider = await Trainer.create(gpu, mlpSpec(6, [9, 5], 3), data, MLP_BASE);
    expect(() => wider.loadState(state)).toThrow(/saved from model .*, this trainer runs /);
    wider.destroy();

    const u = await Trainer.create(gpu, MLP, data, MLP_BASE);
    const before = await u.model.readParams();
    const edited = (f: (m: Map<string, (typeof state.tensors extends Map<string, infer V> ? V : never)>) => void): TrainerState => {
      const tensors = new Map(state.tensors);
      f(tensors);
      return { info: state.info, tensors };
    };
    const first = [...state.tensors.keys()][0];
    expect(() => u.loadState(edited((m) => m.delete(`velocity/${first}`)))).toThrow(`cannot load the trainer state: tensor velocity/${first} is missing`);
    expect(() => u.loadState(edited((m) => m.set('extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) })))).toThrow(/unexpected tensor\(s\) extra/);
    const t0 = state.tensors.get(first)!;
    expect(() => u.loadState(edited((m) => m.set(first, { ...t0, shape: [...t0.shape].reverse().concat([1]) })))).toThrow(new RegExp(`tensor ${first} has shape`));
    expect(() => u.loadState(edited((m) => m.set(first, { ...t0, dtype: 'U32' })))).toThrow(new RegExp(`tensor ${first} is U32, expected F32`));
    const perm = [...state.tensors.keys()].find((n) => n.endsWith('/perm'))!;
    expect(() => u.loadState(edited((m) => m.set(perm, { dtype: 'U32', shape: [50], data: new Uint32Array(50) })))).toThrow(/not a permutation/);
    expect(() => u.loadState({ ...state, info: { ...state.info, step: 13 } })).toThrow(/step 13 is outside the run's 12 steps/);
    expect(() => u.loadState({ ...state, info: { ...state.info, sources: state.info.sources.slice(1) } })).toThrow(/minibatch streams/);
    // Nothing changed by the refused loads.
    expect(u.step).toBe(0);
    expect(bits(await u.model.readParams())).toEqual(bits(before));
    // The state itself loads; the parameters are the checkpoint's.
    u.loadState(state);
    expect(u.step).toBe(3);
    const weights = decodeSafetensors(encodeCheckpoint(state, meta), 'x').tensors.get(first)!;
    const slot = u.model.layout.tensors.find((s) => s.name === first)!;
    expect(bits((await u.model.readParams()).slice(slot.denseOffset, slot.denseOffset + slot.size))).toEqual(bits(asF32(weights)));
    u.destroy();
    expect(gpu.counters.liveBuffers).toBe(live);
  });
});
