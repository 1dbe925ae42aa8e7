// Sweeps: methods x ratios x seeds on the class-imbalance task, one GPU for every run (or for every
// run of one shard, see shard.ts), results written after each run so an interrupted or failing sweep
// keeps what it computed.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_INFO, type Mnist } from '../data/index';
import { GpuLostError } from '../gpu/errors';
import type { Gpu } from '../gpu/gpu';
import type { Method } from '../train/methods';
import { DEFAULT_CONFIG, TRAIN_DEFAULTS, UsageError, describeLr, type RunConfig } from './config';
import { buildTask, configDataset } from './data';
import { errorPlotSvg } from './plot';
import { aggregate, formatTable, toCsv, writeFileAtomic, type Aggregate } from './report';
import { runExperiment, type CurvePoint, type RunResult } from './run';

export interface SweepPlan {
  preset: string;
  methods: Method[];
  ratios: number[];
  seeds: number[];
  /** Everything but method, ratio and seed, shared by every run. */
  base: RunConfig;
  /** Run only this share of the runs (`sweep --shard k/N`); absent for the whole sweep. */
  shard?: Shard;
}

/**
 * Shard `index` of `count` (1 <= index <= count): run i of the sweep (in sweepConfigs order, from 0)
 * belongs to shard (i mod count) + 1, so every shard gets a mix of methods, ratios and seeds.
 */
export interface Shard {
  index: number;
  count: number;
}

export const shardName = (s: Shard) => `${s.index}/${s.count}`;

/** The shard run `i` of a sweep split `count` ways belongs to. */
export const shardOfRun = (i: number, count: number) => (i % count) + 1;

export const PRESETS = ['fig2'] as const;
export type PresetName = (typeof PRESETS)[number];

/**
 * Fig. 2 of the paper: MNIST 4-vs-9, 5000 training images, 10 clean images, LeNet, test error against
 * the proportion of 9s. The paper trains 8000 steps and averages 10 seeds; here the step and seed
 * counts are set from measured step times (src/experiments/README.md) so the full sweep takes about
 * an hour and a half on a 2-core CPU Vulkan driver (93 min measured), and --quick under ten minutes.
 */
export const FIG2 = {
  full: {
    methods: ['plain', 'proportion', 'resample', 'hardmining', 'random', 'l2rw'] as Method[],
    ratios: [0.9, 0.95, 0.98, 0.99, 0.995],
    seeds: 3,
    steps: 350,
    evalEvery: 70,
  },
  quick: {
    methods: ['plain', 'proportion', 'resample', 'l2rw'] as Method[],
    ratios: [0.9, 0.995],
    seeds: 1,
    steps: 200,
    evalEvery: 100,
  },
};

export interface PlanOverrides {
  quick?: boolean;
  seeds?: number;
  /** First seed; runs use firstSeed, firstSeed+1, ... */
  firstSeed?: number;
  steps?: number;
  evalEvery?: number;
  methods?: Method[];
  ratios?: number[];
  config?: Partial<RunConfig>;
  shard?: Shard;
}

export function planSweep(preset: PresetName, o: PlanOverrides = {}): SweepPlan {
  const p = o.quick ? FIG2.quick : FIG2.full;
  const steps = o.steps ?? p.steps;
  const first = o.firstSeed ?? 1;
  return {
    preset: o.quick ? `${preset}-quick` : preset,
    methods: o.methods ?? p.methods,
    ratios: o.ratios ?? p.ratios,
    seeds: Array.from({ length: o.seeds ?? p.seeds }, (_, i) => first + i),
    base: {
      ...DEFAULT_CONFIG,
      ...TRAIN_DEFAULTS,
      task: 'imbalance',
      clean: 10,
      model: 'lenet',
      ...o.config,
      steps,
      evalEvery: Math.min(o.evalEvery ?? p.evalEvery, steps),
    },
    ...(o.shard ? { shard: o.shard } : {}),
  };
}

/** The settings every run of the sweep shares (method, ratio and seed vary per run). */
export function sharedConfig(plan: SweepPlan): Omit<RunConfig, 'method' | 'ratio' | 'seed' | 'noise' | 'flip'> {
  const { method: _m, ratio: _r, seed: _s, noise: _n, flip: _f, ...shared } = plan.base;
  return shared;
}

