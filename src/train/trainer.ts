// The training loop on the GPU. Every step of every method is recorded into one command buffer and
// submitted once; nothing is read back inside a step. Statistics accumulate on the GPU and are copied
// out every `logEvery` steps by the same submit, then mapped asynchronously (stats_reader.ts).
import type { Gpu } from '../gpu/gpu';
import { encodeDispatches, type Dispatch } from '../kernels/kernel';
import { STAT_COUNT } from '../kernels/step_stats';
import { weightUniforms, type WeightOptions } from '../kernels/example_weights';
import { wordsPerExample } from '../kernels/gather_batch';
import { uploadDataset, type GpuDataset, type HostDataset } from './dataset';
import { METHOD_PLANS, type Method } from './methods';
import { GpuModel } from './model';
import { loadModelKernels, type ModelKernels } from './model_kernels';
import { BatchPlan } from './network';
import { IndexStream, type SamplingMode } from './sampler';
import { numClasses, type ModelSpec } from './spec';
import { StatsReader, type StepStatsSnapshot } from './stats_reader';

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
  /** Fine-tune: steps on the clean set after the training-set phase (set by the caller). */
  finetuneSteps?: number;
  /** Steps of minibatch indices uploaded at a time. */
  indexChunk?: number;
}

export interface TrainData {
  train: HostDataset;
  clean: HostDataset;
  test?: HostDataset;
  /** 1 for examples whose weight should be tracked (e.g. known-mislabelled ones). */
  trainFlags?: Uint8Array;
}

/** Evaluation batch size: large enough to amortise dispatches, small enough for LeNet activations. */
const EVAL_CHUNK = 500;

/**
 * The statistics of a logging step, still on their way back: `stats` resolves once the GPU has
 * finished that step (it rejects with TrainingDivergedError on NaN/inf). Await it whenever the
 * numbers are needed; every such promise must be awaited or handled.
 */
export interface PendingStats {
  step: number;
  stats: Promise<StepStatsSnapshot>;
}

export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

/** One minibatch stream over one GPU dataset: indices uploaded in chunks, gathered on the GPU. */
class BatchSource {
  readonly indices: GPUBuffer;
  private readonly stream: IndexStream;
  private readonly gathers: { dispatch: Dispatch; source: GpuDataset }[] = [];
  private uploadedUpTo = 0;
  /** Element offset of the current batch inside `indices`. */
  lastOffset = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly data: GpuDataset,
    readonly n: number,
    mode: SamplingMode,
    seed: number,
    private readonly chunk: number,
    label: string,
  ) {
    this.stream = new IndexStream(data.hostLabels, mode, seed);
    this.indices = gpu.buffer(`${label}.indices`, chunk * n * 4);
  }

  /** Plans a gather of this stream's current batch into (x, y); several targets may share a stream. */
  gatherInto(k: ModelKernels, source: GpuDataset, x: GPUBuffer, y: GPUBuffer, label: string): Dispatch {
    const dispatch = k.gather(source.format).plan(source, this.indices, x, y, this.n, 0, label);
    this.gathers.push({ dispatch, source });
    return dispatch;
  }

  /** Before recording step t: uploads the next chunk of indices when needed, points gathers at batch t. */
  prepare(step: number): void {
    if (step >= this.uploadedUpTo) {
      this.gpu.write(this.indices, this.stream.take(this.chunk * this.n));
      this.uploadedUpTo = step + this.chunk;
    }
    const offset = (step % this.chunk) * this.n;
    this.lastOffset = offset;
    for (const { dispatch, source } of this.gathers) {
      dispatch.setUniforms({ n: this.n, dim: source.dim, offset, words_per_example: wordsPerExample(source.dim, source.format) });
    }
  }
}

/** A recorded training step program for one phase (data source) of a method. */
interface Phase {
  name: string;
  sources: BatchSource[];
  dispatches: Dispatch[];
  weightsDispatch: Dispatch;
  weightOpts: WeightOptions;
  /** Minibatch size of this phase. */
  n: number;
  /** The training batch's plan (per-example losses) and alignments s (L2RW), for inspection. */
  f: BatchPlan;
  alignment: GPUBuffer | null;
}

export interface BatchInspection {
  /** Dataset indices of the latest training minibatch. */
  indices: Uint32Array;
  weights: Float32Array;
  losses: Float32Array;
  /** s_i = <∇f_i, ∇L_val> (L2RW only). */
  alignments: Float32Array | null;
}

