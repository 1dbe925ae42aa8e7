// The library side of `train --save-model`, `l2rw predict` and `train --weights-out`, on the GPU:
// the per-example weight tally against the batches the trainer took (duplicates included, across a
// saved and loaded state), model files written and read back bit for bit (batch-norm state
// included), a Predictor whose error is Trainer.evaluate's, and malformed model files named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu';
import { exampleWeights, exampleWeightsCsv } from '../../src/experiments/weights';
import { decodeModelFile, encodeModelFile, ModelFileError, Predictor, trainedModel, type ModelFile } from '../../src/train/model_file';
import { mlpSpec, resnetSpec } from '../../src/train/models';
import { encodeSafetensors } from '../../src/train/safetensors';
import { Trainer, type TrainConfig, type TrainData } from '../../src/train/trainer';
import type { Task } from '../../src/data/tasks';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => undefined);

/** Random examples (floats, or bytes when `bytes`) with labels in [0, k). */
function randomSplit(rng: Rng, n: number, dim: number, k: number, bytes = false) {
  const x = bytes ? Uint8Array.from({ length: n * dim }, () => rng.int(256)) : rng.normals(n * dim);
  return { x, y: Uint32Array.from({ length: n }, () => rng.int(k)), n, dim };
}

function data(seed: number, dim: number, k: number, bytes = false, n = 20): TrainData {
  const rng = new Rng(seed);
  return { train: randomSplit(rng, n, dim, k, bytes), clean: randomSplit(rng, 6, dim, k, bytes), test: randomSplit(rng, 30, dim, k, bytes) };
}

const base: Omit<TrainConfig, 'method'> = { steps: 40, batch: 8, lr: 0.05, momentum: 0.9, weightDecay: 0, seed: 3, logEvery: 5, indexChunk: 3 };

