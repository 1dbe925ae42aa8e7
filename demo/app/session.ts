// One comparison run in the page: a Trainer per selected method, all on the same GPU device, stepped
// in lockstep (step t of every method, then step t+1). Nothing is read back between checkpoints:
// every `every` steps the engine's statistics come back with that step, the test error and the
// latest minibatch are read back at the same point, and the view is redrawn.
import type { Mnist } from '../../src/data/mnist';
import type { Task } from '../../src/data/tasks';
import type { Gpu } from '../../src/gpu/gpu';
import type { Method } from '../../src/train/methods';
import { buildModel } from '../../src/train/models';
import type { ModelSpec } from '../../src/train/spec';
import type { StepStatsSnapshot } from '../../src/train/stats_reader';
import { Trainer, type BatchInspection } from '../../src/train/trainer';
import { taskTrainData } from '../../src/data/trainer_input';
import type { Settings } from './settings';

export interface EvalPoint {
  step: number;
  error: number;
  loss: number;
}

export interface BatchView {
  step: number;
  /** Which split the minibatch indices point into (clean for clean-only and the fine-tune phase). */
  source: 'train' | 'clean';
  batch: BatchInspection;
}

export interface MethodRun {
  method: Method;
  trainer: Trainer;
  snapshots: StepStatsSnapshot[];
  evals: EvalPoint[];
  lastBatch: BatchView | null;
  /** Noise tasks: [step, share of the inspected minibatch's weight on mislabelled examples]. */
  flaggedShare: [number, number][];
}

/** Steps recorded ahead of the GPU's progress. */
const MAX_AHEAD = 1;

export type SessionState = 'ready' | 'running' | 'paused' | 'done' | 'failed' | 'disposed';

export interface SessionEvents {
  /** After each checkpoint (and the initial evaluation). */
  update(): void;
  /** After every step (cheap: the step counter). */
  progress(step: number): void;
  state(state: SessionState): void;
  error(e: unknown): void;
}

export function modelFor(s: Settings, task: Pick<Task, 'inputShape' | 'numClasses'>): ModelSpec {
  return buildModel(s.model, { input: task.inputShape, classes: task.numClasses, hidden: [64] });
}

export class Session {
  readonly runs: MethodRun[];
  step = 0;
  state: SessionState = 'ready';
  /** Training steps per second (every method advances by one per step) over the last window. */
  stepsPerSecond = 0;
  /** Seconds spent training, excluding pauses. */
  elapsed = 0;
  private loopDone: Promise<void> = Promise.resolve();

  private constructor(
    readonly gpu: Gpu,
    readonly task: Task,
    readonly mnist: Mnist,
    readonly settings: Settings,
    readonly spec: ModelSpec,
    runs: MethodRun[],
    private readonly events: SessionEvents,
  ) {
    this.runs = runs;
  }

  static async create(gpu: Gpu, task: Task, mnist: Mnist, s: Settings, events: SessionEvents): Promise<Session> {
    const spec = modelFor(s, task);
    const data = taskTrainData(mnist, task);
    const runs: MethodRun[] = [];
    try {
      for (const method of s.methods) {
        const trainer = await Trainer.create(gpu, spec, data, {
          method,
          steps: s.steps,
          batch: s.batch,
          lr: s.lr,
          momentum: 0.9,
          weightDecay: 1e-4,
          seed: s.seed,
          logEvery: s.every,
        });
        runs.push({ method, trainer, snapshots: [], evals: [], lastBatch: null, flaggedShare: [] });
      }
    } catch (e) {
      for (const r of runs) r.trainer.destroy();
      throw e;
    }
    return new Session(gpu, task, mnist, s, spec, runs, events);
  }

  private setState(state: SessionState): void {
    this.state = state;
    this.events.state(state);
  }

