// Sweeps: methods x points x seeds of a preset (presets.ts: the x axis, the methods, the sizes), one
// GPU for every run (or for every run of one shard, see shard.ts), results written after each run so
// an interrupted or failing sweep keeps what it computed.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DATASET_INFO, type DataSource } from '../data/index';
import { GpuLostError } from '../gpu/errors';
import type { Gpu } from '../gpu/gpu';
import type { Method } from '../train/methods';
import { DEFAULT_CONFIG, TRAIN_DEFAULTS, UsageError, describeLr, validateConfig, type RunConfig } from './config';
import { buildTask, configDataset } from './data';
import { errorPlotSvg } from './plot';
import { atPoint, axisFields, presetDecl, type AxisField, type PresetName, type PresetSize, type SweepAxis, type SweepPoint } from './presets';
import { aggregate, formatTable, toCsv, writeFileAtomic, type Aggregate } from './report';
import { runExperiment, type CurvePoint, type RunResult } from './run';
import { atomicTemporaryOf } from '../util/atomic_file';

export interface SweepPlan {
  /** The preset's name, with "-quick" for --quick. */
  preset: string;
  methods: Method[];
  /** The x axis: what each point sets (ratio, noise level, clean-set size, ...). */
  points: SweepPoint[];
  axis: SweepAxis;
  /** The plot's title. */
  title: string;
  seeds: number[];
  /** Everything but method, seed and the point's settings, shared by every run. */
  base: RunConfig;
  /** Run only this share of the runs (`sweep --shard k/N`); absent for the whole sweep. */
  shard?: Shard;
}

/**
 * Shard `index` of `count` (1 <= index <= count): run i of the sweep (in sweepConfigs order, from 0)
 * belongs to shard (i mod count) + 1, so every shard gets a mix of methods, points and seeds.
 */
export interface Shard {
  index: number;
  count: number;
}

export const shardName = (s: Shard) => `${s.index}/${s.count}`;

/** The shard run `i` of a sweep split `count` ways belongs to. */
export const shardOfRun = (i: number, count: number) => (i % count) + 1;

export { PRESETS, type PresetName } from './presets';

export interface PlanOverrides {
  quick?: boolean;
  seeds?: number;
  /** First seed; runs use firstSeed, firstSeed+1, ... */
  firstSeed?: number;
  steps?: number;
  evalEvery?: number;
  methods?: Method[];
  /** Only these points of the axis, by label (e.g. "0.995", "uniform 0.4", "25"). */
  points?: string[];
  /** Fig. 2 style narrowing: only the points that set one of these ratios. */
  ratios?: number[];
  config?: Partial<RunConfig>;
  shard?: Shard;
}

/** The full or quick size of a preset on the config's data set (default MNIST). */
export function presetSize(preset: PresetName, o: Pick<PlanOverrides, 'quick' | 'config'> = {}): PresetSize {
  const setting = presetDecl(preset).setting(configDataset(o.config ?? {}));
  return o.quick ? setting.quick : setting.full;
}

export function planSweep(preset: PresetName, o: PlanOverrides = {}): SweepPlan {
  const decl = presetDecl(preset);
  const setting = decl.setting(configDataset(o.config ?? {}));
  const p = o.quick ? setting.quick : setting.full;
  const steps = o.steps ?? p.steps;
  const first = o.firstSeed ?? 1;
  let points = p.points;
  if (o.points) points = o.points.map((label) => pointByLabel(p.points, label, preset));
  if (o.ratios) points = o.ratios.map((r) => pointByLabel(points.filter((q) => q.set.ratio === r), String(r), preset));
  const base: RunConfig = {
    ...DEFAULT_CONFIG,
    ...TRAIN_DEFAULTS,
    ...setting.config,
    ...o.config,
    steps,
    evalEvery: Math.min(o.evalEvery ?? p.evalEvery, steps),
  };
  return {
    preset: o.quick ? `${preset}-quick` : preset,
    methods: o.methods ?? p.methods,
    points,
    axis: decl.axis,
    title: decl.title(base, DATASET_INFO[configDataset(base)]),
    seeds: Array.from({ length: o.seeds ?? p.seeds }, (_, i) => first + i),
    base,
    ...(o.shard ? { shard: o.shard } : {}),
  };
}