describe('the weight tally', () => {
  for (const method of ['l2rw', 'resample'] as const) {
    it(`adds up every example's weights, draws and zero weights (${method})`, async () => {
      const spec = mlpSpec([5], [8], 3);
      const t = await Trainer.create(gpu, spec, data(1, 5, 3), { ...base, method, tallyWeights: true });
      try {
        const sum = new Float64Array(20);
        const draws = new Float64Array(20);
        const zeros = new Float64Array(20);
        let duplicates = 0;
        for (let s = 0; s < 12; s++) {
          await t.trainStep();
          const b = await t.inspectLastBatch();
          if (new Set(b.indices).size < b.indices.length) duplicates++;
          b.indices.forEach((j, i) => {
            sum[j] += b.weights[i];
            draws[j]++;
            if (b.weights[i] === 0) zeros[j]++;
          });
        }
        // Class-balanced resampling draws with replacement: some batches hold an example twice.
        if (method === 'resample') expect(duplicates).toBeGreaterThan(0);
        const tally = (await t.weightTally())!;
        expect(Array.from(tally.draws)).toEqual(Array.from(draws));
        expect(Array.from(tally.zeros)).toEqual(Array.from(zeros));
        for (let j = 0; j < 20; j++) expect(tally.sum[j]).toBeCloseTo(sum[j], 5);
        expect(draws.reduce((a, b) => a + b, 0)).toBe(12 * 8);
        if (method === 'l2rw') expect(zeros.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      } finally {
        t.destroy();
      }
    });
  }

  it('is null without tallyWeights, and travels with the trainer state', async () => {
    const spec = mlpSpec([5], [8], 3);
    const d = data(2, 5, 3);
    const plain = await Trainer.create(gpu, spec, d, { ...base, method: 'l2rw' });
    expect(await plain.weightTally()).toBeNull();
    plain.destroy();
    const a = await Trainer.create(gpu, spec, d, { ...base, method: 'l2rw', tallyWeights: true });
    const b = await Trainer.create(gpu, spec, d, { ...base, method: 'l2rw', tallyWeights: true });
    try {
      for (let s = 0; s < 7; s++) await a.trainStep();
      const state = await a.saveState();
      expect(state.tensors.get('weights/tally')?.shape).toEqual([20, 3]);
      b.loadState(state);
      for (let s = 0; s < 6; s++) {
        await a.trainStep();
        await b.trainStep();
      }
      const [ta, tb] = [(await a.weightTally())!, (await b.weightTally())!];
      expect(Array.from(tb.sum)).toEqual(Array.from(ta.sum));
      expect(Array.from(tb.draws)).toEqual(Array.from(ta.draws));
      expect(ta.draws.reduce((x, y) => x + y, 0)).toBe(13 * 8);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it('becomes a table of examples, lowest mean weight first, with the corruption the task knows', () => {
    const task = {
      name: 't',
      dataset: 'mnist',
      numClasses: 2,
      train: { y: Uint32Array.from([0, 1, 1]), n: 3, sourceIndex: Uint32Array.from([7, 8, 9]), noisyMask: Uint8Array.from([0, 1, 0]) },
      clean: { y: new Uint32Array(0), n: 0, sourceIndex: new Uint32Array(0) },
      test: { y: new Uint32Array(0), n: 0, sourceIndex: new Uint32Array(0) },
      inputShape: [1, 2, 2],
      description: '',
      classNames: ['four', 'nine'],
    } satisfies Task;
    const rows = exampleWeights({ sum: Float32Array.from([0.5, 0, 0]), draws: Float32Array.from([2, 4, 0]), zeros: Float32Array.from([0, 4, 0]) }, task, { train: {} as never, test: {} as never, dir: '' });
    expect(rows.map((r) => [r.index, r.source, r.label, r.draws, r.meanWeight, r.zeroShare, r.corrupted])).toEqual([
      [1, '8', 'nine', 4, 0, 1, true],
      [0, '7', 'four', 2, 0.25, 0, false],
      [2, '9', 'nine', 0, null, null, false],
    ]);
    expect(exampleWeightsCsv(rows)).toBe(
      'index,source,label,times_drawn,mean_weight,zero_weight_share,corrupted\n1,8,nine,4,0,1,1\n0,7,four,2,0.250000,0,0\n2,9,nine,0,,,0\n',
    );
  });
});

describe('model files and the Predictor', () => {
  const cases = [
    { name: 'an MLP on float vectors', spec: mlpSpec([5], [8], 3), dim: 5, bytes: false, method: 'l2rw' as const },
    { name: 'a batch-normalised ResNet on image bytes', spec: resnetSpec(8, 3, [3, 8, 8], { width: 4 }), dim: 192, bytes: true, method: 'plain' as const },
  ];
  for (const c of cases) {
    it(`saves ${c.name} and predicts as Trainer.evaluate does`, async () => {
      const d = data(5, c.dim, 3, c.bytes, 40);
      const t = await Trainer.create(gpu, c.spec, d, { ...base, method: c.method });
      let predictor: Predictor | null = null;
      try {
        for (let s = 0; s < 10; s++) await t.trainStep();
        const m = await trainedModel(t, { classNames: ['a', 'b', 'c'], inputFormat: c.bytes ? 'uint8' : 'float32', run: { note: 'test' } });
        const back = decodeModelFile(encodeModelFile(m), 'm.safetensors');
        expect(back.description).toEqual(m.description);
        expect([...back.tensors.keys()].sort()).toEqual([...m.tensors.keys()].sort());
        if (c.bytes) expect([...back.tensors.keys()].some((k) => k.endsWith('.running_var'))).toBe(true);
        for (const [k, v] of m.tensors) expect(Buffer.from(back.tensors.get(k)!.data.buffer, back.tensors.get(k)!.data.byteOffset, v.data.byteLength).equals(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength)), k).toBe(true);
        predictor = await Predictor.create(gpu, back);
        const p = await predictor.predict(d.test!);
        const e = await t.evaluate('test');
        expect(p.error).toBe(e.error);
        expect(p.loss!).toBeCloseTo(e.loss, 4);
        expect(p.predicted.length).toBe(30);
        for (let i = 0; i < 30; i++) {
          const row = p.probs.subarray(i * 3, i * 3 + 3);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          expect(row[p.predicted[i]]).toBe(Math.max(...row));
        }
        // The other input format is refused.
        const other = c.bytes ? { ...d.test!, x: new Float32Array(d.test!.x.length) } : { ...d.test!, x: new Uint8Array(d.test!.x.length) };
        await expect(predictor.predict(other)).rejects.toThrow(/the model was trained on (uint8|float32) inputs/);
      } finally {
        predictor?.destroy();
        t.destroy();
      }
    });
  }

  it('refuses malformed model files, naming each problem', async () => {
    const spec = mlpSpec([4], [3], 2);
    const t = await Trainer.create(gpu, spec, data(6, 4, 2), { ...base, method: 'plain' });
    let m: ModelFile;
    try {
      m = await trainedModel(t, { classNames: ['x', 'y'], inputFormat: 'float32' });
    } finally {
      t.destroy();
    }
    const good = encodeModelFile(m);
    const meta = (over: Record<string, string>) => {
      const head = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + Number(new DataView(good.buffer).getBigUint64(0, true)))));
      return encodeSafetensors(m.tensors, { ...head.__metadata__, ...over });
    };
    const without = (name: string) => encodeSafetensors([...m.tensors].filter(([k]) => k !== name), JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + Number(new DataView(good.buffer).getBigUint64(0, true))))).__metadata__);
    const first = [...m.tensors.keys()][0];
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, good.length - 3), /^m: not a readable safetensors file/],
      [meta({ format: 'l2rw-checkpoint/1' }), /is a training checkpoint, not a saved model/],
      [meta({ format: 'something' }), /format "something" is not l2rw-model\/1/],
      [meta({ 'l2rw.class_names': '["x"]' }), /1 class names for the model's 2 classes/],
      [meta({ 'l2rw.input': '{"format":"int8"}' }), /unknown input format "int8"/],
      [meta({ 'l2rw.spec': '{oops' }), /metadata l2rw.spec is not valid JSON/],
      [meta({ 'l2rw.input_shape': '[5]' }), /input shape \[5\] differs from the model's \[4\]/],
      [without(first), new RegExp(`tensor ${first.replace('.', '\\.')} is missing`)],
      [encodeSafetensors([...m.tensors, ['extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]], JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + Number(new DataView(good.buffer).getBigUint64(0, true))))).__metadata__), /unexpected tensor\(s\) extra/],
    ];
    for (const [bytes, re] of cases) {
      let err: Error | null = null;
      try {
        decodeModelFile(bytes, 'm');
      } catch (e) {
        err = e as Error;
      }
      expect(err, String(re)).toBeInstanceOf(ModelFileError);
      expect(err!.message).toMatch(re);
      expect(err!.message.startsWith('m: ')).toBe(true);
    }
  });
});
