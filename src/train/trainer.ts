// The training loop on the GPU. Every step of every method is recorded into one command buffer and
// submitted once; nothing is read back inside a step. Statistics accumulate on the GPU and are copied
// out every `logEvery` steps by the same submit, then mapped asynchronously (stats_reader.ts).
import type { Gpu } from '../gpu/gpu';
import { GpuScope } from '../gpu/scope';
import { CountErrors } from '../kernels/count_errors';
import { ExampleWeights, WEIGHT_RULES, weightUniforms, type WeightOptions, type WeightRule } from '../kernels/example_weights';
import { KeepBest } from '../kernels/keep_best';
import { GatherBatch, normalizationTable, type GatherDispatch, type GatherTransform, type GatherVariant } from '../kernels/gather_batch';
import { encodeDispatches, type Dispatch } from '../kernels/kernel';
import { SgdMomentum } from '../kernels/sgd_momentum';
import { SoftmaxXent, type LossSpec } from '../kernels/softmax_xent';
import { STAT_COUNT, StepStats } from '../kernels/step_stats';
import { TALLY_FIELDS, WeightTally } from '../kernels/weight_tally';
import { uploadDataset, type GpuDataset, type HostDataset } from './dataset';
import { methodDecl, selectsOnClean, usesCleanSet, type Method, type PhaseDecl } from './methods';
import { GpuModel } from './model';
import { BatchPlan, CompiledModel } from './network';
import { asF32, asU32, type SafeTensor } from './safetensors';
import { IndexStream, type SamplingMode } from './sampler';
import type { TensorLayout } from './param_layout';
import type { ModelSpec } from './spec';
import { nonFiniteQuantity, snapshot, StatsReader, type StepStatsSnapshot } from './stats_reader';

export interface TrainConfig {
  method: Method;
  /** Total steps of the run (fine-tuning takes the last `finetuneSteps` of them). */
  steps: number;
  /** Training minibatch size n. */
  batch: number;
  /** Clean validation minibatch size m (default: min(clean set size, batch)). */
  valBatch?: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /**
   * Augment the training minibatches on the GPU (image inputs): a random crop of the image padded with
   * `pad` zero pixels on every side, and a random horizontal flip, drawn per example and step from
   * `seed`. The clean validation batch and evaluation are not augmented.
   */
  augment?: { pad: number };
  /** Per-channel normalisation (x − mean_c) / std_c of every batch, evaluation included (pixels in [0, 1]). */
  normalize?: { mean: number[]; std: number[] };
  /** Weight decay on the tensors named `bias` too (default true); false: only on weights (the paper's CIFAR setting). */
  decayBiases?: boolean;
  /** Multiply the learning rate by `factor` at each of these steps (step decay). */
  lrDecay?: { atSteps: number[]; factor: number };
  seed: number;
  /** Steps between statistics readbacks. */
  logEvery: number;
  /**
   * Lookahead step size α of steps 7 and 10 (default 1). ∂L_val/∂ε_i = −α s_i, so α scales every
   * example's score equally and step 11's normalisation divides it out: the weights do not depend on it.
   */
  lookaheadAlpha?: number;
  /** Hard mining: the fraction of each minibatch (highest losses) that gets weight. */
  hardMiningKeep?: number;
  /** Methods with a second phase (fine-tuning): its steps, the last of the run (default steps/10). */
  finetuneSteps?: number;
  /**
   * How L2RW computes the alignments and the weighted gradient. 'fast': per-node alignments from the
   * unit signals and the weighted gradient from the same signals (exact only when no op couples the
   * examples of a batch). 'general': a forward-mode (tangent) pass for the alignments and a second,
   * weighted backward pass (exact for every graph). 'auto' (default): 'fast' where it is exact.
   */
  l2rwPath?: 'auto' | 'fast' | 'general';
  /** Steps of minibatch indices uploaded at a time. */
  indexChunk?: number;
  /**
   * Tally what the method made of every training example (weightTally): the sum of the weights it
   * got, its draws and its zero-weight draws, accumulated on the GPU by every step.
   */
  tallyWeights?: boolean;
}

export interface TrainData {
  train: HostDataset;
  clean: HostDataset;
  test?: HostDataset;
  /** 1 for examples whose weight should be tracked (e.g. known-mislabelled ones). */
  trainFlags?: Uint8Array;
}

/** Evaluation batch size: large enough to amortise dispatches, small enough for LeNet activations. */
export const EVAL_CHUNK = 500;

/**
 * The statistics of a logging step, still on their way back: `stats` resolves once the GPU has
 * finished that step (it rejects with TrainingDivergedError on NaN/inf). Await it whenever the
 * numbers are needed; every such promise must be awaited or handled.
 */
export interface PendingStats {
  step: number;
  stats: Promise<StepStatsSnapshot>;
}

/**
 * NaN or infinity in the training: `quantity` says where ("training loss", "example weights",
 * "validation loss", "parameters"), `step` when (the first step, 1-based, whose value was non-finite;
 * for parameters, the step at which they were checked).
 */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(
    message: string,
    readonly step: number,
    readonly quantity: string,
  ) {
    super(message);
  }
}

/**
 * Everything a trainer needs to continue a run bit-identically (Trainer.saveState / loadState): named
 * tensors, and the rest as JSON (`info`). Tensor names: each parameter and model-state tensor by its
 * own name (`<node>.<tensor>`, e.g. `conv1.weight`, `bn1.running_mean`), so the weights open as they
 * are in any safetensors reader; `velocity/<name>` (momentum); `best/<name>`, `best.state/<name>` and
 * `best/score` (early stopping's kept model, when one is tracked); `stats` (the statistics accumulated
 * since the last logging point); `sampler/<stream>/perm` and `sampler/<stream>/chunk` (each minibatch
 * stream's current epoch permutation and the block of indices on the GPU).
 */
export interface TrainerState {
  info: TrainerStateInfo;
  tensors: Map<string, SafeTensor>;
}

export interface TrainerStateInfo {
  version: 1;
  /** The model's name (spec.name). */
  model: string;
  /** The trainer's whole configuration after defaults (JSON): a state loads only into the same one. */
  config: unknown;
  /** Steps done. */
  step: number;
  /** The learning rate the SGD dispatches hold (that of the last step done). */
  lr: number;
  /** The factor on the schedule's rate (setLearningRateScale, e.g. after a rollback); absent: 1. */
  lrScale?: number;
  /** The phase of the next step (0: first; 1: fine-tuning), a check: it follows from `step`. */
  phase: number;
  /** Each minibatch stream, by label: generator state, epoch position, indices uploaded. */
  sources: SourceState[];
  /** Whether early stopping's kept model is in the tensors. */
  best: boolean;
}

interface SourceState {
  label: string;
  rng: number;
  pos: number;
  /** Stream steps whose indices are on the GPU (0: none uploaded yet). */
  uploadedUpTo: number;
  lastOffset: number;
}

