// `l2rw sweep`: a preset's methods x points x seeds on one GPU (or one shard of them, --shard k/N); a
// table, results.json/csv and the plot in the style of Fig. 2. `l2rw sweep merge`: the shards' results combined into the
// files a single-machine sweep writes.
import { type Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CIFAR_LAYOUTS } from '../data/cifar';
import type { DatasetName } from '../data/dataset';
import { presetDecl, type PresetName } from '../experiments/presets';
import type { Gpu } from '../gpu/gpu';
import { UsageError, describeLr, validateConfig } from '../experiments/config';
import { configDataset, loadData } from '../experiments/data';
import { formatTable } from '../experiments/report';
import { describeMissing, mergeSweeps, parseShard, readSweepRecord, recordDirs, writeMerged } from '../experiments/shard';
import { checkSweep, describeSweepRun, sweepFiles, pointIndex, runSweep, shardConfigs, shardName, sharedConfig, sweepConfigs, type Shard, type SweepPlan } from '../experiments/sweep';
import { estimateSweep, formatDuration, formatEstimate } from '../experiments/estimate';
import { prepareOutDir } from './out_dir';
import { Progress, progressMode, useColor, type Streams } from './progress';
import { describeRun, pct } from './train';

export type { Shard } from '../experiments/sweep';

/**
 * The data set the paper ran a preset on, when `dataDir` holds its official files (or their
 * unpacked sub-folder); undefined otherwise, and for presets the paper ran on MNIST.
 */
export function paperDatasetIn(preset: PresetName, dataDir: string): DatasetName | undefined {
  const want = presetDecl(preset).paperDataset;
  if (want !== 'cifar10' && want !== 'cifar100') return undefined;
  const l = CIFAR_LAYOUTS[want];
  return [dataDir, join(dataDir, l.subdir)].some((d) => existsSync(join(d, l.trainFiles[0]))) ? want : undefined;
}