  /** Test error of the untrained models, so the error curves start at step 0. */
  async evaluateInitial(): Promise<void> {
    const evals = await Promise.all(this.runs.map((r) => r.trainer.evaluate('test')));
    this.runs.forEach((r, i) => r.evals.push({ step: 0, error: evals[i].error, loss: evals[i].loss }));
    this.events.update();
  }

  start(): void {
    if (this.state !== 'ready' && this.state !== 'paused') return;
    this.setState('running');
    // A quick Pause-Resume may find the previous loop still finishing its step: chain after it,
    // so there is never more than one loop stepping the trainers.
    this.loopDone = this.loopDone.then(() => this.loop()).catch((e) => {
      if (this.state === 'disposed') return;
      this.setState('failed');
      this.events.error(e);
    });
  }

  /** Stops after the step in flight; start() resumes. */
  async pause(): Promise<void> {
    if (this.state !== 'running') return;
    this.setState('paused');
    await this.loopDone;
  }

  async dispose(): Promise<void> {
    const wasActive = this.state !== 'disposed';
    this.state = 'disposed';
    await this.loopDone;
    if (wasActive) {
      // Finished readbacks must not land on destroyed buffers: wait for the queue, then free. A lost
      // device may never answer, so the wait is bounded.
      const idle = this.gpu.device.queue.onSubmittedWorkDone().catch(() => undefined);
      await Promise.race([idle, new Promise((r) => setTimeout(r, 3000))]);
      for (const r of this.runs) r.trainer.destroy();
    }
  }

  private async loop(): Promise<void> {
    const { steps, every } = this.settings;
    let windowStart = performance.now();
    let windowSteps = 0;
    // Completion fences (not readbacks) of the latest steps: recording runs ahead of the GPU by at
    // most MAX_AHEAD steps, so Pause and Reset act within a step or two instead of after a whole
    // window of queued work (seconds per step with LeNet on a software adapter).
    const ahead: Promise<unknown>[] = [];
    while (this.step < steps && this.state === 'running') {
      // One step of every method. At a logging step (every `every`) the page waits for the
      // statistics, since it shows them at once; all methods submit before any of them waits, so
      // their readbacks overlap.
      const pending = await Promise.all(this.runs.map((r) => r.trainer.trainStep()));
      const snaps = await Promise.all(pending.map((p) => p?.stats ?? null));
      snaps.forEach((snap, i) => snap && this.runs[i].snapshots.push(snap));
      this.step++;
      windowSteps++;
      this.events.progress(this.step);
      ahead.push(this.gpu.device.queue.onSubmittedWorkDone());
      if (ahead.length > MAX_AHEAD) await ahead.shift();
      if (this.step % every === 0 || this.step === steps) {
        await this.checkpoint();
        const now = performance.now();
        const seconds = (now - windowStart) / 1000;
        this.elapsed += seconds;
        this.stepsPerSecond = windowSteps / Math.max(seconds, 1e-6);
        windowStart = now;
        windowSteps = 0;
        if (!this.disposed) this.events.update();
      }
    }
    if (this.step >= steps && this.state === 'running') this.setState('done');
  }

  private get disposed(): boolean {
    return this.state === 'disposed';
  }

  /** The readbacks of a window besides the statistics: test error and the latest minibatch. */
  private async checkpoint(): Promise<void> {
    const step = this.step;
    await Promise.all(
      this.runs.map(async (r) => {
        const [ev, batch] = await Promise.all([r.trainer.evaluate('test'), r.trainer.inspectLastBatch()]);
        r.evals.push({ step, error: ev.error, loss: ev.loss });
        const source = batch.source;
        r.lastBatch = { step, source, batch };
        const noisy = this.task.train.noisyMask;
        if (noisy && source === 'train') {
          // From the inspected batch on the host (one minibatch per window, not a window mean).
          let share = 0;
          batch.indices.forEach((k, i) => (share += noisy[k] ? batch.weights[i] : 0));
          r.flaggedShare.push([step, share]);
        }
      }),
    );
  }
}
