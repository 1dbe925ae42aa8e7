// `l2rw train`: one model, DIR/result.json and DIR/curves.csv.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu';
import { UsageError, validateConfig, type RunConfig } from '../experiments/config';
import { buildTask, imageOptions, loadData } from '../experiments/data';
import { writeRunFiles } from '../experiments/report';
import { checkRunFits, runExperiment, type CurvePoint } from '../experiments/run';
import { prepareOutDir } from './out_dir';
import { trainOutputs } from './train_outputs';
import { Progress, progressMode, type Streams } from './progress';

export interface TrainCommandOptions {
  config: RunConfig;
  out: string;
  json: boolean;
  /** Continue from OUT/checkpoint.safetensors when it exists. */
  resume?: boolean;
  /** Start afresh although OUT holds a checkpoint. */
  force?: boolean;
  /** Write a checkpoint every this many steps (0: only when stopped). */
  checkpointEvery?: number;
  /** Write the trained model here (safetensors with its description, for `l2rw predict`). */
  saveModel?: string;
  /** Write what the method made of each training example here (CSV, lowest mean weight first). */
  weightsOut?: string;
  /** The command line's arguments after `l2rw` (`train ...`): an unfinished run's resume command repeats them. */
  argv?: readonly string[];
}

/** A word as a POSIX shell reads it back: bare when it is safe, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that continues this run: the same arguments, plus --resume (once), and for a run that
 * diverged without rolling back, --on-diverge rollback (continuing it as it was would diverge again).
 */
export function resumeCommand(argv: readonly string[], diverged = false): string {
  const args = argv.includes('--resume') ? [...argv] : [...argv, '--resume'];
  if (diverged && !args.some((a) => a === '--on-diverge' || a.startsWith('--on-diverge='))) args.push('--on-diverge', 'rollback');
  return ['l2rw', ...args].map(shellQuote).join(' ');
}

/**
 * Fault injection for the tests (issue 15): L2RW_TEST_DEVICE_LOSS_AT_STEP=N destroys the GPU device
 * once the statistics of step N or later are in, as a driver reset would. Not a user setting.
 */
function deviceLossFault(s: Streams): number | null {
  const raw = s.env.L2RW_TEST_DEVICE_LOSS_AT_STEP;
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}

/** Where `train` keeps its run's checkpoint: in its output folder, removed once the run is over. */
export const trainCheckpointFile = (out: string) => join(out, 'checkpoint.safetensors');

export function describeRun(c: RunConfig): string {
  const what = c.task === 'imbalance' ? `imbalance ratio ${c.ratio}` : c.task === 'given' ? `${c.dataset} as labelled` : `noise ${c.noise} (${c.flip} flip)`;
  return `${c.method}, ${what}, seed ${c.seed}`;
}

