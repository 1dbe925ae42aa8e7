// One training run: task -> Trainer -> steps with periodic evaluation -> a result record. The record
// is returned (and can be written) even when training stops early, so nothing computed is lost.
import type { Task } from '../data/tasks';
import { GpuLimitError } from '../gpu/errors';
import type { Gpu } from '../gpu/gpu';
import { usesValidation } from '../train/methods';
import { buildModel } from '../train/models';
import { INPUT, resolveModel, shapeSize, type ModelSpec } from '../train/spec';
import type { StepStatsSnapshot } from '../train/stats_reader';
import { checkpointMismatch, dataFingerprint, readCheckpoint, writeCheckpoint } from '../train/checkpoint';
import type { HostDataset } from '../train/dataset';
import { wordsPerExample } from '../kernels/gather_batch';
import { EVAL_CHUNK, Trainer, TrainingDivergedError, type TrainData, type TrainerState } from '../train/trainer';
import { DEFAULT_ROLLBACK_FACTOR, lrDecaySteps, MAX_ROLLBACKS, UsageError, type RunConfig } from './config';
import { buildTask, trainData, type RunData } from './data';

export interface CurvePoint {
  step: number;
  /** Mean training-batch loss (unweighted) over the steps since the previous point. */
  train_loss: number | null;
  /** Mean loss on the whole clean validation set. */
  val_loss: number;
  test_error: number;
  test_loss: number;
  /** Mean weighted training loss Σ w_i C_i per step. */
  weighted_loss: number | null;
  /** Mean number of zero-weight examples per minibatch. */
  zero_weights: number | null;
  /** Largest single example weight seen since the previous point. */
  max_weight: number | null;
  /** Noise task: mean total weight per minibatch given to mislabelled examples. */
  flagged_weight?: number | null;
  /** L2RW: mean loss of the clean validation minibatch it took its gradient on. */
  val_batch_loss?: number | null;
  /** Learning rate of the last step before this point (changes only with --lr-decay-at). */
  lr: number;
  /** The evaluation made when the run was interrupted (not one of the run's regular points). */
  interrupted?: true;
}

export type RunStatus = 'ok' | 'diverged' | 'failed' | 'interrupted';

export interface RunResult {
  status: RunStatus;
  error?: string;
  /** The JavaScript error class behind a 'failed' run (e.g. GpuLostError). */
  errorName?: string;
  task: string;
  method: string;
  model: string;
  config: RunConfig;
  data: { description: string; train: number; clean: number; test: number; classes: number };
  adapter: string;
  /** Steps actually trained. */
  steps: number;
  test_error: number | null;
  test_loss: number | null;
  val_loss: number | null;
  wall_s: number;
  /** Time spent training (GPU work included), excluding evaluations. */
  train_s: number;
  eval_s: number;
  steps_per_s: number;
  /** Early stopping: the result (test error, losses) is the model kept at the best clean-set evaluation. */
  selected?: boolean;
  /** The step this invocation continued from, when the run was resumed from a checkpoint. */
  resumed_from?: number;
  /**
   * A run that did not finish (interrupted, device lost, diverged): the checkpoint it can be resumed
   * from (`--resume`), and the step it holds. Absent when no checkpoint was written.
   */
  checkpoint?: string;
  checkpoint_step?: number;
  /** A diverged run: where the first NaN or infinity was seen (TrainingDivergedError's step and quantity). */
  divergence?: { step: number; quantity: string };
  /**
   * --on-diverge rollback: each divergence survived, in order: the step and quantity found non-finite,
   * the step of the checkpoint the run went back to, and the learning rate it continued with.
   */
  rollbacks?: Rollback[];
  curves: CurvePoint[];
  started_at: string;
}

export interface Rollback {
  step: number;
  quantity: string;
  to_step: number;
  lr: number;
}