/** Runs in order: seeds outermost, then ratios, then methods, so a stopped sweep has whole groups. */
export function sweepConfigs(plan: SweepPlan): RunConfig[] {
  const out: RunConfig[] = [];
  for (const seed of plan.seeds) for (const ratio of plan.ratios) for (const method of plan.methods) out.push({ ...plan.base, seed, ratio, method });
  return out;
}

/** The runs this invocation does: every run of the sweep, or only those of its shard (same order). */
export function shardConfigs(plan: SweepPlan): RunConfig[] {
  const all = sweepConfigs(plan);
  const s = plan.shard;
  return s ? all.filter((_, i) => shardOfRun(i, s.count) === s.index) : all;
}

/** Checks every (ratio, seed) task can be built before any GPU work starts (throws UsageError). */
export function checkSweep(mnist: Mnist, plan: SweepPlan): void {
  for (const ratio of plan.ratios) buildTask(mnist, { ...plan.base, ratio, seed: plan.seeds[0] });
}

export interface SweepFiles {
  json: string;
  csv: string;
  summaryCsv: string;
  svg: string;
}

export interface SweepOutcome {
  plan: SweepPlan;
  results: RunResult[];
  aggregate: Aggregate;
  table: string;
  files: SweepFiles;
  wall_s: number;
  /** Set when the sweep stopped before its last run (device lost, interrupted). */
  stopped?: string;
}

export interface SweepHooks {
  onRunStart?(index: number, total: number, c: RunConfig): void;
  onProgress?(index: number, step: number, loss: number): void;
  onEval?(index: number, point: CurvePoint): void;
  onRunEnd?(index: number, total: number, r: RunResult): void;
  /** Checked between runs and steps; true stops the sweep after writing what it has. */
  shouldStop?(): boolean;
}

export function sweepFiles(dir: string): SweepFiles {
  return { json: join(dir, 'results.json'), csv: join(dir, 'results.csv'), summaryCsv: join(dir, 'summary.csv'), svg: join(dir, 'fig2.svg') };
}

export function writeSweep(dir: string, plan: SweepPlan, results: RunResult[], meta: Record<string, unknown>): { aggregate: Aggregate; files: SweepFiles } {
  mkdirSync(dir, { recursive: true });
  const files = sweepFiles(dir);
  const agg = aggregate(results, plan.methods, plan.ratios);
  writeFileAtomic(files.json, JSON.stringify({ preset: plan.preset, ...meta, plan: { methods: plan.methods, ratios: plan.ratios, seeds: plan.seeds, config: sharedConfig(plan), ...(plan.shard ? { shard: plan.shard } : {}) }, aggregate: agg, runs: results }, null, 2) + '\n');
  writeFileAtomic(
    files.csv,
    toCsv(
      ['method', 'ratio', 'seed', 'status', 'steps', 'test_error', 'test_loss', 'val_loss', 'wall_s', 'steps_per_s', 'error'],
      results.map((r) => [r.method, r.config.ratio, r.config.seed, r.status, r.steps, r.test_error, r.test_loss, r.val_loss, +r.wall_s.toFixed(2), +r.steps_per_s.toFixed(3), r.error]),
    ),
  );
  const rows: unknown[][] = [];
  for (const m of agg.methods) {
    for (const r of agg.ratios) {
      const c = agg.cells[m][String(r)];
      rows.push([m, r, c.errors.length, c.failed, c.mean === null ? null : c.mean * 100, c.std === null ? null : c.std * 100]);
    }
  }
  writeFileAtomic(files.summaryCsv, toCsv(['method', 'ratio', 'runs', 'failed', 'test_error_pct_mean', 'test_error_pct_std'], rows));
  // The seeds that have results (a stopped or resumed sweep may not have them all yet).
  const seeds = new Set(results.map((r) => r.config.seed)).size || plan.seeds.length;
  writeFileAtomic(
    files.svg,
    errorPlotSvg(agg, {
      title: imbalanceTitle(plan.base),
      subtitle: `${plan.base.model}, ${plan.base.steps} steps, ${describeLr(plan.base)}, ${seeds} seed${seeds === 1 ? '' : 's'} (mean ± std)`,
    }),
  );
  return { aggregate: agg, files };
}