export class Trainer {
  readonly model: GpuModel;
  readonly classes: number;
  private readonly datasets: { train: GpuDataset; clean: GpuDataset; test?: GpuDataset; flags?: GpuDataset };
  private readonly stats: GPUBuffer;
  private readonly reader: StatsReader;
  private readonly phases: Phase[] = [];
  private readonly sgd: Dispatch;
  private readonly plans: BatchPlan[] = [];
  /** Per-example weights of the latest training batch [n]. */
  readonly weights: GPUBuffer;
  private evalPlan: BatchPlan | null = null;
  /** Buffers this trainer made (besides plans, datasets and the model), destroyed with it. */
  private readonly owned: GPUBuffer[] = [];
  private stepIndex = 0;
  private lr: number;

  private constructor(
    private readonly gpu: Gpu,
    private readonly k: ModelKernels,
    readonly spec: ModelSpec,
    readonly config: Required<Omit<TrainConfig, 'lrDecay'>> & Pick<TrainConfig, 'lrDecay'>,
    data: TrainData,
    model: GpuModel,
  ) {
    this.model = model;
    this.classes = numClasses(spec);
    this.lr = config.lr;
    this.datasets = {
      train: uploadDataset(gpu, data.train, 'train'),
      clean: uploadDataset(gpu, data.clean, 'clean'),
      test: data.test ? uploadDataset(gpu, data.test, 'test') : undefined,
      flags: data.trainFlags ? uploadDataset(gpu, { x: data.trainFlags, y: data.train.y, n: data.train.n, dim: 1 }, 'train.flags') : undefined,
    };
    this.stats = this.own(gpu.buffer('stats', STAT_COUNT * 4));
    this.reader = new StatsReader(gpu, this.stats);
    this.owned.push(...this.reader.staging);
    this.weights = this.own(gpu.buffer('weights', config.batch * 4));
    const { layout, params, grads, velocity } = model;
    this.sgd = k.sgd.plan(params, velocity, grads, layout.paddedSize, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay }, 'sgd');
  }

  static async create(gpu: Gpu, spec: ModelSpec, data: TrainData, config: TrainConfig, init: { seed: number } | { params: ArrayLike<number> } = { seed: config.seed }): Promise<Trainer> {
    const cfg = validateConfig(config, data);
    const plan = METHOD_PLANS[cfg.method];
    const k = await loadModelKernels(gpu, spec, plan.rule);
    const model = GpuModel.create(gpu, spec, init);
    const t = new Trainer(gpu, k, spec, cfg, data, model);
    t.buildPhases();
    return t;
  }

  private own(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    return b;
  }

  get step(): number {
    return this.stepIndex;
  }

  private buildPhases(): void {
    const cfg = this.config;
    const method = METHOD_PLANS[cfg.method];
    if (cfg.method === 'finetune') {
      this.phases.push(this.buildPhase('train', 'train', cfg.batch, method.sampling, false));
      this.phases.push(this.buildPhase('finetune', 'clean', Math.min(cfg.batch, this.datasets.clean.n), 'shuffle', false));
    } else {
      const src = method.source;
      const n = src === 'clean' ? Math.min(cfg.batch, this.datasets.clean.n) : cfg.batch;
      this.phases.push(this.buildPhase(cfg.method, src, n, method.sampling, method.usesValidation));
    }
  }

  private buildPhase(name: string, from: 'train' | 'clean', n: number, sampling: SamplingMode, validate: boolean): Phase {
    const { gpu, k, model, config: cfg } = this;
    const { layout, params, grads } = model;
    const data = this.datasets[from];
    const chunk = cfg.indexChunk;
    const seedBase = cfg.seed * 7919 + this.phases.length * 104729;
    const trainSrc = new BatchSource(gpu, data, n, sampling, seedBase + 1, chunk, `${name}.train`);
    this.own(trainSrc.indices);
    const sources = [trainSrc];
    const f = new BatchPlan(gpu, k, layout, n, { signals: true, label: `${name}.f` });
    this.plans.push(f);
    const d: Dispatch[] = [];
    const ones = this.own(gpu.upload(`${name}.ones`, new Float32Array(n).fill(1)));
    const flags = this.own(gpu.buffer(`${name}.flags`, n * 4));
    const s = this.own(gpu.buffer(`${name}.alignment`, n * 4));
    const classWeight = this.own(gpu.upload(`${name}.classWeight`, inverseFrequency(data.hostLabels, this.classes)));
    const rule = k.weights;
    const keep = Math.max(1, Math.min(n, Math.ceil(cfg.hardMiningKeep * n)));

    // Algorithm 1, one step t. (Step 1 is the loop over t, in step() below.)
    // 2: {X_f, y_f} ← SampleMiniBatch(D_f, n): gathered on the GPU from indices uploaded in bulk.
    d.push(trainSrc.gatherInto(k, data, f.x, f.y, `${name}.gather`));
    if (from === 'train' && this.datasets.flags) {
      d.push(trainSrc.gatherInto(k, this.datasets.flags, flags, this.own(gpu.buffer(`${name}.trueY`, n * 4)), `${name}.gatherFlags`));
    }
    // 4: ŷ_f ← Forward(X_f, y_f, θ_t).
    d.push(...f.forward(params));
    // 5–6: l_f = Σ ε_i C(y_i, ŷ_i) and its backward pass. The gradient of l_f is linear in ε, so we
    //      backpropagate the unit signals δ_i = ∂C_i/∂(layer outputs) of every example once (ε_i = 1);
    //      any ε (and later the weights w) just scales example i's signals by ε_i.
    d.push(f.lossAndSignal(ones));
    d.push(...f.backward(params));
    let valLoss: GPUBuffer | null = null;
    let m = 0;
    if (validate) {
      // 3: {X_g, y_g} ← SampleMiniBatch(D_g, m).
      m = cfg.valBatch;
      const valSrc = new BatchSource(gpu, this.datasets.clean, m, 'shuffle', seedBase + 2, chunk, `${name}.val`);
      sources.push(valSrc);
      this.own(valSrc.indices);
      const g = new BatchPlan(gpu, k, layout, m, { signals: true, label: `${name}.g` });
      this.plans.push(g);
      valLoss = g.loss;
      d.push(valSrc.gatherInto(k, this.datasets.clean, g.x, g.y, `${name}.gatherVal`));
      // 7: θ̂_t = θ_t − α ∇θ_t with ∇θ_t = Σ ε_i ∇f_i = 0 at ε = 0, so θ̂_t = θ_t: nothing to compute.
      //    α only scales ∇ε below (∂L_g/∂ε_i = −α s_i), and step 11's normalisation divides it out:
      //    the weights do not depend on α > 0 (lookaheadAlpha; a test checks the invariance).
      // 8: ŷ_g ← Forward(X_g, y_g, θ̂_t); l_g = (1/m) Σ_j C(y_g,j, ŷ_g,j).
      d.push(...g.forward(params));
      d.push(g.lossAndSignal(this.own(gpu.upload(`${name}.invM`, new Float32Array(m).fill(1 / m)))));
      // 9: ∇θ̂ of l_g = g, the clean validation gradient (into `grads`, overwritten again in step 13).
      d.push(...g.backward(params));
      d.push(...g.weightGrads(grads, null));
      // 10: ∇ε_i = −α <∇f_i(θ_t), g> = −α s_i; s by per-layer alignment of the stored signals with g.
      d.push(...f.alignments(grads, s, g));
    }
    // 11: w̃ = max(−∇ε, 0) = α max(s, 0); w = w̃ / (Σ w̃ + δ(Σ w̃)). The baselines' rules go here too.
    const weightOpts = { k: keep, seed: cfg.seed, step: 0, scale: cfg.lookaheadAlpha };
    const weightsDispatch = rule.plan({ score: cfg.method === 'hardmining' ? f.loss : s, labels: f.y, classWeight, w: this.weights }, n, weightOpts, `${name}.weights`);
    d.push(weightsDispatch);
    // 12–13: l_f = Σ w_i C_i; ∇θ_t = Σ w_i ∇f_i from the unit signals scaled by w (no second backward).
    d.push(...f.weightGrads(grads, this.weights));
    // 14: θ_{t+1} ← OptimizerStep(θ_t, ∇θ_t): SGD with momentum and weight decay, one dispatch.
    d.push(this.sgd);
    d.push(k.stats.plan({ trainLoss: f.loss, w: this.weights, valLoss: valLoss ?? f.loss, flag: flags, stats: this.stats }, n, m, `${name}.stats`));
    return { name, sources, dispatches: d, weightsDispatch, weightOpts, n, f, alignment: validate ? s : null };
  }

  /** First step of the fine-tune phase (the run's length for every other method). */
  private get finetuneStart(): number {
    const { method, steps, finetuneSteps } = this.config;
    return method === 'finetune' ? steps - Math.min(finetuneSteps, steps) : steps;
  }

  private currentPhase(step: number): Phase {
    return this.phases.length > 1 && step >= this.finetuneStart ? this.phases[1] : this.phases[0];
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
    if (decayed !== this.lr) {
      this.lr = decayed;
      this.sgd.setUniforms({ n: this.model.layout.paddedSize, lr: decayed, momentum: this.config.momentum, weight_decay: this.config.weightDecay });
    }
    for (const src of phase.sources) src.prepare(t - this.phaseStart(phase));
    if (this.config.method === 'random') {
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
    const stats = this.reader.collect(slot, this.stepIndex).then((snap) => {
      if (snap.nonFinite > 0) {
        throw new TrainingDivergedError(
          `training diverged: ${snap.nonFinite} non-finite losses or weights in the ${snap.steps} steps before step ${snap.step} ` +
            `(mean loss ${snap.trainLoss}). Lower the learning rate (now ${this.lr}) or check the input data.`,
        );
      }
      return snap;
    });
    return { step: this.stepIndex, stats };
  }

  private phaseStart(phase: Phase): number {
    return phase === this.phases[0] ? 0 : this.finetuneStart;
  }

  learningRateAt(step: number): number {
    const d = this.config.lrDecay;
    if (!d) return this.config.lr;
    const passed = d.atSteps.filter((s) => step >= s).length;
    return this.config.lr * Math.pow(d.factor, passed);
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
    if (!this.evalPlan) {
      this.evalPlan = new BatchPlan(gpu, k, model.layout, EVAL_CHUNK, { signals: false, label: "eval" });
      this.plans.push(this.evalPlan);
    }
    const e = this.evalPlan;
    const out = this.own(gpu.buffer(`eval.${split}.out`, 16));
    const noIndices = this.own(gpu.buffer(`eval.${split}.noindices`, 16));
    const forward = e.forward(model.params);
    const dispatches: Dispatch[] = [];
    for (let start = 0; start < data.n; start += e.n) {
      // A last, shorter chunk gathers and counts only its rows; the stale rows beyond are ignored.
      const rows = Math.min(e.n, data.n - start);
      dispatches.push(k.gatherSequential(data.format).plan(data, noIndices, e.x, e.y, rows, start, `eval.gather@${start}`));
      dispatches.push(...forward);
      dispatches.push(k.countErrors.plan(e.logits, e.y, out, rows, this.classes, `eval.count@${start}`));
    }
    prog = { dispatches, out };
    this.evalPrograms.set(split, prog);
    return prog;
  }

  /** The latest training minibatch and what the method made of it (readbacks: demos and tests only). */
  async inspectLastBatch(): Promise<BatchInspection> {
    const phase = this.currentPhase(Math.max(0, this.stepIndex - 1));
    const src = phase.sources[0];
    const n = phase.n;
    return {
      indices: await this.gpu.readU32({ buffer: src.indices, offset: src.lastOffset * 4, size: n * 4 }, n),
      weights: await this.gpu.readF32(this.weights, n),
      losses: await this.gpu.readF32(phase.f.loss, n),
      alignments: phase.alignment ? await this.gpu.readF32(phase.alignment, n) : null,
    };
  }

  destroy(): void {
    for (const p of this.plans) p.destroy();
    this.datasets.train.destroy();
    this.datasets.clean.destroy();
    this.datasets.test?.destroy();
    this.datasets.flags?.destroy();
    this.model.destroy();
    for (const b of this.owned) this.gpu.destroy(b);
    this.owned.length = 0;
  }
}

