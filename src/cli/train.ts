// `l2rw train`: one model, DIR/result.json and DIR/curves.csv.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu';
import { UsageError, validateConfig, type RunConfig } from '../experiments/config';
import { buildTask, loadData } from '../experiments/data';
import { writeRunFiles } from '../experiments/report';
import { checkBatchFits, modelSpec, runExperiment, type CurvePoint } from '../experiments/run';
import { prepareOutDir } from './out_dir';
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
}

/** Where `train` keeps its run's checkpoint: in its output folder, removed once the run is over. */
export const trainCheckpointFile = (out: string) => join(out, 'checkpoint.safetensors');

export function describeRun(c: RunConfig): string {
  const what = c.task === 'imbalance' ? `imbalance ratio ${c.ratio}` : `noise ${c.noise} (${c.flip} flip)`;
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
  const mnist = await loadData(c.dataDir, c.dataset);
  const task = buildTask(mnist, c);
  const out = prepareOutDir(o.out);
  const checkpoint = trainCheckpointFile(out);
  const hasCheckpoint = existsSync(checkpoint);
  if (hasCheckpoint && !o.resume && !o.force) {
    throw new UsageError(`--out ${o.out} holds the checkpoint of an interrupted run (${checkpoint}): add --resume to continue it, --force to start afresh, or choose another --out`);
  }
  const gpu = await gpuFactory();
  // A batch this device cannot hold is a usage error too: the one line on stderr, before the run starts.
  checkBatchFits(gpu.limits, modelSpec(c, task), c.batch, task.clean.n);
  const progress = new Progress(progressMode(o.json, s), s);
  progress.event('start', { command: 'train', config: c, adapter: gpu.name, out });
  progress.log(`training ${describeRun(c)}, ${c.steps} steps on ${gpu.name}${o.resume && hasCheckpoint ? `, continuing from ${checkpoint}` : ''}`);
  progress.start(c.steps, { label: c.method });
  const result = await runExperiment(gpu, mnist, c, {
    onProgress: (step, loss) => {
      progress.update(step, { loss });
      progress.event('progress', { step, loss });
    },
    onEval: (p) => {
      progress.log(evalLine(p, c.steps));
      progress.event('eval', { ...p });
    },
    shouldStop,
    checkpoint: { file: checkpoint, every: o.checkpointEvery ?? 0, resume: Boolean(o.resume) },
    onCheckpoint: (step, file) => progress.event('checkpoint', { step, file }),
  });
  progress.update(result.steps);
  progress.stop();
  const files = writeRunFiles(out, result);
  // The result is on disk: the checkpoint is needed only to continue an interrupted run.
  if (result.status !== 'interrupted') rmSync(checkpoint, { force: true });
  const { curves: _curves, ...summary } = result;
  progress.event('done', { ...summary, files });
  if (!o.json) {
    const rate = `${result.steps_per_s.toFixed(2)} steps/s`;
    if (result.status === 'ok') {
      s.stdout.write(`test error ${pct(result.test_error)} (${describeRun(c)}, ${result.steps} steps, ${result.wall_s.toFixed(1)} s, ${rate}) on ${result.adapter}\n`);
    }
    s.stdout.write(`wrote ${files.json} and ${files.csv}\n`);
  }
  if (result.status !== 'ok') {
    const why = (result.error ?? result.status).replace(/\.\s*$/, '');
    const resume = result.status === 'interrupted' && result.checkpoint ? `; continue it with the same command and --resume` : '';
    s.stderr.write(`l2rw: ${result.status === 'failed' ? `training failed: ${why}` : why}; what was computed is in ${files.json}${resume}\n`);
    return result.status === 'interrupted' ? 130 : 1;
  }
  return 0;
}