/** "MNIST 4 vs 9 with class imbalance", or the same for the run's data set and its default class pair. */
function imbalanceTitle(c: RunConfig): string {
  const info = DATASET_INFO[configDataset(c)];
  return `${info.title} ${info.classNames[4]} vs ${info.classNames[9]} with class imbalance`;
}

/**
 * Finished runs (status ok or diverged) of an earlier sweep into the same folder, so a stopped sweep
 * continues where it was, and the wall time already spent on them. Refuses results made with other
 * shared settings, or as another shard (a shard resumes only itself).
 */
export function previousSweep(outDir: string, plan: SweepPlan): { runs: RunResult[]; wall_s: number } {
  const file = sweepFiles(outDir).json;
  if (!existsSync(file)) return { runs: [], wall_s: 0 };
  let old: { plan?: { config?: unknown; shard?: Shard }; runs?: RunResult[]; wall_s?: unknown };
  try {
    old = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--resume: cannot read ${file}: ${(e as Error).message}`);
  }
  if (JSON.stringify(old.plan?.config) !== JSON.stringify(sharedConfig(plan))) {
    throw new UsageError(`--resume: ${file} was made with other settings; use another --out or drop --resume`);
  }
  const was = old.plan?.shard;
  if (JSON.stringify(was ?? null) !== JSON.stringify(plan.shard ?? null)) {
    const what = (s: Shard | undefined) => (s ? `shard ${shardName(s)}` : 'a whole (unsharded) sweep');
    throw new UsageError(`--resume: ${file} holds ${what(was)}, not ${what(plan.shard)}; use that shard's own --out or drop --resume`);
  }
  return {
    runs: (old.runs ?? []).filter((r) => r.status === 'ok' || r.status === 'diverged'),
    wall_s: typeof old.wall_s === 'number' && Number.isFinite(old.wall_s) ? old.wall_s : 0,
  };
}

const runKey = (method: string, ratio: unknown, seed: unknown) => `${method}|${ratio}|${seed}`;

export async function runSweep(gpu: Gpu, mnist: Mnist, plan: SweepPlan, outDir: string, hooks: SweepHooks = {}, resume = false): Promise<SweepOutcome> {
  const t0 = performance.now();
  const configs = shardConfigs(plan);
  const earlier = resume ? previousSweep(outDir, plan) : { runs: [], wall_s: 0 };
  const done = new Map(earlier.runs.map((r) => [runKey(r.method, r.config.ratio, r.config.seed), r]));
  // One slot per planned run, in plan order. Runs finished by an earlier invocation fill theirs up
  // front, so every write (the first one included) keeps them even if this invocation stops early.
  const slots: (RunResult | undefined)[] = configs.map((c) => done.get(runKey(c.method, c.ratio, c.seed)));
  const results = () => slots.filter((r): r is RunResult => r !== undefined);
  // Wall time of the whole sweep, counting what earlier (resumed) invocations spent.
  const wall = () => earlier.wall_s + (performance.now() - t0) / 1000;
  const write = () => {
    const rs = results();
    return writeSweep(outDir, plan, rs, { adapter: gpu.name, wall_s: wall(), complete: rs.length === configs.length, runs_planned: configs.length });
  };
  let stopped: string | undefined;
  let written = write();
  for (let i = 0; i < configs.length; i++) {
    if (hooks.shouldStop?.()) {
      stopped = 'interrupted';
      break;
    }
    const finished = slots[i];
    if (finished) {
      hooks.onRunEnd?.(i, configs.length, finished);
      continue;
    }
    hooks.onRunStart?.(i, configs.length, configs[i]);
    const r = await runExperiment(gpu, mnist, configs[i], {
      onProgress: (step, loss) => hooks.onProgress?.(i, step, loss),
      onEval: (p) => hooks.onEval?.(i, p),
      shouldStop: hooks.shouldStop,
    });
    slots[i] = r;
    written = write();
    hooks.onRunEnd?.(i, configs.length, r);
    if (r.status === 'interrupted') {
      stopped = 'interrupted';
      break;
    }
    // A lost device takes every later run with it: stop rather than fail them one by one.
    if (r.status === 'failed' && (gpu.lostReason || r.errorName === GpuLostError.name)) {
      stopped = `the GPU device was lost (${r.error})`;
      break;
    }
  }
  return { plan, results: results(), aggregate: written.aggregate, table: formatTable(written.aggregate), files: written.files, wall_s: wall(), ...(stopped ? { stopped } : {}) };
}