function pointByLabel(points: SweepPoint[], label: string, preset: string): SweepPoint {
  const found = points.find((q) => q.label === label);
  if (!found) throw new UsageError(`preset ${preset} has no point "${label}" (its points: ${points.map((q) => q.label).join(', ') || 'none left'})`);
  return found;
}

/**
 * Settings a task does not read, left out of the shared settings (and so of the resume check):
 * the class-imbalance task has no label noise, the noise tasks no majority proportion.
 */
const UNUSED_BY_TASK: Record<RunConfig['task'], (keyof RunConfig)[]> = {
  imbalance: ['noise', 'flip'],
  noise: ['ratio'],
  longtail: ['ratio'],
  given: ['ratio', 'noise', 'flip'],
};

/** The settings every run of the sweep shares: all but method, seed, what the points set and what the task ignores. */
export function sharedConfig(plan: Pick<SweepPlan, 'base' | 'points'>): Partial<RunConfig> {
  const varied = new Set<string>(['method', 'seed', ...axisFields(plan.points), ...UNUSED_BY_TASK[plan.base.task]]);
  return Object.fromEntries(Object.entries(plan.base).filter(([k]) => !varied.has(k))) as Partial<RunConfig>;
}

/** Runs in order: seeds outermost, then points, then methods, so a stopped sweep has whole groups. */
export function sweepConfigs(plan: SweepPlan): RunConfig[] {
  const out: RunConfig[] = [];
  for (const seed of plan.seeds) for (const point of plan.points) for (const method of plan.methods) out.push({ ...plan.base, ...point.set, seed, method });
  return out;
}

/** What places a run in a sweep: its method, seed and the settings a point may set. */
export type SweepRunId = { method: string; seed: number } & Partial<Omit<RunConfig, 'method' | 'seed'>>;

/** The index of the plan's point a run is at (-1 when none). */
export function pointIndex(plan: Pick<SweepPlan, 'points'>, c: Partial<Pick<RunConfig, AxisField>>): number {
  return plan.points.findIndex((p) => atPoint(c, p));
}

/** "plain r=0.9 s1", "l2rw uniform 0.4 s2": one run of a sweep, for logs and messages. */
export function describeSweepRun(plan: Pick<SweepPlan, 'points' | 'axis'>, c: SweepRunId): string {
  const p = plan.points[pointIndex(plan, c)];
  return `${c.method} ${p ? `${plan.axis.column}${p.label}` : '(not in the plan)'} s${c.seed}`;
}

/** The runs this invocation does: every run of the sweep, or only those of its shard (same order). */
export function shardConfigs(plan: SweepPlan): RunConfig[] {
  const all = sweepConfigs(plan);
  const s = plan.shard;
  return s ? all.filter((_, i) => shardOfRun(i, s.count) === s.index) : all;
}