export function pct(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)}%`;
}

export function evalLine(p: CurvePoint, steps: number): string {
  const parts = [`step ${p.step}/${steps}`];
  if (p.train_loss !== null) parts.push(`train loss ${p.train_loss.toFixed(4)}`);
  parts.push(`val loss ${p.val_loss.toFixed(4)}`, `test error ${pct(p.test_error)}`);
  if (p.zero_weights !== null && p.val_batch_loss !== undefined) parts.push(`zero weights ${p.zero_weights.toFixed(1)}`);
  if (p.flagged_weight !== undefined && p.flagged_weight !== null) parts.push(`weight on flipped ${p.flagged_weight.toFixed(3)}`);
  return parts.join(', ');
}

/** Returns the exit code: 0, or 1 when training failed (the files are written either way). */
export async function trainCommand(o: TrainCommandOptions, s: Streams, gpuFactory: () => Promise<Gpu>, shouldStop: () => boolean): Promise<number> {
  const c = validateConfig(o.config);
  // Argument errors surface here, before a GPU is opened: the data and the task, then --out (created
  // and probed now, so a finished run can always be written; after the task checks, so a mistake in
  // those leaves no empty folder behind).
  const mnist = await loadData(c.dataDir, c.dataset, imageOptions(c));
  const task = buildTask(mnist, c);
  // --save-model, --weights-out: their folders made now, their files written after a finished run.
  const outputs = trainOutputs(o, c, mnist);
  const out = prepareOutDir(o.out);
  const checkpoint = trainCheckpointFile(out);
  const hasCheckpoint = existsSync(checkpoint);
  if (hasCheckpoint && !o.resume && !o.force) {
    throw new UsageError(`--out ${o.out} holds the checkpoint of an interrupted run (${checkpoint}): add --resume to continue it, --force to start afresh, or choose another --out`);
  }
  const gpu = await gpuFactory();
  // A batch or data this device cannot hold is a usage error too: the one line on stderr, before the run starts.
  checkRunFits(gpu.limits, mnist, c, task);
  const progress = new Progress(progressMode(o.json, s), s);
  progress.event('start', { command: 'train', config: c, adapter: gpu.name, out });
  progress.log(`training ${describeRun(c)}, ${c.steps} steps on ${gpu.name}${o.resume && hasCheckpoint ? `, continuing from ${checkpoint}` : ''}`);
  progress.start(c.steps, { label: c.method });
  const loseDeviceAt = deviceLossFault(s);
  const result = await runExperiment(gpu, mnist, c, {
    onProgress: (step, loss) => {
      if (loseDeviceAt !== null && step >= loseDeviceAt && !gpu.lostReason) gpu.device.destroy();
      progress.update(step, { loss });
      progress.event('progress', { step, loss });
    },
    onEval: (p) => {
      progress.log(evalLine(p, c.steps));
      progress.event('eval', { ...p });
    },
    ...outputs.hooks,
    shouldStop,
    checkpoint: { file: checkpoint, every: o.checkpointEvery ?? 0, resume: Boolean(o.resume) },
    onCheckpoint: (step, file) => progress.event('checkpoint', { step, file }),
    onRollback: (r) => {
      progress.log(`diverged: non-finite ${r.quantity} at step ${r.step}; back to step ${r.to_step} with learning rate ${r.lr}`);
      progress.event('rollback', { ...r });
    },
  });
  progress.update(result.steps);
  progress.stop();
  const files = writeRunFiles(out, result);
  const saved = await outputs.write(result, progress);
  // The result is on disk: the checkpoint is kept only to continue an unfinished run (interrupted,
  // device lost, diverged: result.checkpoint); a finished run's is removed.
  if (!result.checkpoint) rmSync(checkpoint, { force: true });
  const { curves: _curves, ...summary } = result;
  progress.event('done', { ...summary, files });
  if (!o.json) {
    const rate = `${result.steps_per_s.toFixed(2)} steps/s`;
    if (result.status === 'ok') {
      s.stdout.write(`test error ${pct(result.test_error)} (${describeRun(c)}, ${result.steps} steps, ${result.wall_s.toFixed(1)} s, ${rate}) on ${result.adapter}\n`);
    }
    s.stdout.write(`wrote ${files.json} and ${files.csv}\n`);
    for (const line of saved) s.stdout.write(`${line}\n`);
  }
  if (result.status !== 'ok') {
    const why = (result.error ?? result.status).replace(/\.\s*$/, '');
    // One line: what happened, where the results are, and the exact command that continues the run
    // from its checkpoint (last, so it can be copied whole).
    const diverged = result.status === 'diverged' && c.onDiverge !== 'rollback';
    const again = o.argv ? resumeCommand(o.argv, diverged) : `the same command with --resume${diverged ? ' --on-diverge rollback' : ''}`;
    const resume = result.checkpoint ? `; the checkpoint of step ${result.checkpoint_step} is kept, continue with: ${again}` : '';
    s.stderr.write(`l2rw: ${result.status === 'failed' ? `training failed: ${why}` : why}; what was computed is in ${files.json}${resume}\n`);
    return result.status === 'interrupted' ? 130 : 1;
  }
  return 0;
}
