// A trained model as one file, in the safetensors layout: the parameters and the model state (batch
// normalisation's running statistics) under their own names (`<node>.<tensor>`, e.g. `conv2d1.weight`,
// `batchnorm1.running_mean`), so they open in any safetensors reader, and the model's description in
// the header's __metadata__ (strings):
//   format              "l2rw-model/1"
//   l2rw.spec           JSON of the ModelSpec (the graph: nodes, ops, attributes)
//   l2rw.input_shape    JSON of the per-example input shape, e.g. [1, 28, 28] or [64]
//   l2rw.class_names    JSON list of the class names, in label order
//   l2rw.input          JSON {"format": "uint8" | "float32", "normalize": {"mean": [...], "std": [...]} | null}:
//                       uint8 inputs are pixel bytes scaled by 1/255, float32 ones are used as they
//                       are; then (x - mean_c) / std_c per channel when normalize is given
//   l2rw.run            JSON of anything describing how it was trained (the CLI: the run's RunConfig), when given
// A Predictor loads one and computes class probabilities for examples. Browser-safe: the file
// functions (writeModelFile, readModelFile) import node:fs lazily.

import type { Gpu } from '../gpu/gpu';
import { GpuScope } from '../gpu/scope';
import { GatherBatch, normalizationTable } from '../kernels/gather_batch';
import { encodeDispatches } from '../kernels/kernel';
import { uploadDataset, type HostDataset } from './dataset';
import { GpuModel } from './model';
import { BatchPlan, CompiledModel } from './network';
import { ParamLayout } from './param_layout';
import { asF32, decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors';
import { numClasses, resolveModel, shapeSize, type ModelSpec } from './spec';
import type { Trainer } from './trainer';

export const MODEL_FORMAT = 'l2rw-model/1';

export interface ModelInput {
  /** uint8: pixel bytes, scaled by 1/255 on the GPU; float32: values used as they are. */
  format: 'uint8' | 'float32';
  /** Per-channel normalisation after the scaling, when the model was trained with one. */
  normalize?: { mean: number[]; std: number[] } | null;
}

/** What a model file says about its model, besides the tensors. */
export interface ModelDescription {
  spec: ModelSpec;
  /** Per-example input shape ([C, H, W] or [D]); the spec's input. */
  inputShape: number[];
  /** Class names in label order (as many as the model has logits). */
  classNames: string[];
  input: ModelInput;
  /** How it was trained (JSON-able; the CLI stores the run's RunConfig), when given. */
  run?: unknown;
}

export interface ModelFile {
  description: ModelDescription;
  /** Every parameter and model-state tensor, by name. */
  tensors: Map<string, SafeTensor>;
}

/** A model file that cannot be read or does not fit its own description; the message names the file. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** The tensors a model's parameters and state must be: name -> shape. */
function expectedTensors(spec: ModelSpec): Map<string, number[]> {
  const layout = new ParamLayout(spec, 256);
  return new Map([...layout.tensors, ...layout.state.tensors].map((t) => [t.name, t.shape]));
}

/** Checks a description and tensors against each other (throws ModelFileError prefixed by `source`). */
function checkModel(d: ModelDescription, tensors: Map<string, SafeTensor>, source: string): void {
  const fail = (what: string): never => {
    throw new ModelFileError(`${source}: ${what}`);
  };
  let classes = 0;
  try {
    resolveModel(d.spec);
    classes = numClasses(d.spec);
  } catch (e) {
    fail(`its model description is not a valid model (${(e as Error).message})`);
  }
  if (JSON.stringify(d.inputShape) !== JSON.stringify(d.spec.input)) fail(`input shape [${d.inputShape}] differs from the model's [${d.spec.input}]`);
  if (!Array.isArray(d.classNames) || d.classNames.length !== classes || !d.classNames.every((c) => typeof c === 'string')) {
    fail(`${Array.isArray(d.classNames) ? d.classNames.length : 'no'} class names for the model's ${classes} classes`);
  }
  if (d.input?.format !== 'uint8' && d.input?.format !== 'float32') fail(`unknown input format ${JSON.stringify(d.input?.format)} (expected uint8 or float32)`);
  if (d.input.normalize) {
    try {
      normalizationTable(d.input.normalize.mean, d.input.normalize.std);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const want = expectedTensors(d.spec);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) return fail(`tensor ${name} is missing`);
    if (t.dtype !== 'F32') fail(`tensor ${name} is ${t.dtype}, expected F32`);
    if (t.shape.join(',') !== shape.join(',')) fail(`tensor ${name} has shape [${t.shape}], the model needs [${shape}]`);
  }
  const extra = [...tensors.keys()].filter((k) => !want.has(k));
  if (extra.length) fail(`unexpected tensor(s) ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
}

/** The bytes of a model file (the tensors must be exactly the model's parameters and state). */
export function encodeModelFile(m: ModelFile): Uint8Array {
  checkModel(m.description, m.tensors, 'model');
  const d = m.description;
  const metadata: Record<string, string> = {
    format: MODEL_FORMAT,
    'l2rw.spec': JSON.stringify(d.spec),
    'l2rw.input_shape': JSON.stringify(d.inputShape),
    'l2rw.class_names': JSON.stringify(d.classNames),
    'l2rw.input': JSON.stringify({ format: d.input.format, normalize: d.input.normalize ?? null }),
    ...(d.run !== undefined ? { 'l2rw.run': JSON.stringify(d.run) } : {}),
  };
  return encodeSafetensors(m.tensors, metadata);
}

/** Parses a model file strictly: its format, description and tensors; `source` starts every error. */
export function decodeModelFile(bytes: Uint8Array, source = 'model file'): ModelFile {
  const fail = (what: string): never => {
    throw new ModelFileError(`${source}: ${what}`);
  };
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes, source);
  } catch (e) {
    return fail(`not a readable safetensors file (${(e as Error).message.replace(`${source}: `, '')})`);
  }
  const md = file.metadata;
  if (md.format !== MODEL_FORMAT) {
    fail(md.format === 'l2rw-checkpoint/1' ? 'is a training checkpoint, not a saved model (train --save-model FILE writes one)' : `format ${JSON.stringify(md.format ?? null)} is not ${MODEL_FORMAT}`);
  }
  const json = (key: string): unknown => {
    if (md[key] === undefined) fail(`metadata ${key} is missing`);
    try {
      return JSON.parse(md[key]);
    } catch {
      return fail(`metadata ${key} is not valid JSON`);
    }
  };
  const input = json('l2rw.input') as ModelInput;
  const description: ModelDescription = {
    spec: json('l2rw.spec') as ModelSpec,
    inputShape: json('l2rw.input_shape') as number[],
    classNames: json('l2rw.class_names') as string[],
    input: { format: input?.format, ...(input?.normalize ? { normalize: input.normalize } : {}) },
    ...(md['l2rw.run'] !== undefined ? { run: json('l2rw.run') } : {}),
  };
  checkModel(description, file.tensors, source);
  return { description, tensors: file.tensors };
}

/**
 * A trainer's model as a ModelFile: its parameters and state (one readback), its spec and input
 * shape, and the trainer's normalisation; the rest of the description from `d`.
 */
export async function trainedModel(trainer: Trainer, d: Pick<ModelDescription, 'classNames' | 'run'> & { inputFormat: ModelInput['format'] }): Promise<ModelFile> {
  const normalize = trainer.config.normalize;
  const description: ModelDescription = {
    spec: trainer.spec,
    inputShape: [...trainer.spec.input],
    classNames: d.classNames.slice(),
    input: { format: d.inputFormat, ...(normalize ? { normalize: { mean: [...normalize.mean], std: [...normalize.std] } } : {}) },
    ...(d.run !== undefined ? { run: d.run } : {}),
  };
  const m = { description, tensors: await trainer.modelTensors() };
  checkModel(description, m.tensors, 'model');
  return m;
}

/** Writes a model file atomically (src/util/atomic_file.ts: temporary file, fsync, rename). Node only. */
export async function writeModelFile(file: string, m: ModelFile): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  // Imported here, not at the top: this module also runs in browsers, which never write files.
  const { writeFileAtomic } = await import('../util/atomic_file');
  const bytes = encodeModelFile(m);
  try {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    writeFileAtomic(file, bytes);
  } catch (e) {
    throw new ModelFileError(`${file}: cannot write the model (${(e as Error).message})`);
  }
}

/** Reads a model file (Node): refuses a missing, foreign, truncated or inconsistent file, naming it. */
export async function readModelFile(file: string): Promise<ModelFile> {
  const fs = await import('node:fs/promises');
  let b: Buffer;
  try {
    b = await fs.readFile(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new ModelFileError(`${file}: ${code === 'ENOENT' ? 'no such model file' : code === 'EISDIR' ? 'is a directory, expected a model file' : (e as Error).message}`);
  }
  return decodeModelFile(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), file);
}

/** A model's outputs for a set of examples (Predictor.predict). */
export interface Predictions {
  n: number;
  classes: number;
  /** [n, classes] softmax probabilities. */
  probs: Float32Array;
  /** The argmax class of each example (the first of equal maxima, as evaluation counts errors). */
  predicted: Uint32Array;
  /** With labels: errors / n and the mean cross-entropy. */
  error: number | null;
  loss: number | null;
}

/** Examples per forward pass (the trainer's evaluation chunk). */
const CHUNK = 500;

/**
 * A saved model on the GPU, for predictions: the model file's parameters and state, the evaluation
 * forward pass (batch normalisation with its running statistics), in chunks of 500 like
 * Trainer.evaluate, so its predictions are the trainer's.
 */
export class Predictor {
  readonly classes: number;
  private readonly scope: GpuScope;

  private constructor(
    private readonly gpu: Gpu,
    readonly description: ModelDescription,
    private readonly compiled: CompiledModel,
    private readonly model: GpuModel,
    private readonly gather: GatherBatch,
  ) {
    this.scope = new GpuScope(gpu, 'predictor');
    this.scope.own(model);
    this.classes = compiled.model.classes;
  }

  static async create(gpu: Gpu, m: ModelFile): Promise<Predictor> {
    const d = m.description;
    checkModel(d, m.tensors, 'model');
    const layout = new ParamLayout(d.spec, gpu.limits.minStorageBufferOffsetAlignment);
    const dense = new Float32Array(layout.denseSize);
    for (const t of layout.tensors) dense.set(asF32(m.tensors.get(t.name)!, t.name), t.denseOffset);
    const model = GpuModel.create(gpu, d.spec, { params: dense });
    try {
      if (layout.state.tensors.length) {
        const state = new Float32Array(layout.state.denseSize);
        for (const t of layout.state.tensors) state.set(asF32(m.tensors.get(t.name)!, t.name), t.denseOffset);
        model.writeState(state);
      }
      await CompiledModel.chooseKernelForms(gpu, model.layout);
      const [compiled, gather] = await Promise.all([
        CompiledModel.load(gpu, model.layout),
        GatherBatch.create(gpu, { format: d.input.format === 'uint8' ? 'u8' : 'f32', sequential: true, normalize: Boolean(d.input.normalize) }),
      ]);
      return new Predictor(gpu, d, compiled, model, gather);
    } catch (e) {
      model.destroy();
      throw e;
    }
  }

  /**
   * Class probabilities for every example of `data` (its x as the model's input format: bytes for a
   * uint8 model, floats for a float32 one; y used for the error when labels are given).
   */
  async predict(data: HostDataset, o: { labels?: boolean } = {}): Promise<Predictions> {
    const d = this.description;
    const dim = shapeSize(d.inputShape);
    if (data.dim !== dim) throw new Error(`the model takes inputs of shape [${d.inputShape}] (${dim} values), the data has ${data.dim} values per example`);
    const format = data.x instanceof Uint8Array ? 'uint8' : 'float32';
    if (format !== d.input.format) {
      throw new Error(`the model was trained on ${d.input.format} inputs${d.input.format === 'uint8' ? ' (pixel bytes, scaled by 1/255)' : ''}, the data is ${format}`);
    }
    const K = this.classes;
    const n = data.n;
    const probs = new Float32Array(n * K);
    const predicted = new Uint32Array(n);
    const labels = o.labels !== false && data.y.length === n;
    if (labels) for (let i = 0; i < n; i++) if (data.y[i] >= K) throw new Error(`label ${data.y[i]} of example ${i} is not one of the model's ${K} classes`);
    if (n === 0) return { n, classes: K, probs, predicted, error: null, loss: null };
    const scope = new GpuScope(this.gpu, 'predictor.predict');
    try {
      const src = scope.own(uploadDataset(this.gpu, data, 'predict'));
      const plan = scope.own(new BatchPlan(this.gpu, this.compiled, Math.min(CHUNK, n), { mode: 'eval', signals: false, label: 'predict' }));
      const norm = d.input.normalize ? scope.upload('predict.norm', normalizationTable(d.input.normalize.mean, d.input.normalize.std)) : null;
      const noIndices = scope.buffer('predict.noindices', 16);
      const shape = d.inputShape.length === 3 ? (d.inputShape as [number, number, number]) : ([dim, 1, 1] as [number, number, number]);
      const forward = plan.forward(this.model.params, this.model.state);
      let errors = 0;
      let lossSum = 0;
      for (let start = 0; start < n; start += plan.n) {
        const rows = Math.min(plan.n, n - start);
        const gather = scope.own(this.gather.plan(src, noIndices, plan.x, plan.y, rows, start, `predict.gather@${start}`, norm ? { shape, norm } : undefined));
        this.gpu.run('predict', (enc) => encodeDispatches(enc, [gather, ...forward], 'predict'));
        const logits = await this.gpu.readF32(plan.logits, rows * K);
        for (let r = 0; r < rows; r++) {
          const i = start + r;
          const row = logits.subarray(r * K, (r + 1) * K);
          let best = 0;
          for (let c = 1; c < K; c++) if (row[c] > row[best]) best = c;
          let z = 0;
          for (let c = 0; c < K; c++) z += Math.exp(row[c] - row[best]);
          for (let c = 0; c < K; c++) probs[i * K + c] = Math.exp(row[c] - row[best]) / z;
          predicted[i] = best;
          if (labels) {
            if (best !== data.y[i]) errors++;
            lossSum += Math.log(z) + row[best] - row[data.y[i]];
          }
        }
      }
      return { n, classes: K, probs, predicted, error: labels ? errors / n : null, loss: labels ? lossSum / n : null };
    } finally {
      scope.destroy();
    }
  }

  destroy(): void {
    this.scope.destroy();
  }
}