/** Checks every (point, seed) config and task before any GPU work starts (throws UsageError). */
export function checkSweep(data: DataSource, plan: SweepPlan): void {
  for (const point of plan.points) buildTask(data, validateConfig({ ...plan.base, ...point.set, seed: plan.seeds[0] }));
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

/** The plot is named after the preset: fig2.svg, noise.svg, ... (the same with --quick). */
export function sweepFiles(dir: string, preset: string): SweepFiles {
  const plot = `${preset.replace(/-quick$/, '') || 'sweep'}.svg`;
  return { json: join(dir, 'results.json'), csv: join(dir, 'results.csv'), summaryCsv: join(dir, 'summary.csv'), svg: join(dir, plot) };
}

/** A sweep's plan as results.json records it (and `sweep merge` and `--resume` read it back). */
export function planRecord(plan: SweepPlan): Record<string, unknown> {
  return {
    methods: plan.methods,
    points: plan.points,
    axis: plan.axis,
    title: plan.title,
    seeds: plan.seeds,
    config: sharedConfig(plan),
    ...(plan.shard ? { shard: plan.shard } : {}),
  };
}

/**
 * Writes a sweep's files, each atomically. results.json is the record (`--resume` and `sweep merge`
 * read only it) and is written last; the CSVs and the plot are derived from it and rewritten from it
 * whenever a sweep starts or resumes. So a kill between the writes leaves at most derived files one
 * run ahead of results.json, until the next start.
 */
export function writeSweep(dir: string, plan: SweepPlan, results: RunResult[], meta: Record<string, unknown>): { aggregate: Aggregate; files: SweepFiles } {
  mkdirSync(dir, { recursive: true });
  const files = sweepFiles(dir, plan.preset);
  const agg = aggregate(results, plan.methods, plan.points);
  const fields = axisFields(plan.points);
  writeFileAtomic(
    files.csv,
    toCsv(
      ['method', ...fields, 'seed', 'status', 'steps', 'test_error', 'test_loss', 'val_loss', 'wall_s', 'steps_per_s', 'error'],
      results.map((r) => [r.method, ...fields.map((f) => r.config[f]), r.config.seed, r.status, r.steps, r.test_error, r.test_loss, r.val_loss, +r.wall_s.toFixed(2), +r.steps_per_s.toFixed(3), r.error]),
    ),
  );
  const rows: unknown[][] = [];
  for (const m of agg.methods) {
    for (const p of plan.points) {
      const c = agg.cells[m][p.label];
      rows.push([m, ...fields.map((f) => p.set[f]), c.errors.length, c.failed, c.interrupted, c.mean === null ? null : c.mean * 100, c.std === null ? null : c.std * 100]);
    }
  }
  writeFileAtomic(files.summaryCsv, toCsv(['method', ...fields, 'runs', 'failed', 'interrupted', 'test_error_pct_mean', 'test_error_pct_std'], rows));
  // The seeds that have results (a stopped or resumed sweep may not have them all yet).
  const seeds = new Set(results.map((r) => r.config.seed)).size || plan.seeds.length;
  writeFileAtomic(
    files.svg,
    errorPlotSvg(agg, {
      title: plan.title,
      xTitle: plan.axis.title,
      subtitle: `${plan.base.model}, ${plan.base.steps} steps, ${describeLr(plan.base)}, ${seeds} seed${seeds === 1 ? '' : 's'} (mean ± std)`,
    }),
  );
  writeFileAtomic(files.json, JSON.stringify({ preset: plan.preset, ...meta, plan: planRecord(plan), aggregate: agg, runs: results }, null, 2) + '\n');
  return { aggregate: agg, files };
}

/** Temporary files a killed write of the sweep's files left behind (see writeFileAtomic). */
function removeStaleTemporaries(dir: string, preset: string): void {
  if (!existsSync(dir)) return;
  const names = new Set(Object.values(sweepFiles(dir, preset)).map((f) => basename(f)));
  for (const entry of readdirSync(dir)) {
    const target = atomicTemporaryOf(entry);
    if (target && names.has(target)) rmSync(join(dir, entry), { force: true });
  }
}

/**
 * Finished runs (status ok or diverged) of an earlier sweep into the same folder, so a stopped sweep
 * continues where it was, and the wall time already spent on them. Refuses results made with other
 * shared settings, or as another shard (a shard resumes only itself).
 */
export function previousSweep(outDir: string, plan: SweepPlan): { runs: RunResult[]; wall_s: number } {
  const file = sweepFiles(outDir, plan.preset).json;
  if (!existsSync(file)) return { runs: [], wall_s: 0 };
  let old: { plan?: { config?: unknown; shard?: Shard }; runs?: RunResult[]; wall_s?: unknown };
  try {
    old = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--resume: cannot read ${file}: ${(e as Error).message}`);
  }
  if (JSON.stringify(old.plan?.config) !== JSON.stringify(sharedConfig(plan))) {
    throw new UsageError(`--resume: ${file} was made with other settings; use another --out, drop --resume, or add --force to replace it`);
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

/** A run's place in the sweep: method, point and seed (undefined when the run is at none of the plan's points). */
export function runKey(plan: Pick<SweepPlan, 'points'>, c: SweepRunId): string | undefined {
  const i = pointIndex(plan, c);
  return i < 0 ? undefined : `${c.method}|${plan.points[i].label}|${c.seed}`;
}

export interface SweepOptions {
  /** Keep the finished runs of an earlier sweep into outDir, and continue its interrupted run from its checkpoint. */
  resume?: boolean;
  /** Checkpoint each run every this many steps (0: only when the sweep is stopped). */
  checkpointEvery?: number;
}

/** Where run `c` of a sweep keeps its checkpoint while it trains (removed once its result is recorded). */
export function runCheckpointFile(outDir: string, plan: Pick<SweepPlan, 'points'>, c: SweepRunId): string {
  const label = plan.points[pointIndex(plan, c)]?.label ?? 'run';
  return join(outDir, 'checkpoints', `${c.method}_${label.replace(/[^A-Za-z0-9.]+/g, '-')}_s${c.seed}.safetensors`);
}

export async function runSweep(gpu: Gpu, data: DataSource, plan: SweepPlan, outDir: string, hooks: SweepHooks = {}, o: SweepOptions = {}): Promise<SweepOutcome> {
  const resume = Boolean(o.resume);
  const t0 = performance.now();
  const configs = shardConfigs(plan);
  const earlier = resume ? previousSweep(outDir, plan) : { runs: [], wall_s: 0 };
  const done = new Map(earlier.runs.map((r) => [runKey(plan, { ...r.config, method: r.method }), r]));
  // One slot per planned run, in plan order. Runs finished by an earlier invocation fill theirs up
  // front, so every write (the first one included) keeps them even if this invocation stops early.
  const slots: (RunResult | undefined)[] = configs.map((c) => done.get(runKey(plan, c)));
  const results = () => slots.filter((r): r is RunResult => r !== undefined);
  // Wall time of the whole sweep, counting what earlier (resumed) invocations spent.
  const wall = () => earlier.wall_s + (performance.now() - t0) / 1000;
  const write = () => {
    const rs = results();
    return writeSweep(outDir, plan, rs, { adapter: gpu.name, wall_s: wall(), complete: rs.length === configs.length, runs_planned: configs.length });
  };
  let stopped: string | undefined;
  removeStaleTemporaries(outDir, plan.preset);
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
    const checkpoint = runCheckpointFile(outDir, plan, configs[i]);
    mkdirSync(dirname(checkpoint), { recursive: true });
    const r = await runExperiment(gpu, data, configs[i], {
      onProgress: (step, loss) => hooks.onProgress?.(i, step, loss),
      onEval: (p) => hooks.onEval?.(i, p),
      shouldStop: hooks.shouldStop,
      checkpoint: { file: checkpoint, every: o.checkpointEvery ?? 0, resume },
    });
    slots[i] = r;
    written = write();
    // A finished run (ok, or diverged: recorded as it is) needs its checkpoint no more. An
    // interrupted or failed run (a lost device) keeps it: `--resume` reruns it from there.
    if (r.status === 'ok' || r.status === 'diverged') rmSync(checkpoint, { force: true });
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
  return { plan, results: results(), aggregate: written.aggregate, table: formatTable(written.aggregate, plan.axis.column), files: written.files, wall_s: wall(), ...(stopped ? { stopped } : {}) };
}