/** The JSON value of a configuration (what a state or checkpoint records and compares). */
export function configJson(config: unknown): unknown {
  return config === undefined ? null : JSON.parse(JSON.stringify(config));
}

/** The first field (a dotted path; arrays compare whole) where two JSON values differ, null when equal. */
export function firstDifference(expected: unknown, found: unknown, path = ''): { path: string; expected: unknown; found: unknown } | null {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(expected) && isObj(found)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(found)])];
    for (const k of keys) {
      const d = firstDifference(expected[k], found[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return JSON.stringify(expected) === JSON.stringify(found) ? null : { path, expected, found };
}

/** "lr 0.01" / "no augment": one side of a difference (firstDifference), for messages. */
export function valueText(path: string, v: unknown): string {
  const name = path || 'value';
  if (v === undefined) return `no ${name}`;
  return `${name} ${typeof v === 'string' ? v : JSON.stringify(v)}`;
}

const f32Tensor = (shape: readonly number[], data: Float32Array): SafeTensor => ({ dtype: 'F32', shape, data });
const u32Tensor = (shape: readonly number[], data: Uint32Array): SafeTensor => ({ dtype: 'U32', shape, data });

/** One dense tensor per slot of a padded buffer laid out by `layout`, named `prefix + slot name`. */
function splitLayout(layout: TensorLayout, padded: Float32Array, prefix: string): [string, SafeTensor][] {
  return layout.tensors.map((t) => [prefix + t.name, f32Tensor(t.shape, padded.slice(t.offset, t.offset + t.size))]);
}

/** One minibatch stream over one GPU dataset: indices uploaded in chunks, gathered on the GPU. */
class BatchSource {
  readonly indices: GPUBuffer;
  private readonly stream: IndexStream;
  private readonly gathers: GatherDispatch[] = [];
  private uploadedUpTo = 0;
  /** Element offset of the current batch inside `indices`. */
  lastOffset = 0;

  constructor(
    private readonly scope: GpuScope,
    readonly data: GpuDataset,
    readonly n: number,
    private readonly mode: SamplingMode,
    seed: number,
    private readonly chunk: number,
    readonly label: string,
  ) {
    this.stream = new IndexStream(data.hostLabels, mode, seed);
    this.indices = scope.buffer(`${label}.indices`, chunk * n * 4);
  }

  /** Plans a gather of this stream's current batch into (x, y); several targets may share a stream. */
  gatherInto(gather: GatherBatch, source: GpuDataset, x: GPUBuffer, y: GPUBuffer, label: string, transform?: GatherTransform): Dispatch {
    const dispatch = this.scope.own(gather.plan(source, this.indices, x, y, this.n, 0, label, transform));
    this.gathers.push(dispatch);
    return dispatch;
  }

  /** Another dispatch that follows this stream's current batch (its setBatch is called every step). */
  follow(dispatch: GatherDispatch): void {
    this.gathers.push(dispatch);
  }

  /**
   * Before recording a step: uploads the next chunk of indices when needed and points the gathers at
   * batch `step` of this stream; `runStep` (the run's step) drives the augmentation's random draws.
   */
  prepare(step: number, runStep: number): void {
    if (step >= this.uploadedUpTo) {
      this.scope.gpu.write(this.indices, this.stream.take(this.chunk * this.n));
      this.uploadedUpTo = step + this.chunk;
    }
    const offset = (step % this.chunk) * this.n;
    this.lastOffset = offset;
    for (const g of this.gathers) g.setBatch(offset, runStep);
  }

  /** The stream's state and tensors (the GPU's block of indices is read back). */
  async save(gpu: Gpu): Promise<{ info: SourceState; tensors: [string, SafeTensor][] }> {
    const stream = this.stream.saveState();
    const tensors: [string, SafeTensor][] = [[`sampler/${this.label}/perm`, u32Tensor([stream.perm.length], stream.perm)]];
    if (this.uploadedUpTo > 0) tensors.push([`sampler/${this.label}/chunk`, u32Tensor([this.chunk, this.n], await gpu.readU32(this.indices, this.chunk * this.n))]);
    return { info: { label: this.label, rng: stream.rng, pos: stream.pos, uploadedUpTo: this.uploadedUpTo, lastOffset: this.lastOffset }, tensors };
  }

  /** The tensors a saved state of this stream must have (name, shape), given its info. */
  expectedTensors(info: SourceState): [string, number[], 'U32'][] {
    return [
      [`sampler/${this.label}/perm`, [-1], 'U32'],
      ...(info.uploadedUpTo > 0 ? [[`sampler/${this.label}/chunk`, [this.chunk, this.n], 'U32'] as [string, number[], 'U32']] : []),
    ];
  }

  /** Checks a saved state against this stream (throws, changing nothing), then returns how to apply it. */
  prepareLoad(gpu: Gpu, info: SourceState, tensors: Map<string, SafeTensor>): () => void {
    const check = new IndexStream(this.data.hostLabels, this.mode, 0);
    const perm = asU32(tensors.get(`sampler/${this.label}/perm`)!, `sampler/${this.label}/perm`);
    const streamState = { rng: info.rng, pos: info.pos, perm };
    check.loadState(streamState);
    const { uploadedUpTo, lastOffset } = info;
    if (!Number.isInteger(uploadedUpTo) || uploadedUpTo < 0 || (uploadedUpTo > 0 && uploadedUpTo < this.chunk)) {
      throw new Error(`saved state of ${this.label}: bad uploadedUpTo ${uploadedUpTo}`);
    }
    if (!Number.isInteger(lastOffset) || lastOffset < 0 || lastOffset >= this.chunk * this.n || lastOffset % this.n !== 0) {
      throw new Error(`saved state of ${this.label}: bad lastOffset ${lastOffset}`);
    }
    const chunk = uploadedUpTo > 0 ? asU32(tensors.get(`sampler/${this.label}/chunk`)!, `sampler/${this.label}/chunk`) : null;
    if (chunk?.some((i) => i >= this.data.n)) throw new Error(`saved state of ${this.label}: an index is outside the ${this.data.n} examples`);
    return () => {
      this.stream.loadState(streamState);
      if (chunk) gpu.write(this.indices, chunk);
      this.uploadedUpTo = uploadedUpTo;
      this.lastOffset = lastOffset;
    };
  }
}

/** A named group of a step's dispatches (the step numbers of Algorithm 1 they carry out). */
export interface StepGroup {
  name: string;
  dispatches: readonly Dispatch[];
}

/** A recorded training step program for one phase of a method. */
interface Phase {
  name: string;
  decl: PhaseDecl;
  sources: BatchSource[];
  groups: StepGroup[];
  dispatches: Dispatch[];
  weightsDispatch: Dispatch;
  weightOpts: WeightOptions;
  /** Minibatch size of this phase. */
  n: number;
  /** The training batch's plan (per-example losses) and alignments s (L2RW), for inspection. */
  f: BatchPlan;
  alignment: GPUBuffer | null;
}

/** Per training example (Trainer.weightTally): Σ weight, draws, zero-weight draws. */
export interface WeightTallyCounts {
  sum: Float32Array;
  draws: Float32Array;
  zeros: Float32Array;
}

export interface BatchInspection {
  /** Which set the minibatch came from. */
  source: 'train' | 'clean';
  /** Dataset indices of the latest training minibatch. */
  indices: Uint32Array;
  weights: Float32Array;
  losses: Float32Array;
  /** s_i = <∇f_i, ∇L_val> (L2RW only). */
  alignments: Float32Array | null;
}

/** Programs the trainer records besides the model's own, compiled once. */
const gatherKey = (v: GatherVariant) => `${v.format}${v.sequential ? '.seq' : ''}${v.augment ? '.aug' : ''}${v.normalize ? '.norm' : ''}`;

/** The gather programs a run needs: training batches (augmented when asked), clean batches, evaluation. */
function gatherVariants(data: TrainData, cfg: ResolvedConfig): GatherVariant[] {
  const format = (d: HostDataset) => (d.x instanceof Uint8Array ? 'u8' : 'f32') as 'u8' | 'f32';
  const normalize = Boolean(cfg.normalize);
  const augment = Boolean(cfg.augment);
  const splits = [data.train, data.clean, ...(data.test ? [data.test] : [])];
  const all: GatherVariant[] = [
    ...[data.train, data.clean].map((d) => ({ format: format(d), augment, normalize })),
    { format: format(data.clean), normalize },
    ...splits.map((d) => ({ format: format(d), sequential: true, normalize })),
    ...(data.trainFlags ? [{ format: 'u8' as const }] : []),
  ];
  return [...new Map(all.map((v) => [gatherKey(v), v])).values()];
}

async function loadTrainerKernels(gpu: Gpu, rules: readonly WeightRule[], variants: readonly GatherVariant[], losses: readonly LossSpec[], tally = false) {
  const [weights, sgd, gathers, stats, countErrors, keepBest, lossKernels, tallyKernel] = await Promise.all([
    Promise.all(rules.map((r) => ExampleWeights.create(gpu, r))),
    SgdMomentum.create(gpu),
    Promise.all(variants.map((v) => GatherBatch.create(gpu, v))),
    StepStats.create(gpu),
    CountErrors.create(gpu),
    KeepBest.create(gpu),
    Promise.all(losses.map((l) => SoftmaxXent.create(gpu, l))),
    tally ? WeightTally.create(gpu) : null,
  ]);
  const byKey = new Map(variants.map((v, i) => [gatherKey(v), gathers[i]]));
  return {
    weights: new Map(rules.map((r, i) => [r, weights[i]])),
    sgd,
    stats,
    countErrors,
    keepBest,
    tally: tallyKernel,
    /** The phase losses other than cross-entropy (bootstrapping), by their JSON. */
    loss: (l: LossSpec) => lossKernels[losses.findIndex((x) => JSON.stringify(x) === JSON.stringify(l))],
    gather(v: GatherVariant): GatherBatch {
      const g = byKey.get(gatherKey(v));
      if (!g) throw new Error(`gather variant ${gatherKey(v)} was not loaded`);
      return g;
    },
  };
}
type TrainerKernels = Awaited<ReturnType<typeof loadTrainerKernels>>;

/** Optional settings that stay optional after validation (absent means off). */
type OffByDefault = 'lrDecay' | 'augment' | 'normalize' | 'tallyWeights';
type ResolvedConfig = Required<Omit<TrainConfig, OffByDefault>> & Pick<TrainConfig, OffByDefault>;

export class Trainer {
  readonly model: GpuModel;
  readonly classes: number;
  /** Whether L2RW runs its general path (tangent pass + weighted backward) rather than the fast one. */
  readonly generalPath: boolean;
  private readonly scope: GpuScope;
  private readonly datasets: { train: GpuDataset; clean: GpuDataset; test?: GpuDataset; flags?: GpuDataset };
  private readonly stats: GPUBuffer;
  private readonly reader: StatsReader;
  private readonly phases: Phase[] = [];
  private readonly sgd: { dispatch: Dispatch; n: number; weightDecay: number }[];
  /** Per-example weights of the latest training batch [n]. */
  readonly weights: GPUBuffer;
  /** Per training example: Σ weight, draws, zero-weight draws (config.tallyWeights); null without. */
  private readonly tally: GPUBuffer | null = null;
  private evalPlan: BatchPlan | null = null;
  /** The per-channel normalisation table (config.normalize), null without. */
  private readonly norm: GPUBuffer | null = null;
  private stepIndex = 0;
  private lr: number;
  /** Multiplies the configured schedule (learningRateAt) from now on; 1 unless set. */
  private lrScale = 1;

  private constructor(
    private readonly gpu: Gpu,
    private readonly compiled: CompiledModel,
    private readonly k: TrainerKernels,
    readonly spec: ModelSpec,
    readonly config: ResolvedConfig,
    data: TrainData,
    model: GpuModel,
  ) {
    this.scope = new GpuScope(gpu, 'trainer');
    this.model = this.scope.own(model);
    this.classes = compiled.model.classes;
    this.lr = config.lr;
    const path = config.l2rwPath;
    if (path === 'fast' && !compiled.fastPathExact) {
      throw new Error(`${spec.name} couples the examples of a batch, so the fast L2RW path would be wrong; use l2rwPath 'general' or 'auto'`);
    }
    this.generalPath = path === 'general' || (path === 'auto' && !compiled.fastPathExact);
    // Checked before anything is allocated, so a refused configuration leaves nothing behind.
    const input = compiled.model.input;
    if (config.augment && input.length !== 3) throw new Error(`augmentation needs image inputs [C, H, W]; ${spec.name} takes [${input}]`);
    const channels = input.length === 3 ? input[0] : 1;
    if (config.normalize && config.normalize.mean.length !== channels) {
      throw new Error(`normalisation needs ${channels} mean and std value(s) (one per input channel of ${spec.name}), got ${config.normalize.mean.length}`);
    }
    const upload = (d: HostDataset, label: string) => this.scope.own(uploadDataset(gpu, d, label));
    this.datasets = {
      train: upload(data.train, 'train'),
      clean: upload(data.clean, 'clean'),
      test: data.test ? upload(data.test, 'test') : undefined,
      flags: data.trainFlags ? upload({ x: data.trainFlags, y: data.train.y, n: data.train.n, dim: 1 }, 'train.flags') : undefined,
    };
    this.stats = this.scope.buffer('stats', STAT_COUNT * 4);
    this.reader = new StatsReader(gpu, this.stats);
    for (const b of this.reader.staging) this.scope.track(b);
    this.weights = this.scope.buffer('weights', config.batch * 4);
    if (config.tallyWeights) this.tally = this.scope.buffer('weights.tally', Math.max(1, data.train.n) * TALLY_FIELDS * 4);
    if (config.normalize) this.norm = this.scope.upload('normalization', normalizationTable(config.normalize.mean, config.normalize.std));
    // 14: one SGD dispatch per weight-decay group of the flat parameter buffer (param_layout.ts).
    const { layout, params, grads, velocity } = model;
    const groups = [
      { offset: 0, n: layout.decayedSize, weightDecay: config.weightDecay },
      { offset: layout.decayedSize, n: layout.paddedSize - layout.decayedSize, weightDecay: 0 },
    ].filter((g) => g.n > 0);
    this.sgd = groups.map((g) => {
      const range = (buffer: GPUBuffer) => ({ buffer, offset: g.offset * 4, size: g.n * 4 });
      const hp = { lr: config.lr, momentum: config.momentum, weightDecay: g.weightDecay };
      const label = groups.length > 1 ? `sgd.${g.weightDecay ? 'decay' : 'nodecay'}` : 'sgd';
      return { dispatch: this.scope.own(k.sgd.plan(range(params), range(velocity), range(grads), g.n, hp, label)), n: g.n, weightDecay: g.weightDecay };
    });
  }

  static async create(gpu: Gpu, spec: ModelSpec, data: TrainData, config: TrainConfig, init: { seed: number } | { params: ArrayLike<number> } = { seed: config.seed }): Promise<Trainer> {
    const cfg = validateConfig(config, data);
    const model = GpuModel.create(gpu, spec, init, { decayBiases: cfg.decayBiases });
    try {
      await CompiledModel.chooseKernelForms(gpu, model.layout);
      const [compiled, k] = await Promise.all([
        CompiledModel.load(gpu, model.layout),
        loadTrainerKernels(
          gpu,
          [...new Set(methodDecl(cfg.method).phases.map((p) => p.rule))],
          gatherVariants(data, cfg),
          methodDecl(cfg.method).phases.flatMap((p) => (p.loss && p.loss.kind !== 'xent' ? [p.loss] : [])),
          Boolean(cfg.tallyWeights),
        ),
      ]);
      const t = new Trainer(gpu, compiled, k, spec, cfg, data, model);
      try {
        t.buildPhases();
      } catch (e) {
        t.destroy();
        throw e;
      }
      return t;
    } catch (e) {
      model.destroy();
      throw e;
    }
  }

  get step(): number {
    return this.stepIndex;
  }

  private buildPhases(): void {
    methodDecl(this.config.method).phases.forEach((decl, i) => {
      const n = decl.source === 'clean' ? Math.min(this.config.batch, this.datasets.clean.n) : this.config.batch;
      this.phases.push(this.buildPhase(i === 0 ? this.config.method : `${this.config.method}.phase${i + 1}`, decl, n));
    });
  }

  private buildPhase(name: string, decl: PhaseDecl, n: number): Phase {
    const { gpu, k, model, config: cfg, compiled } = this;
    const { params, grads, state } = model;
    const scope = this.scope.child(name);
    const data = this.datasets[decl.source];
    const rule = WEIGHT_RULES[decl.rule];
    const lookahead = rule.score === 'alignment';
    // L2RW's alignments by the tangent pass (the general path) rather than per node from unit signals.
    const tangentAlignments = lookahead && this.generalPath;
    // The weighted gradient from a second, loss-weighted backward pass rather than from unit signals
    // scaled by w: needed whenever examples are coupled (every method), and on L2RW's general path.
    const weightedBackward = tangentAlignments || !compiled.fastPathExact;
    const chunk = cfg.indexChunk;
    const seedBase = cfg.seed * 7919 + this.phases.length * 104729;
    const trainSrc = new BatchSource(scope, data, n, decl.sampling, seedBase + 1, chunk, `${name}.train`);
    const augment = cfg.augment ? { pad: cfg.augment.pad, seed: seedBase + 3 } : undefined;
    const sources = [trainSrc];
    const f = scope.own(new BatchPlan(gpu, compiled, n, { mode: 'train', updatesState: true, signals: true, tangents: tangentAlignments, label: `${name}.f` }));
    const ones = scope.upload(`${name}.ones`, new Float32Array(n).fill(1));
    const flags = scope.buffer(`${name}.flags`, n * 4);
    const s = scope.buffer(`${name}.alignment`, n * 4);
    const classWeight = scope.upload(`${name}.classWeight`, inverseFrequency(data.hostLabels, this.classes));
    const keep = Math.max(1, Math.min(n, Math.ceil(cfg.hardMiningKeep * n)));
    const groups: StepGroup[] = [];
    const group = (groupName: string, ...ds: Dispatch[]) => groups.push({ name: groupName, dispatches: ds });

    // Algorithm 1, one step t. (Step 1 is the loop over t, in trainStep() below.)
    // 2: {X_f, y_f} ← SampleMiniBatch(D_f, n): gathered on the GPU from indices uploaded in bulk.
    const gathers = [
      trainSrc.gatherInto(k.gather({ format: data.format, augment: Boolean(augment), normalize: Boolean(this.norm) }), data, f.x, f.y, `${name}.gather`, this.transform(augment)),
    ];
    if (decl.source === 'train' && this.datasets.flags) {
      const flagsData = this.datasets.flags;
      gathers.push(trainSrc.gatherInto(k.gather({ format: flagsData.format }), flagsData, flags, scope.buffer(`${name}.trueY`, n * 4), `${name}.gatherFlags`));
    }
    group('2 gather', ...gathers);
    // 4: ŷ_f ← Forward(X_f, y_f, θ_t).
    group('4 forward', ...f.forward(params, state));
    // 5–6: l_f = Σ ε_i C(y_i, ŷ_i) and its gradient. The unit signals δ_i = ∂C_i/∂(logits) (ε_i = 1).
    //      Fast path: backpropagated once; since no op couples examples, any ε (and later the weights
    //      w) just scales example i's signals by ε_i. General path: only the logits' signal is needed.
    // The phase's training loss: cross-entropy, or bootstrapping (L2RW phases always use cross-entropy).
    const xent = decl.loss && decl.loss.kind !== 'xent' ? k.loss(decl.loss) : undefined;
    if (xent && lookahead) throw new Error(`${name}: a phase with the L2RW rule trains on cross-entropy`);
    group('5,6 loss+backward', f.lossAndSignal(ones, xent), ...(weightedBackward ? [] : f.backward(params)));
    let valLoss: GPUBuffer | null = null;
    let m = 0;
    if (lookahead) {
      // 3: {X_g, y_g} ← SampleMiniBatch(D_g, m).
      m = cfg.valBatch;
      const valSrc = new BatchSource(scope, this.datasets.clean, m, 'shuffle', seedBase + 2, chunk, `${name}.val`);
      sources.push(valSrc);
      const g = scope.own(new BatchPlan(gpu, compiled, m, { mode: 'train', signals: true, label: `${name}.g` }));
      valLoss = g.loss;
      const invM = scope.upload(`${name}.invM`, new Float32Array(m).fill(1 / m));
      // 7: θ̂_t = θ_t − α ∇θ_t with ∇θ_t = Σ ε_i ∇f_i = 0 at ε = 0, so θ̂_t = θ_t: nothing to compute.
      //    α only scales ∇ε below (∂L_g/∂ε_i = −α s_i), and step 11's normalisation divides it out:
      //    the weights do not depend on α > 0 (lookaheadAlpha; a test checks the invariance).
      // 8: ŷ_g ← Forward(X_g, y_g, θ̂_t); l_g = (1/m) Σ_j C(y_g,j, ŷ_g,j). With ops that couple examples
      //    (batch statistics) the clean batch is evaluated with its own batch statistics.
      // 9: ∇θ̂ of l_g = g, the clean validation gradient (into `grads`, overwritten again in step 13).
      group(
        '3,8,9 validation',
        valSrc.gatherInto(k.gather({ format: this.datasets.clean.format, normalize: Boolean(this.norm) }), this.datasets.clean, g.x, g.y, `${name}.gatherVal`, this.transform()),
        ...g.forward(params, state),
        g.lossAndSignal(invM),
        ...g.backward(params),
        ...g.weightGrads(params, grads, null),
      );
      // 10: ∇ε_i = −α <∇f_i(θ_t), g> = −α s_i. Fast path: per-node alignment of the stored unit signals
      //     with g. General path: s = J·g, one forward-mode pass of the training batch along g.
      group('10 alignments', ...(tangentAlignments ? f.tangentAlignments(params, grads, s) : f.alignments(grads, s, g)));
    }
    // 11: w̃ = max(−∇ε, 0) = α max(s, 0); w = w̃ / (Σ w̃ + δ(Σ w̃)). The baselines' rules go here too.
    const weightOpts = { k: keep, seed: cfg.seed, step: 0, scale: cfg.lookaheadAlpha };
    const score = rule.score === 'alignment' ? s : f.loss;
    const weightsDispatch = scope.own(
      k.weights.get(decl.rule)!.plan({ score, labels: f.y, classWeight, w: this.weights }, n, weightOpts, `${name}.weights`),
    );
    group('11 weights', weightsDispatch);
    // 12–13: l_f = Σ w_i C_i; ∇θ_t = Σ w_i ∇f_i. Without coupling: the unit signals scaled by w, no
    //        second backward pass. Otherwise: a second backward pass with w as the loss weights.
    group(
      '12,13 weighted grads',
      ...(weightedBackward
        ? [f.lossAndSignal(this.weights, xent), ...f.backward(params), ...f.weightGrads(params, grads, null)]
        : f.weightGrads(params, grads, this.weights)),
    );
    // 14: θ_{t+1} ← OptimizerStep(θ_t, ∇θ_t): SGD with momentum and weight decay.
    group('14 sgd', ...this.sgd.map((x) => x.dispatch));
    group('stats', scope.own(k.stats.plan({ trainLoss: f.loss, w: this.weights, valLoss: valLoss ?? f.loss, flag: flags, stats: this.stats }, n, m, `${name}.stats`)));
    if (this.tally && k.tally && decl.source === 'train') {
      // Each example's weight of this step, added to its tally (no readback).
      const tally = scope.own(k.tally.plan(trainSrc.indices, this.weights, this.tally, n, `${name}.tally`));
      trainSrc.follow(tally);
      group('tally', tally);
    }
    return { name, decl, sources, groups, dispatches: groups.flatMap((x) => x.dispatches), weightsDispatch, weightOpts, n, f, alignment: lookahead ? s : null };
  }

  /** How inputs are transformed on their way into a batch (image shape, augmentation, normalisation). */
  private transform(augment?: GatherTransform['augment']): GatherTransform | undefined {
    if (!augment && !this.norm) return undefined;
    const input = this.compiled.model.input;
    const shape: [number, number, number] = input.length === 3 ? [input[0], input[1], input[2]] : [1, 1, input.reduce((a, b) => a * b, 1)];
    return { shape, augment, norm: this.norm ?? undefined };
  }

  /** The dispatches of one step of a phase (0: the first), by Algorithm 1's step groups (benchmarks). */
  stepGroups(phase = 0): readonly StepGroup[] {
    const p = this.phases[phase];
    if (!p) throw new Error(`the method has ${this.phases.length} phase(s), no phase ${phase}`);
    return p.groups;
  }

  /** First step of the second phase (the run's length for one-phase methods). */
  private get secondPhaseStart(): number {
    const { steps, finetuneSteps } = this.config;
    return this.phases.length > 1 ? steps - Math.min(finetuneSteps, steps) : steps;
  }

  private currentPhase(step: number): Phase {
    return this.phases.length > 1 && step >= this.secondPhaseStart ? this.phases[1] : this.phases[0];
  }

  /**
   * Records and submits one training step (exactly one queue.submit, no readback). Every `logEvery`
   * steps the same submit also copies the accumulated statistics out; the returned PendingStats
   * carries them once the GPU is done, without blocking further steps.
   */
  async trainStep(): Promise<PendingStats | null> {
    this.gpu.checkAlive();
    const t = this.stepIndex;
    const phase = this.currentPhase(t);
    const decayed = this.learningRateAt(t);
    if (decayed !== this.lr) this.setLr(decayed);
    for (const src of phase.sources) src.prepare(t - this.phaseStart(phase), t);
    if (WEIGHT_RULES[phase.decl.rule].perStep) {
      phase.weightsDispatch.setUniforms(weightUniforms(phase.n, { ...phase.weightOpts, step: t }));
    }
    const logging = (t + 1) % this.config.logEvery === 0;
    const slot = logging ? await this.reader.reserve() : -1;
    const encoder = this.gpu.device.createCommandEncoder({ label: `step ${t}` });
    encodeDispatches(encoder, phase.dispatches, `${phase.name} step`);
    if (logging) this.reader.record(encoder, slot);
    this.gpu.submit([encoder.finish()]);
    this.stepIndex++;
    if (!logging) return null;
    const lr = this.lr;
    const stats = this.reader.collect(slot, this.stepIndex).then((snap) => {
      const diverged = this.divergence(snap, lr);
      if (diverged) throw diverged;
      return snap;
    });
    return { step: this.stepIndex, stats };
  }

  /** The divergence a statistics snapshot shows (non-finite losses or weights), or null. */
  private divergence(snap: StepStatsSnapshot, lr: number): TrainingDivergedError | null {
    if (!(snap.nonFinite > 0)) return null;
    const quantity = nonFiniteQuantity(snap.nonFiniteKinds);
    const step = snap.firstNonFinite > 0 ? snap.firstNonFinite : snap.step;
    return new TrainingDivergedError(
      `training diverged: non-finite ${quantity} at step ${step} (${snap.nonFinite} non-finite values in the ${snap.steps} steps before step ${snap.step}, ` +
        `mean loss ${snap.trainLoss}). Lower the learning rate (now ${lr}) or check the input data.`,
      step,
      quantity,
    );
  }

  /**
   * Whether a saved state (saveState) is fit to continue from: null when it is, else the divergence it
   * holds. Checks, without touching the GPU, the statistics since the last logging point (non-finite
   * losses or weights not yet read back) and every parameter, momentum and model-state tensor.
   */
  divergenceIn(state: TrainerState): TrainingDivergedError | null {
    const stats = state.tensors.get('stats');
    if (stats) {
      const d = this.divergence(snapshot(asF32(stats, 'stats'), state.info.step), state.info.lr);
      if (d) return d;
    }
    const { layout } = this.model;
    const names = [...layout.tensors.map((t) => t.name), ...layout.state.tensors.map((t) => t.name), ...layout.tensors.map((t) => `velocity/${t.name}`)];
    for (const name of names) {
      const t = state.tensors.get(name);
      if (!t) continue;
      const data = asF32(t, name);
      const at = data.findIndex((v) => !Number.isFinite(v));
      if (at >= 0) {
        const quantity = name.startsWith('velocity/') ? 'momentum' : layout.state.tensors.some((x) => x.name === name) ? 'model state' : 'parameters';
        return new TrainingDivergedError(
          `training diverged: non-finite ${quantity} at step ${state.info.step} (${name}[${at}] = ${data[at]}). Lower the learning rate (now ${state.info.lr}) or check the input data.`,
          state.info.step,
          quantity,
        );
      }
    }
    return null;
  }

  /** The factor on the configured learning-rate schedule (1 unless setLearningRateScale changed it). */
  get learningRateScale(): number {
    return this.lrScale;
  }

  /**
   * Multiplies the configured schedule (lr and its decays) by `scale` from the next step on, e.g. a
   * smaller rate after a divergence. Saved with the state (saveState / loadState).
   */
  setLearningRateScale(scale: number): void {
    if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`the learning-rate scale must be a positive number, got ${scale}`);
    this.lrScale = scale;
  }

  private setLr(lr: number): void {
    this.lr = lr;
    for (const g of this.sgd) g.dispatch.setUniforms({ n: g.n, lr, momentum: this.config.momentum, weight_decay: g.weightDecay });
  }

  /**
   * Everything the next steps depend on, read back from the GPU (call between steps, e.g. at a
   * checkpoint; pending statistics need not be awaited first): parameters, momentum, model state
   * (running statistics), early stopping's kept model and score, the statistics accumulated since the
   * last logging point, every minibatch stream (generator, epoch permutation and position, the
   * indices on the GPU), the step, the learning rate and the configuration. A fresh trainer made with
   * the same spec, data and config continues bit-identically after loadState(). Per-step scratch
   * (activations, gradients, the latest batch's weights) is recomputed by every step and not kept.
   */
  async saveState(): Promise<TrainerState> {
    this.gpu.checkAlive();
    const { gpu, model } = this;
    const { layout } = model;
    const tensors = new Map<string, SafeTensor>();
    const add = (entries: [string, SafeTensor][]) => {
      for (const [name, t] of entries) {
        if (tensors.has(name)) throw new Error(`two tensors of the trainer state are named "${name}"`);
        tensors.set(name, t);
      }
    };
    const read = (buffer: GPUBuffer, floats: number) => (floats > 0 ? gpu.readF32(buffer, floats) : Promise.resolve(new Float32Array(0)));
    add(splitLayout(layout, await read(model.params, layout.paddedSize), ''));
    add(splitLayout(layout.state, await read(model.state, layout.state.paddedSize), ''));
    add(splitLayout(layout, await read(model.velocity, layout.paddedSize), 'velocity/'));
    if (this.best) {
      add(splitLayout(layout, await read(this.best.params, layout.paddedSize), 'best/'));
      add(splitLayout(layout.state, await read(this.best.state, layout.state.paddedSize), 'best.state/'));
      add([['best/score', f32Tensor([4], await read(this.best.score, 4))]]);
    }
    add([['stats', f32Tensor([STAT_COUNT], await read(this.stats, STAT_COUNT))]]);
    if (this.tally) add([['weights/tally', f32Tensor([this.datasets.train.n, TALLY_FIELDS], await read(this.tally, this.datasets.train.n * TALLY_FIELDS))]]);
    const sources: SourceState[] = [];
    for (const src of this.phases.flatMap((p) => p.sources)) {
      const saved = await src.save(gpu);
      sources.push(saved.info);
      add(saved.tensors);
    }
    const info: TrainerStateInfo = {
      version: 1,
      model: this.spec.name,
      config: configJson(this.config),
      step: this.stepIndex,
      lr: this.lr,
      ...(this.lrScale === 1 ? {} : { lrScale: this.lrScale }),
      phase: this.phases.indexOf(this.currentPhase(this.stepIndex)),
      sources,
      best: this.best !== null,
    };
    return { info, tensors };
  }

  /**
   * Continues from a saveState() of a trainer with the same spec and configuration (and data). Every
   * check happens before anything changes: a state from another model or config, with a missing,
   * extra or misshapen tensor, or inconsistent stream positions, is refused with a message naming it.
   */
  loadState(state: TrainerState): void {
    this.gpu.checkAlive();
    const { info, tensors } = state;
    function refuse(what: string): never {
      throw new Error(`cannot load the trainer state: ${what}`);
    }
    if (info?.version !== 1) refuse(`unknown state version ${info?.version}`);
    if (info.model !== this.spec.name) refuse(`it was saved from model ${info.model}, this trainer runs ${this.spec.name}`);
    const diff = firstDifference(configJson(this.config), info.config);
    if (diff) refuse(`it was saved with ${valueText(diff.path, diff.found)}, this trainer has ${valueText(diff.path, diff.expected)}`);
    if (!Number.isInteger(info.step) || info.step < 0 || info.step > this.config.steps) refuse(`step ${info.step} is outside the run's ${this.config.steps} steps`);
    if (typeof info.lr !== 'number' || !Number.isFinite(info.lr) || info.lr <= 0) refuse(`bad learning rate ${info.lr}`);
    const lrScale = info.lrScale ?? 1;
    if (typeof lrScale !== 'number' || !Number.isFinite(lrScale) || lrScale <= 0) refuse(`bad learning-rate scale ${info.lrScale}`);
    const phase = this.phases.indexOf(this.currentPhase(info.step));
    if (info.phase !== phase) refuse(`it says phase ${info.phase} at step ${info.step}, where this run is in phase ${phase}`);
    const sources = this.phases.flatMap((p) => p.sources);
    const labels = sources.map((src) => src.label).join(', ');
    if (!Array.isArray(info.sources) || info.sources.map((x) => x?.label).join(', ') !== labels) {
      refuse(`its minibatch streams are not this trainer's (${labels})`);
    }
    const { model } = this;
    const { layout } = model;
    // The tensors, each with its dtype and shape (null: any length, checked by the stream).
    const expected: [string, 'F32' | 'U32', readonly number[] | null][] = [];
    const slots = (l: TensorLayout, prefix: string) => l.tensors.forEach((t) => expected.push([prefix + t.name, 'F32', t.shape]));
    slots(layout, '');
    slots(layout.state, '');
    slots(layout, 'velocity/');
    if (info.best) {
      slots(layout, 'best/');
      slots(layout.state, 'best.state/');
      expected.push(['best/score', 'F32', [4]]);
    }
    expected.push(['stats', 'F32', [STAT_COUNT]]);
    if (this.tally) expected.push(['weights/tally', 'F32', [this.datasets.train.n, TALLY_FIELDS]]);
    sources.forEach((src, i) => src.expectedTensors(info.sources[i]).forEach(([name, shape]) => expected.push([name, 'U32', shape[0] < 0 ? null : shape])));
    for (const [name, dtype, shape] of expected) {
      const t = tensors.get(name);
      if (!t) refuse(`tensor ${name} is missing`);
      if (t.dtype !== dtype) refuse(`tensor ${name} is ${t.dtype}, expected ${dtype}`);
      if (shape ? t.shape.join(',') !== shape.join(',') : t.shape.length !== 1) refuse(`tensor ${name} has shape [${t.shape}], expected [${shape ?? 'n'}]`);
    }
    const known = new Set(expected.map(([name]) => name));
    const extra = [...tensors.keys()].filter((name) => !known.has(name));
    if (extra.length) refuse(`unexpected tensor(s) ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
    let applySources: (() => void)[] = [];
    try {
      applySources = sources.map((src, i) => src.prepareLoad(this.gpu, info.sources[i], tensors));
    } catch (e) {
      refuse((e as Error).message);
    }
    // Checked: now write.
    const join = (l: TensorLayout, prefix: string) => {
      const padded = new Float32Array(l.paddedSize);
      for (const t of l.tensors) padded.set(asF32(tensors.get(prefix + t.name)!, prefix + t.name), t.offset);
      return padded;
    };
    const { gpu } = this;
    gpu.write(model.params, join(layout, ''));
    gpu.write(model.velocity, join(layout, 'velocity/'));
    if (layout.state.paddedSize) gpu.write(model.state, join(layout.state, ''));
    if (info.best) {
      const best = this.ensureBest();
      gpu.write(best.params, join(layout, 'best/'));
      if (layout.state.paddedSize) gpu.write(best.state, join(layout.state, 'best.state/'));
      gpu.write(best.score, asF32(tensors.get('best/score')!));
    }
    gpu.write(this.stats, asF32(tensors.get('stats')!));
    if (this.tally) gpu.write(this.tally, asF32(tensors.get('weights/tally')!));
    for (const apply of applySources) apply();
    this.stepIndex = info.step;
    this.lrScale = lrScale;
    this.setLr(info.lr);
  }

  private phaseStart(phase: Phase): number {
    return phase === this.phases[0] ? 0 : this.secondPhaseStart;
  }

  learningRateAt(step: number): number {
    const d = this.config.lrDecay;
    if (!d) return this.config.lr * this.lrScale;
    const passed = d.atSteps.filter((s) => step >= s).length;
    return this.config.lr * Math.pow(d.factor, passed) * this.lrScale;
  }

  /** Test error and mean loss over a whole split, in one submit and one readback. */
  async evaluate(split: 'test' | 'clean' | 'train'): Promise<{ error: number; loss: number; n: number }> {
    const data = this.datasets[split];
    if (!data) throw new Error(`no ${split} set was given to the trainer`);
    const { dispatches, out } = this.evalProgram(split, data);
    this.gpu.run(`evaluate ${split}`, (enc) => {
      enc.clearBuffer(out);
      encodeDispatches(enc, dispatches, `evaluate ${split}`);
    });
    const [errors, lossSum] = await this.gpu.readF32(out, 2);
    return { error: errors / data.n, loss: lossSum / data.n, n: data.n };
  }

  private readonly evalPrograms = new Map<string, { dispatches: Dispatch[]; out: GPUBuffer }>();

  /** Planned once per split: chunks of EVAL_CHUNK examples gathered in order, forward, error count. */
  private evalProgram(split: string, data: GpuDataset): { dispatches: Dispatch[]; out: GPUBuffer } {
    let prog = this.evalPrograms.get(split);
    if (prog) return prog;
    const { gpu, k, model } = this;
    const scope = this.scope.child(`eval.${split}`);
    this.evalPlan ??= this.scope.own(new BatchPlan(gpu, this.compiled, EVAL_CHUNK, { mode: 'eval', signals: false, label: 'eval' }));
    const e = this.evalPlan;
    const out = scope.buffer(`eval.${split}.out`, 16);
    const noIndices = scope.buffer(`eval.${split}.noindices`, 16);
    const forward = e.forward(model.params, model.state);
    const dispatches: Dispatch[] = [];
    for (let start = 0; start < data.n; start += e.n) {
      // A last, shorter chunk gathers and counts only its rows; the stale rows beyond are ignored.
      const rows = Math.min(e.n, data.n - start);
      const gather = k.gather({ format: data.format, sequential: true, normalize: Boolean(this.norm) });
      dispatches.push(scope.own(gather.plan(data, noIndices, e.x, e.y, rows, start, `eval.gather@${start}`, this.transform())));
      dispatches.push(...forward);
      dispatches.push(scope.own(k.countErrors.plan(e.logits, e.y, out, rows, this.classes, `eval.count@${start}`)));
    }
    prog = { dispatches, out };
    this.evalPrograms.set(split, prog);
    return prog;
  }

  private best: { dispatches: Dispatch[]; evalOut: GPUBuffer; params: GPUBuffer; state: GPUBuffer; score: GPUBuffer } | null = null;

  /**
   * Early stopping (methods that select on the clean set): evaluates the clean set and, on the GPU,
   * keeps a copy of the parameters and model state when its accuracy is the best so far (fewer
   * errors; on a tie, a lower loss; else the earlier model). One submit, no readback: call it at
   * every evaluation point, and restoreBest() before the final evaluation.
   */
  trackBest(): void {
    const b = this.ensureBest();
    this.gpu.run('track best', (enc) => {
      enc.clearBuffer(b.evalOut);
      encodeDispatches(enc, b.dispatches, 'track best');
    });
  }

  /** Early stopping's buffers and program (made on first use). */
  private ensureBest(): NonNullable<Trainer['best']> {
    const clean = this.datasets.clean;
    if (!this.best) {
      const { model } = this;
      const scope = this.scope.child('best');
      const { dispatches: evalDispatches, out } = this.evalProgram('clean', clean);
      const params = scope.buffer('best.params', model.layout.paddedSize * 4);
      const state = scope.buffer('best.state', Math.max(1, model.layout.state.paddedSize) * 4);
      const score = scope.upload('best.score', new Float32Array([Infinity, Infinity, 0, 0]));
      const copies = [
        { current: model.params, best: params, n: model.layout.paddedSize },
        ...(model.layout.state.paddedSize ? [{ current: model.state, best: state, n: model.layout.state.paddedSize }] : []),
      ];
      this.best = { dispatches: [...evalDispatches, ...scope.ownAll(this.k.keepBest.plan(out, score, copies, 'keep_best'))], evalOut: out, params, state, score };
    }
    return this.best;
  }

  /** Puts the kept best model (trackBest) back into the parameters and state; false when none was kept. */
  async restoreBest(): Promise<boolean> {
    if (!this.best) return false;
    const b = this.best;
    const [bestErrors] = await this.gpu.readF32(b.score, 1);
    if (!Number.isFinite(bestErrors)) return false;
    const { model } = this;
    this.gpu.run('restore best', (enc) => {
      enc.copyBufferToBuffer(b.params, 0, model.params, 0, model.layout.paddedSize * 4);
      if (model.layout.state.paddedSize) enc.copyBufferToBuffer(b.state, 0, model.state, 0, model.layout.state.paddedSize * 4);
    });
    return true;
  }

  /** Whether the method keeps the best model on the clean set (early stopping). */
  get selectsOnClean(): boolean {
    return selectsOnClean(this.config.method);
  }

  /**
   * What the method made of each training example so far (config.tallyWeights; one readback): for
   * example i of the training set, the sum of the weights it got, the steps that drew it, and those
   * that gave it weight 0. Null without the tally.
   */
  async weightTally(): Promise<WeightTallyCounts | null> {
    if (!this.tally) return null;
    const n = this.datasets.train.n;
    const t = await this.gpu.readF32(this.tally, n * TALLY_FIELDS);
    const pick = (k: number) => Float32Array.from({ length: n }, (_, i) => t[i * TALLY_FIELDS + k]);
    return { sum: pick(0), draws: pick(1), zeros: pick(2) };
  }

  /** The model's parameters and state (running statistics) by tensor name, as saveState names them. */
  async modelTensors(): Promise<Map<string, SafeTensor>> {
    this.gpu.checkAlive();
    const { layout } = this.model;
    const out = new Map<string, SafeTensor>(splitLayout(layout, await this.gpu.readF32(this.model.params, layout.paddedSize), ''));
    if (layout.state.paddedSize) for (const [name, t] of splitLayout(layout.state, await this.gpu.readF32(this.model.state, layout.state.paddedSize), '')) out.set(name, t);
    return out;
  }

  /** The latest training minibatch and what the method made of it (readbacks: demos and tests only). */
  async inspectLastBatch(): Promise<BatchInspection> {
    const step = Math.max(0, this.stepIndex - 1);
    const phase = this.currentPhase(step);
    const src = phase.sources[0];
    const n = phase.n;
    return {
      source: phase.decl.source,
      indices: await this.gpu.readU32({ buffer: src.indices, offset: src.lastOffset * 4, size: n * 4 }, n),
      weights: await this.gpu.readF32(this.weights, n),
      losses: await this.gpu.readF32(phase.f.loss, n),
      alignments: phase.alignment ? await this.gpu.readF32(phase.alignment, n) : null,
    };
  }

  /** Frees every GPU object the trainer made (model, datasets, plans, dispatches). */
  destroy(): void {
    this.scope.destroy();
  }
}

/** Per-class weights 1/count (0 for absent classes), for the Proportion baseline. */
export function inverseFrequency(labels: Uint32Array, classes: number): Float32Array {
  const counts = new Float64Array(classes);
  for (const y of labels) if (y < classes) counts[y]++;
  return Float32Array.from(counts, (c) => (c > 0 ? 1 / c : 0));
}

function validateConfig(c: TrainConfig, data: TrainData): ResolvedConfig {
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new Error(msg);
  };
  need(Number.isInteger(c.steps) && c.steps >= 1, `steps must be a positive integer, got ${c.steps}`);
  need(Number.isInteger(c.batch) && c.batch >= 1, `batch must be a positive integer, got ${c.batch}`);
  need(Number.isFinite(c.lr) && c.lr > 0, `lr must be a positive number, got ${c.lr}`);
  need(Number.isFinite(c.momentum) && c.momentum >= 0 && c.momentum < 1, `momentum must be in [0, 1), got ${c.momentum}`);
  need(Number.isFinite(c.weightDecay) && c.weightDecay >= 0, `weight decay must be >= 0, got ${c.weightDecay}`);
  need(Number.isInteger(c.logEvery) && c.logEvery >= 1, `logEvery must be a positive integer, got ${c.logEvery}`);
  need(data.train.n >= 1, 'the training set is empty');
  need(data.clean.n >= 1 || !usesCleanSet(c.method), `method ${c.method} needs a clean set`);
  const valBatch = c.valBatch ?? Math.min(data.clean.n, c.batch);
  need(Number.isInteger(valBatch) && valBatch >= 1, `valBatch must be a positive integer, got ${valBatch}`);
  const keep = c.hardMiningKeep ?? 0.5;
  const alpha = c.lookaheadAlpha ?? 1;
  need(Number.isFinite(alpha) && alpha > 0, `the lookahead step size must be a positive number, got ${alpha}`);
  need(keep > 0 && keep <= 1, `hardMiningKeep must be in (0, 1], got ${keep}`);
  const phases = methodDecl(c.method).phases.length;
  const ft = c.finetuneSteps ?? (phases > 1 ? Math.max(1, Math.round(c.steps / 10)) : 0);
  need(Number.isInteger(ft) && ft >= 0 && ft <= c.steps, `finetuneSteps must be an integer in [0, steps], got ${ft}`);
  if (c.lrDecay) need(c.lrDecay.factor > 0 && c.lrDecay.atSteps.every((s) => Number.isInteger(s) && s >= 0), 'lrDecay needs a positive factor and integer steps');
  if (c.augment) need(Number.isInteger(c.augment.pad) && c.augment.pad >= 0 && c.augment.pad <= 100, `augment.pad must be an integer in [0, 100], got ${c.augment.pad}`);
  if (c.normalize) normalizationTable(c.normalize.mean, c.normalize.std); // throws on bad values
  const path = c.l2rwPath ?? 'auto';
  need(['auto', 'fast', 'general'].includes(path), `l2rwPath must be 'auto', 'fast' or 'general', got ${path}`);
  return {
    ...c,
    valBatch,
    hardMiningKeep: keep,
    lookaheadAlpha: alpha,
    finetuneSteps: ft,
    indexChunk: c.indexChunk ?? 200,
    l2rwPath: path,
    decayBiases: c.decayBiases ?? true,
    augment: c.augment,
    normalize: c.normalize,
    lrDecay: c.lrDecay,
  };
}