/** Per-class weights 1/count (0 for absent classes), for the Proportion baseline. */
export function inverseFrequency(labels: Uint32Array, classes: number): Float32Array {
  const counts = new Float64Array(classes);
  for (const y of labels) if (y < classes) counts[y]++;
  return Float32Array.from(counts, (c) => (c > 0 ? 1 / c : 0));
}

function validateConfig(c: TrainConfig, data: TrainData): Trainer['config'] {
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
  need(data.clean.n >= 1 || !METHOD_PLANS[c.method].usesValidation, `method ${c.method} needs a clean validation set`);
  const valBatch = c.valBatch ?? Math.min(data.clean.n, c.batch);
  need(Number.isInteger(valBatch) && valBatch >= 1, `valBatch must be a positive integer, got ${valBatch}`);
  const keep = c.hardMiningKeep ?? 0.5;
  const alpha = c.lookaheadAlpha ?? 1;
  need(Number.isFinite(alpha) && alpha > 0, `the lookahead step size must be a positive number, got ${alpha}`);
  need(keep > 0 && keep <= 1, `hardMiningKeep must be in (0, 1], got ${keep}`);
  const ft = c.finetuneSteps ?? (c.method === 'finetune' ? Math.max(1, Math.round(c.steps / 10)) : 0);
  need(Number.isInteger(ft) && ft >= 0 && ft <= c.steps, `finetuneSteps must be an integer in [0, steps], got ${ft}`);
  if (c.lrDecay) need(c.lrDecay.factor > 0 && c.lrDecay.atSteps.every((s) => Number.isInteger(s) && s >= 0), 'lrDecay needs a positive factor and integer steps');
  return {
    ...c,
    valBatch,
    hardMiningKeep: keep,
    lookaheadAlpha: alpha,
    finetuneSteps: ft,
    indexChunk: c.indexChunk ?? 200,
    lrDecay: c.lrDecay,
  };
}