export interface RunHooks {
  /** After each statistics readback (every few steps): the steps done and the latest mean loss. */
  onProgress?(step: number, loss: number): void;
  onEval?(point: CurvePoint): void;
  /** Checked before every step; true ends the run early with status 'interrupted' (and a checkpoint). */
  shouldStop?(): boolean;
  /** Checkpoints of this run: where, how often, and whether to continue from one. */
  checkpoint?: RunCheckpoints;
  /** After a checkpoint is written. */
  onCheckpoint?(step: number, file: string): void;
  /** Tally every training example's weights on the GPU (TrainConfig.tallyWeights), for onTrained. */
  tallyWeights?: boolean;
  /**
   * After a run that ended 'ok' (early stopping's kept model restored), before the trainer is freed:
   * read what is wanted from it (the model, the weight tally). A throw fails the run.
   */
  onTrained?(trainer: Trainer, task: Task): Promise<void>;
  /** After a divergence sent the run back to its last good checkpoint (--on-diverge rollback). */
  onRollback?(rollback: Rollback): void;
}

export interface RunCheckpoints {
  /** The checkpoint file (safetensors layout, written atomically). */
  file: string;
  /** Also write one every this many steps (0 or absent: only when the run is stopped). */
  every?: number;
  /** Continue from `file` when it exists; a checkpoint of another config or data is refused. */
  resume?: boolean;
}

/** What a checkpoint keeps besides the trainer: the run's record so far. */
interface RunProgress {
  curves: CurvePoint[];
  /** Statistics since the last evaluation, for the next curve point. */
  window: StepStatsSnapshot[];
  train_s: number;
  eval_s: number;
  wall_s: number;
  started_at: string;
  /** --on-diverge rollback: the rollbacks made so far. */
  rollbacks?: Rollback[];
}

/**
 * The settings a checkpoint must share with the run that continues it: all of them but where the
 * data lives (the same files mounted elsewhere give the same run) and what a divergence does (so a
 * run that diverged can continue from its last good checkpoint with --on-diverge rollback).
 */
function checkpointConfig(c: RunConfig): Omit<RunConfig, 'dataDir' | 'onDiverge' | 'rollbackFactor'> {
  const { dataDir: _d, onDiverge: _o, rollbackFactor: _f, ...rest } = c;
  return rest;
}

/**
 * The run's record as checkpoint JSON, keeping the numbers JSON has no literal for (a curve of huge
 * losses holds Infinity; NaN) as {"$number": "Infinity"} so a resumed run's record is the same.
 */
function progressJson(p: RunProgress): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v)));
}

function progressFromJson(json: unknown): RunProgress {
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$number' && ['NaN', 'Infinity', '-Infinity'].includes(o.$number as string)) return Number(o.$number);
    return Object.fromEntries(keys.map((k) => [k, revive(o[k])]));
  };
  return revive(json) as RunProgress;
}

export function modelSpec(c: RunConfig, task: Pick<Task, 'inputShape' | 'numClasses'>): ModelSpec {
  return buildModel(c.model, { input: task.inputShape, classes: task.numClasses, hidden: c.hidden });
}

/** Steps between statistics readbacks: a divisor of evalEvery, at most 10, so progress stays live. */
export function logInterval(evalEvery: number): number {
  for (let d = Math.min(10, evalEvery); d > 1; d--) if (evalEvery % d === 0) return d;
  return 1;
}

const now = () => performance.now() / 1000;

async function fileExists(file: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  return stat(file).then(
    () => true,
    () => false,
  );
}

type BufferLimits = Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;