/** Commander argument parser for --shard k/N. */
export function parseShardOption(raw: string): Shard {
  try {
    return parseShard(raw);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/**
 * runs/<preset> (runs/<data set>/<preset> for another data set than MNIST), and within it
 * shard-<k>-of-<N> for a shard, so shards on one machine never share a folder.
 */
export function defaultSweepOut(plan: SweepPlan): string {
  const dir = plan.base.dataset ? `runs/${plan.base.dataset}/${plan.preset}` : `runs/${plan.preset}`;
  return plan.shard ? `${dir}/shard-${plan.shard.index}-of-${plan.shard.count}` : dir;
}

export interface SweepCommandOptions {
  plan: SweepPlan;
  out: string;
  json: boolean;
  /** Keep the finished runs of an earlier sweep into the same folder. */
  resume: boolean;
  /**
   * Replace the results of an earlier sweep into the same folder (without it, such a folder is
   * refused). Wins over `resume`: `npm start` passes --resume, and `npm start -- --force` trains again.
   */
  force?: boolean;
  /** Only measure and print how long the sweep would take; nothing is written. */
  estimate?: boolean;
  /** Checkpoint each run every this many steps (0: only when stopped). */
  checkpointEvery?: number;
}

export async function sweepCommand(o: SweepCommandOptions, s: Streams, gpuFactory: () => Promise<Gpu>, shouldStop: () => boolean): Promise<number> {
  const { plan } = o;
  validateConfig(plan.base);
  for (const point of plan.points) validateConfig({ ...plan.base, ...point.set });
  if (o.estimate) return estimateCommand(o, s, gpuFactory);
  const out = prepareOutDir(o.out);
  const earlier = sweepFiles(out, plan.preset).json;
  if (!o.resume && !o.force && existsSync(earlier)) {
    throw new UsageError(`--out ${o.out} holds the results of an earlier sweep (${earlier}): add --resume to continue it, --force to replace it, or choose another --out`);
  }
  const data = await loadData(plan.base.dataDir, configDataset(plan.base));
  checkSweep(data, plan);
  const all = sweepConfigs(plan).length;
  const configs = shardConfigs(plan);
  if (plan.shard && configs.length === 0) {
    throw new UsageError(`--shard ${shardName(plan.shard)}: the sweep has only ${all} runs, so shard ${plan.shard.index} would have none; use at most ${all} shards`);
  }
  const gpu = await gpuFactory();
  const total = configs.length * plan.base.steps;
  const progress = new Progress(progressMode(o.json, s), s);
  progress.event('start', {
    command: 'sweep',
    preset: plan.preset,
    runs: configs.length,
    ...(plan.shard ? { shard: plan.shard, runs_total: all } : {}),
    methods: plan.methods,
    points: plan.points,
    seeds: plan.seeds,
    config: sharedConfig(plan),
    adapter: gpu.name,
    out,
  });
  const grid = `${plan.methods.length} methods x ${plan.points.length} points x ${plan.seeds.length} seeds = ${all} runs`;
  progress.log(
    `sweep ${plan.preset}: ${plan.shard ? `shard ${shardName(plan.shard)}, ${configs.length} of the ${grid}` : grid} ` +
      `of ${plan.base.steps} steps on ${gpu.name}; writing to ${out}`,
  );
  progress.start(total, { label: 'sweep' });
  const base = (i: number) => i * plan.base.steps;
  const outcome = await runSweep(gpu, data, plan, out, {
    onRunStart: (i, n, c) => progress.update(base(i), { label: `[${i + 1}/${n}] ${describeSweepRun(plan, c)}` }),
    onProgress: (i, step, loss) => {
      progress.update(base(i) + step, { loss });
    },
    onRunEnd: (i, n, r) => {
      const what = `[${i + 1}/${n}] ${describeSweepRun(plan, { ...r.config, method: r.method })}`;
      progress.log(
        r.status === 'ok'
          ? `${what}: test error ${pct(r.test_error)} (${r.wall_s.toFixed(1)} s, ${r.steps_per_s.toFixed(2)} steps/s)`
          : `${what}: ${r.status}: ${r.error}`,
      );
      const { curves: _c, config: _cfg, ...summary } = r;
      progress.event('run', { index: i, point: plan.points[pointIndex(plan, r.config)]?.label, seed: r.config.seed, ...summary });
    },
    shouldStop,
  }, { resume: o.resume && !o.force, checkpointEvery: o.checkpointEvery ?? 0 });
  progress.update(outcome.results.length * plan.base.steps);
  progress.stop();
  const failed = outcome.results.filter((r) => r.status === 'diverged' || r.status === 'failed');
  progress.event('done', { aggregate: outcome.aggregate, files: outcome.files, wall_s: outcome.wall_s, failed: failed.length, ...(outcome.stopped ? { stopped: outcome.stopped } : {}) });
  if (!o.json) {
    const bold = useColor(s.stdout, s.env) ? (t: string) => `\u001b[1m${t}\u001b[0m` : (t: string) => t;
    s.stdout.write(`\n${formatTable(outcome.aggregate, plan.axis.column, bold)}\n\n`);
    s.stdout.write(
      `${outcome.results.length} runs in ${(outcome.wall_s / 60).toFixed(1)} min on ${gpu.name} ` +
        `(${plan.base.model}, ${plan.base.steps} steps, batch ${plan.base.batch}, ${describeLr(plan.base)}, momentum ${plan.base.momentum}, weight decay ${plan.base.weightDecay}; mean ± std over seeds ${plan.seeds.join(',')})\n`,
    );
    if (plan.shard) s.stdout.write(`shard ${shardName(plan.shard)} of the sweep: combine the ${plan.shard.count} shards' folders with \`l2rw sweep merge\`\n`);
    s.stdout.write(`plot:    ${outcome.files.svg}\nresults: ${outcome.files.json}\n         ${outcome.files.csv}\n         ${outcome.files.summaryCsv}\n`);
  }
  if (outcome.stopped) {
    s.stderr.write(`l2rw: sweep stopped early (${outcome.stopped}) after ${outcome.results.length} of ${configs.length} runs; partial results are in ${outcome.files.json}\n`);
    return outcome.stopped === 'interrupted' ? 130 : 1;
  }
  if (failed.length) {
    s.stderr.write(`l2rw: ${failed.length} of ${configs.length} runs did not finish (${failed.map((r) => `${describeSweepRun(plan, { ...r.config, method: r.method })}: ${r.status}`).join('; ')}); details in ${outcome.files.json}\n`);
    return 1;
  }
  return 0;
}

/** `l2rw sweep ... --estimate`: each method timed for a few steps here, every run priced. */
async function estimateCommand(o: SweepCommandOptions, s: Streams, gpuFactory: () => Promise<Gpu>): Promise<number> {
  const { plan } = o;
  const data = await loadData(plan.base.dataDir, configDataset(plan.base));
  checkSweep(data, plan);
  const configs = shardConfigs(plan);
  const gpu = await gpuFactory();
  const progress = new Progress(progressMode(o.json, s), s);
  const what = `${plan.preset}${plan.shard ? ` shard ${shardName(plan.shard)}` : ''}: ${configs.length} runs of ${plan.base.steps} steps (${plan.base.model}, ${plan.base.dataset ?? 'mnist'})`;
  progress.log(`estimating ${what} on ${gpu.name}`);
  const e = await estimateSweep(gpu, data, plan, configs, { onMethod: (m, i, n) => progress.log(`[${i + 1}/${n}] timing ${m}`) });
  progress.event('estimate', { preset: plan.preset, runs: configs.length, steps: plan.base.steps, adapter: gpu.name, ...e });
  if (!o.json) {
    s.stdout.write(`\n${formatEstimate(e)}\n\n`);
    s.stdout.write(
      `${what}: about ${formatDuration(e.total_s)} on ${gpu.name} ` +
        `(each method timed for ${e.measured_steps} steps and one evaluation after a warm-up; a sweep shares its adapter with nothing else)\n`,
    );
  }
  return 0;
}

export interface MergeCommandOptions {
  /** Shard output folders (or their results.json files). */
  dirs: string[];
  /** Output folder; default runs/<preset>. */
  out?: string;
  /** Merge even when runs are missing (the table footer lists them). */
  allowPartial: boolean;
  /** One JSON line on stdout instead of the table. */
  json?: boolean;
}

/** `l2rw sweep merge`: the shards' results.json files -> the files of the whole sweep. */
export function mergeCommand(o: MergeCommandOptions, s: Streams): number {
  const merged = mergeSweeps(o.dirs.map(readSweepRecord), { allowPartial: o.allowPartial });
  const { plan } = merged;
  const out = resolve(o.out ?? `runs/${plan.preset}`);
  const clash = recordDirs(merged).findIndex((d) => d === out);
  if (clash >= 0) {
    const sh = merged.shards[clash];
    throw new UsageError(`sweep merge: --out ${out} holds shard ${shardName(sh.shard)}'s own results; write the merged sweep to another folder`);
  }
  const { aggregate, files } = writeMerged(out, merged);
  const failed = merged.results.filter((r) => r.status === 'diverged' || r.status === 'failed');
  if (o.json) {
    // One JSON line, as the sweep's own `done` event.
    const shards = merged.shards.map((x) => ({ shard: shardName(x.shard), file: x.file, adapter: x.adapter, wall_s: x.wall_s, runs: x.runs.length }));
    s.stdout.write(`${JSON.stringify({ event: 'done', command: 'merge', preset: plan.preset, aggregate, files, runs: merged.results.length, runs_planned: merged.runsPlanned, wall_s: merged.wall_s, failed: failed.length, shards, missing: merged.missing })}\n`);
  } else {
    const bold = useColor(s.stdout, s.env) ? (t: string) => `\u001b[1m${t}\u001b[0m` : (t: string) => t;
    const count = merged.shards[0].shard.count;
    const from = merged.shards.map((x) => `${shardName(x.shard)} ${relative(process.cwd(), x.file) || x.file}`).join(', ');
    s.stdout.write(`${formatTable(aggregate, plan.axis.column, bold)}\n\n`);
    s.stdout.write(
      `${merged.results.length} runs merged from ${merged.shards.length} of ${count} shard${count === 1 ? '' : 's'} (${from}); ` +
        `${(merged.wall_s / 60).toFixed(1)} min of sweep time in all on ${merged.adapters.join('; ')} ` +
        `(${plan.base.model}, ${plan.base.steps} steps, batch ${plan.base.batch}, ${describeLr(plan.base)}, momentum ${plan.base.momentum}, weight decay ${plan.base.weightDecay}; mean ± std over seeds ${plan.seeds.join(',')})\n`,
    );
    if (merged.adapters.length > 1) {
      const each = merged.adapters.map((a) => `${merged.adapterRuns[a] ?? 0} on ${a}`).join(', ');
      s.stdout.write(`note: the runs ran on ${merged.adapters.length} different adapters (${each}); runs match a single-machine sweep bit for bit only on the same adapter and driver\n`);
    }
    if (merged.missing.length) s.stdout.write(`partial (--allow-partial): ${describeMissing(merged)}\n`);
    s.stdout.write(`plot:    ${files.svg}\nresults: ${files.json}\n         ${files.csv}\n         ${files.summaryCsv}\n`);
  }
  if (failed.length) {
    s.stderr.write(`l2rw: ${failed.length} of ${merged.runsPlanned} runs did not finish (${failed.map((r) => `${describeSweepRun(plan, { ...r.config, method: r.method })}: ${r.status}`).join('; ')}); details in ${files.json}\n`);
    return 1;
  }
  return 0;
}

/**
 * Adds `merge` under `sweep`. Options are then positional from the program down: the sweep's own
 * options are read only before `merge` and merge's after it, so both can have --out (commander needs
 * this on every level above the subcommand, the program included).
 */
export function addMergeCommand(sweep: Command, s: Streams, setCode: (code: number) => void): void {
  sweep.parent?.enablePositionalOptions();
  sweep.enablePositionalOptions();
  sweep
    .command('merge')
    .description('combine the output folders of `l2rw sweep --shard k/N` into the results.json, results.csv, summary.csv and plot of the whole sweep')
    .argument('<dirs...>', 'the shards\' output folders (or their results.json files)')
    .option('--out <dir>', 'output folder (default: runs/<preset>)')
    .option('--allow-partial', 'merge even when runs are missing (a shard not given or not finished); the table footer lists them', false)
    .option('--json', "one JSON line on stdout (the aggregate, the files, the shards and any missing runs) instead of the table", false)
    .action((dirs: string[], o: { out?: string; allowPartial: boolean; json: boolean }) => {
      setCode(mergeCommand({ dirs, out: o.out, allowPartial: Boolean(o.allowPartial), json: Boolean(o.json) }, s));
    });
}