/** The smaller of the two limits on one storage buffer, and its name. */
function bufferLimit(limits: BufferLimits): [string, number] {
  return limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? ['maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize] : ['maxBufferSize', limits.maxBufferSize];
}

/**
 * Refuses a batch whose buffers cannot exist on this device, before anything is allocated. Every
 * activation, signal and gather buffer of a batch holds batch x (one example's tensor) f32 values,
 * and each is one storage buffer, so the largest tensor per example (also the trainer's 200 chunked
 * indices and the clean-batch Gram rows) times the batch must fit maxStorageBufferBindingSize and
 * maxBufferSize. The clean validation batch (at most --batch examples) is covered by the same bound;
 * evaluation runs EVAL_CHUNK examples at a time whatever the batch, so its activations are checked
 * too.
 */
export function checkBatchFits(limits: BufferLimits, spec: ModelSpec, batch: number, cleanN: number): void {
  const model = resolveModel(spec);
  const tensors: [string, number][] = [[INPUT, shapeSize(model.input)], ...model.nodes.map((n): [string, number] => [n.id, shapeSize(n.outShape)])];
  const [name, floats] = tensors.reduce((a, b) => (b[1] > a[1] ? b : a));
  const perExample = 4 * Math.max(floats, 200, Math.min(cleanN, batch));
  const [limitName, limit] = bufferLimit(limits);
  if (batch * perExample > limit) {
    const fits = Math.floor(limit / perExample);
    throw new UsageError(
      `--batch ${batch} is too large for this GPU: ${spec.name}'s largest tensor ("${name}", ${floats} values per example) needs ` +
        `${batch * perExample} bytes for the batch, but one buffer may hold at most ${limit} bytes (${limitName}); ` +
        (fits >= 1 ? `use --batch ${fits} or less` : 'use a smaller model'),
    );
  }
  const evalBytes = EVAL_CHUNK * 4 * floats;
  if (evalBytes > limit) {
    throw new UsageError(
      `${spec.name} is too large for this GPU: evaluation runs ${EVAL_CHUNK} examples at a time (whatever --batch, here ${batch}), and its largest tensor ` +
        `("${name}", ${floats} values per example) needs ${evalBytes} bytes for them in one buffer ("${name === INPUT ? 'eval.x' : `eval.act.${name}`}"), but one buffer may hold at most ` +
        `${limit} bytes (${limitName}); use a smaller model`,
    );
  }
}

/**
 * Refuses data whose splits cannot be uploaded to this device: each split (training, clean, test)
 * lives in one storage buffer (bytes packed four to a word, or f32 values), which must fit
 * maxStorageBufferBindingSize and maxBufferSize.
 */
export function checkDataFits(limits: BufferLimits, data: TrainData): void {
  const [limitName, limit] = bufferLimit(limits);
  const splits: [string, string, HostDataset | undefined, string][] = [
    ['training set', 'train.x', data.train, '--train-size'],
    ['clean set', 'clean.x', data.clean, '--clean'],
    ['test set', 'test.x', data.test, ''],
  ];
  for (const [what, label, d, flag] of splits) {
    if (!d) continue;
    const format = d.x instanceof Uint8Array ? 'u8' : 'f32';
    const perExample = 4 * wordsPerExample(d.dim, format);
    const bytes = Math.ceil((d.n * perExample) / 16) * 16;
    if (bytes <= limit) continue;
    const fits = Math.floor(limit / perExample);
    throw new UsageError(
      `the ${what} is too large for this GPU: ${d.n} examples of ${d.dim} ${format === 'u8' ? 'bytes' : 'values'} need ${bytes} bytes in one buffer ("${label}"), ` +
        `but one buffer may hold at most ${limit} bytes (${limitName}); ` +
        (flag ? `use ${flag === '--clean' ? 'a smaller --clean' : `${flag} ${fits} or less`}` : `use at most ${fits} examples`),
    );
  }
}

/**
 * Every size check that needs the device's limits but nothing on it: the batch (checkBatchFits) and
 * the data (checkDataFits). `data` defaults to the task's, built here.
 */
export function checkRunFits(limits: BufferLimits, mnist: RunData, c: RunConfig, task: Task = buildTask(mnist, c), data: TrainData = trainData(mnist, task)): void {
  checkBatchFits(limits, modelSpec(c, task), c.batch, task.clean.n);
  checkDataFits(limits, data);
}

/**
 * Trains one model as `c` says. Never throws for training failures (divergence, device loss): those
 * come back as status 'diverged' / 'failed' with the curves measured so far. Argument errors
 * (UsageError from the task builder) do throw, before anything runs.
 */
export async function runExperiment(gpu: Gpu, mnist: RunData, c: RunConfig, hooks: RunHooks = {}): Promise<RunResult> {
  const started_at = new Date().toISOString();
  const t0 = now();
  const task = buildTask(mnist, c);
  const data = trainData(mnist, task);
  const spec = modelSpec(c, task);
  checkRunFits(gpu.limits, mnist, c, task, data);
  const result: RunResult = {
    status: 'ok',
    task: task.name,
    method: c.method,
    model: spec.name,
    config: { ...c },
    data: { description: task.description, train: task.train.n, clean: task.clean.n, test: task.test.n, classes: task.numClasses },
    adapter: gpu.name,
    steps: 0,
    test_error: null,
    test_loss: null,
    val_loss: null,
    wall_s: 0,
    train_s: 0,
    eval_s: 0,
    steps_per_s: 0,
    curves: [],
    started_at,
  };
  let trainer: Trainer | null = null;
  // Seconds spent in this invocation's evaluations, and by earlier invocations of this run (resumed
  // from a checkpoint).
  let evalS = 0;
  let prior = { train_s: 0, eval_s: 0, wall_s: 0 };
  // The step of the checkpoint on disk (written by this invocation, or the one it resumed from).
  let checkpointStep: number | null = null;
  try {
    const logEvery = logInterval(c.evalEvery);
    const t = await Trainer.create(gpu, spec, data, {
      method: c.method,
      steps: c.steps,
      batch: c.batch,
      lr: c.lr,
      momentum: c.momentum,
      weightDecay: c.weightDecay,
      lrDecay: { atSteps: lrDecaySteps(c), factor: c.lrDecayFactor },
      seed: c.seed,
      logEvery,
      decayBiases: c.decayBiases ?? true,
      augment: c.augmentPad === undefined ? undefined : { pad: c.augmentPad },
      l2rwPath: c.l2rwPath ?? 'auto',
      ...(hooks.tallyWeights ? { tallyWeights: true } : {}),
    });
    trainer = t;
    const rollback = c.onDiverge === 'rollback' ? { factor: c.rollbackFactor ?? DEFAULT_ROLLBACK_FACTOR, done: [] as Rollback[] } : null;
    if (rollback) result.rollbacks = rollback.done;
    // Snapshots since the last evaluation, aggregated into the next curve point.
    let window: StepStatsSnapshot[] = [];
    let inflight: Promise<StepStatsSnapshot>[] = [];
    // The first statistics readback that failed (a lost device, a divergence): the run stops at the
    // next step instead of training on until the next evaluation drains the queue.
    const failed: { error?: unknown } = {};
    const ck = hooks.checkpoint;
    const meta = ck ? { config: checkpointConfig(c), data: dataFingerprint(data) } : undefined;
    // --on-diverge rollback: the last good state (checked finite) and the record up to it, in memory.
    let good: { state: TrainerState; progress: RunProgress; step: number } | null = null;
    const tTrain = now();
    const progressNow = (): RunProgress => ({
      curves: result.curves.slice(),
      window: window.slice(),
      train_s: prior.train_s + (now() - tTrain - evalS),
      eval_s: prior.eval_s + evalS,
      wall_s: prior.wall_s + (now() - t0),
      started_at: result.started_at,
      ...(rollback ? { rollbacks: rollback.done.slice() } : {}),
    });
    if (ck?.resume && meta && (await fileExists(ck.file))) {
      const saved = await readCheckpoint(ck.file).catch((e: unknown) => {
        throw new UsageError(`--resume: ${(e as Error).message}`);
      });
      const why = checkpointMismatch(meta, saved.meta);
      if (why) throw new UsageError(`--resume: ${ck.file} belongs to another run: ${why}`);
      t.loadState(saved.state);
      const p = progressFromJson(saved.meta.extra);
      prior = { train_s: p.train_s, eval_s: p.eval_s, wall_s: p.wall_s };
      result.curves = p.curves;
      window = p.window;
      result.started_at = p.started_at;
      result.steps = t.step;
      result.resumed_from = t.step;
      checkpointStep = t.step;
      if (rollback && p.rollbacks) rollback.done.push(...p.rollbacks);
      if (rollback) good = { state: saved.state, progress: progressNow(), step: t.step };
      const last = p.curves.at(-1);
      if (last) Object.assign(result, { test_error: last.test_error, test_loss: last.test_loss, val_loss: last.val_loss });
    }
    if (rollback && !good) good = { state: await t.saveState(), progress: progressNow(), step: t.step };
    /**
     * The state after step `step`, checked (statistics not yet read back, parameters) and kept: in the
     * run's checkpoint file when `toDisk`, and in memory as the state to roll back to. A state with a
     * NaN or infinity throws TrainingDivergedError and replaces nothing.
     */
    const save = async (step: number, toDisk: boolean) => {
      window.push(...(await Promise.all(inflight)));
      inflight = [];
      // The state is read back whole before the file is touched, and written atomically: a device lost
      // meanwhile leaves the previous checkpoint as it was.
      const state = await t.saveState();
      const diverged = t.divergenceIn(state);
      if (diverged) throw diverged;
      const progress = progressNow();
      if (rollback) good = { state, progress, step };
      if (toDisk && ck && meta) {
        await writeCheckpoint(ck.file, state, { ...meta, extra: progressJson(progress) });
        checkpointStep = step;
        hooks.onCheckpoint?.(step, ck.file);
      }
    };
    /** Test error and losses of the model as it stands; a NaN or infinity there is a divergence. */
    const evaluate = async (step: number) => {
      const te = now();
      const val = await t.evaluate('clean');
      const test = await t.evaluate('test');
      evalS += now() - te;
      const bad = [
        ['clean', val.loss],
        ['test', test.loss],
      ].find(([, v]) => !Number.isFinite(v));
      if (bad) {
        throw new TrainingDivergedError(
          `training diverged: non-finite parameters at step ${step} (the mean loss on the ${bad[0]} set is ${bad[1]}). Lower the learning rate (now ${t.learningRateAt(step - 1)}) or check the input data.`,
          step,
          'parameters',
        );
      }
      return { val, test };
    };
    // Where --on-diverge rollback keeps a state to go back to: at each checkpoint, else at each evaluation.
    const keepEvery = rollback ? ck?.every || c.evalEvery : 0;
    const train = async () => {
      for (let i = t.step; i < c.steps; i++) {
        if (hooks.shouldStop?.()) {
          result.status = 'interrupted';
          result.error = `interrupted after ${i} of ${c.steps} steps`;
          if (ck) {
            await save(i, true);
            Object.assign(result, { checkpoint: ck.file, checkpoint_step: i });
          }
          // The model as it stands, so an interrupted run still reports where it got to. After the
          // checkpoint, whose curves stay those of an uninterrupted run.
          if (i > 0 && i !== result.curves.at(-1)?.step) {
            window.push(...(await Promise.all(inflight)));
            inflight = [];
            const { val, test } = await evaluate(i);
            const point: CurvePoint = { ...curvePoint(i, t.learningRateAt(i - 1), window, val.loss, test, c, data.trainFlags !== undefined), interrupted: true };
            window = [];
            result.curves.push(point);
            Object.assign(result, { test_error: test.error, test_loss: test.loss, val_loss: val.loss });
            hooks.onEval?.(point);
          }
          return;
        }
        // Statistics come back asynchronously: progress is reported when they arrive; a failed
        // readback (divergence, device loss) stops the run at the next step.
        if ('error' in failed) throw failed.error;
        const pending = await t.trainStep();
        if (pending) {
          inflight.push(pending.stats);
          pending.stats.then(
            (s) => hooks.onProgress?.(s.step, s.trainLoss),
            (e: unknown) => {
              if (!('error' in failed)) failed.error = e;
            },
          );
        }
        result.steps = i + 1;
        const last = i + 1 === c.steps;
        if ((i + 1) % c.evalEvery === 0 || last) {
          window.push(...(await Promise.all(inflight)));
          inflight = [];
          await gpu.idle();
          // Early stopping: keep the model if it is the best on the clean set so far (on the GPU).
          if (t.selectsOnClean) t.trackBest();
          const { val, test } = await evaluate(i + 1);
          const point = curvePoint(i + 1, t.learningRateAt(i), window, val.loss, test, c, data.trainFlags !== undefined);
          window = [];
          result.curves.push(point);
          result.test_error = test.error;
          result.test_loss = test.loss;
          result.val_loss = val.loss;
          hooks.onEval?.(point);
        }
        const toDisk = Boolean(ck?.every && (i + 1) % ck.every === 0);
        const keep = keepEvery > 0 && (i + 1) % keepEvery === 0;
        if ((toDisk || keep) && !last) await save(i + 1, toDisk);
      }
    };
    for (;;) {
      try {
        await train();
        break;
      } catch (e) {
        if (!(e instanceof TrainingDivergedError) || !rollback) throw e;
        // Whatever is still in flight belongs to the diverged steps.
        await Promise.allSettled(inflight);
        inflight = [];
        delete failed.error;
        if (!good || rollback.done.length >= MAX_ROLLBACKS) {
          const lr = t.learningRateAt(Math.max(0, t.step - 1));
          throw new TrainingDivergedError(`${e.message.replace(/\.\s*$/, '')}; gave up after ${rollback.done.length} rollback(s), the last at learning rate ${lr}.`, e.step, e.quantity);
        }
        // Back to the last good state, the learning rate scaled down from there on.
        const scale = t.learningRateScale * rollback.factor;
        t.loadState(good.state);
        t.setLearningRateScale(scale);
        result.curves = good.progress.curves.slice();
        window = good.progress.window.slice();
        result.steps = t.step;
        const last = result.curves.at(-1);
        Object.assign(result, { test_error: last?.test_error ?? null, test_loss: last?.test_loss ?? null, val_loss: last?.val_loss ?? null });
        const r: Rollback = { step: e.step, quantity: e.quantity, to_step: good.step, lr: t.learningRateAt(t.step) };
        rollback.done.push(r);
        hooks.onRollback?.(r);
      }
    }
    result.train_s = prior.train_s + (now() - tTrain - evalS);
    if (t.selectsOnClean && result.status === 'ok' && (await t.restoreBest())) {
      // The run's result is the kept model's (the curves show the model at each evaluation point).
      const te = now();
      const test = await t.evaluate('test');
      result.val_loss = (await t.evaluate('clean')).loss;
      evalS += now() - te;
      result.test_error = test.error;
      result.test_loss = test.loss;
      result.selected = true;
    }
    if (result.status === 'ok' && hooks.onTrained) await hooks.onTrained(t, task);
  } catch (e) {
    // A checkpoint that belongs to another run (--resume): the user's mistake, found before training.
    if (e instanceof UsageError) throw e;
    // A buffer the device cannot hold, found while the trainer is built: nothing ran yet.
    if (!trainer && e instanceof GpuLimitError) throw new UsageError(`${e.message} (model ${spec.name}, --batch ${c.batch}): try a smaller --batch or model`);
    result.status = e instanceof TrainingDivergedError ? 'diverged' : 'failed';
    result.error = e instanceof Error ? e.message : String(e);
    if (e instanceof TrainingDivergedError) result.divergence = { step: e.step, quantity: e.quantity };
    if (e instanceof Error) result.errorName = e.name;
    if (trainer) result.steps = trainer.step;
    // What the run can continue from: the last checkpoint, intact (never one of the failed state).
    if (hooks.checkpoint && checkpointStep !== null) Object.assign(result, { checkpoint: hooks.checkpoint.file, checkpoint_step: checkpointStep });
    // The test error of a half-trained or diverged model is not a result of the method.
    result.test_error = null;
    result.test_loss = null;
    result.train_s = prior.train_s + Math.max(0, now() - t0 - evalS);
  } finally {
    trainer?.destroy();
  }
  result.eval_s = prior.eval_s + evalS;
  result.wall_s = prior.wall_s + (now() - t0);
  result.steps_per_s = result.train_s > 0 ? result.steps / result.train_s : 0;
  return result;
}

function curvePoint(
  step: number,
  lr: number,
  snaps: StepStatsSnapshot[],
  valLoss: number,
  test: { error: number; loss: number },
  c: RunConfig,
  flagged: boolean,
): CurvePoint {
  const steps = snaps.reduce((a, s) => a + s.steps, 0);
  const mean = (f: (s: StepStatsSnapshot) => number) => (steps > 0 ? snaps.reduce((a, s) => a + f(s) * s.steps, 0) / steps : null);
  const point: CurvePoint = {
    step,
    train_loss: mean((s) => s.trainLoss),
    val_loss: valLoss,
    test_error: test.error,
    test_loss: test.loss,
    weighted_loss: mean((s) => s.weightedLoss),
    zero_weights: mean((s) => s.zeroWeights),
    max_weight: snaps.length ? Math.max(...snaps.map((s) => s.maxWeight)) : null,
    lr,
  };
  if (flagged) point.flagged_weight = mean((s) => s.flaggedWeight);
  if (usesValidation(c.method)) point.val_batch_loss = mean((s) => s.valLoss);
  return point;
}
