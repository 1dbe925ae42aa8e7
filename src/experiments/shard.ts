// Sharded sweeps. `sweep --shard k/N` runs every N-th run of a sweep (run i, in sweepConfigs order,
// belongs to shard (i mod N) + 1), so N machines, array-job tasks or processes each do one share and
// write their own results.json. `sweep merge` reads those files back, checks that they are the shards
// of one sweep (same settings, no shard twice, no run missing) and writes the files a single-machine
// sweep writes. Runs are deterministic on a given adapter, so the merged runs equal an unsharded
// sweep's exactly.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DATASET_INFO, isDatasetName } from '../data/dataset';
import type { Method } from '../train/methods';
import { DEFAULT_CONFIG, UsageError, type RunConfig } from './config';
import { AXIS_FIELDS, presetDecl, ratioPoints, type SweepAxis, type SweepPoint } from './presets';
import type { Aggregate } from './report';
import type { RunResult } from './run';
import { describeSweepRun, runKey, shardName, shardOfRun, sweepConfigs, writeSweep, type Shard, type SweepFiles, type SweepPlan } from './sweep';

/**
 * "k/N" -> { index: k, count: N }. Throws UsageError with what was expected (the CLI turns it into
 * commander's one-line "argument ... is invalid" error).
 */
export function parseShard(raw: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(raw.trim());
  if (!m) throw new UsageError('expected k/N (run shard k of N), e.g. 2/4.');
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new UsageError('expected k/N with N >= 1 shards.');
  if (!Number.isSafeInteger(index) || index < 1 || index > count) throw new UsageError('expected k/N with 1 <= k <= N (shards count from 1).');
  return { index, count };
}

/** One sweep's results.json as `sweep merge` needs it. */
export interface SweepRecord {
  /** The folder (or file) as the user named it, for messages. */
  name: string;
  /** Absolute path of the results.json. */
  file: string;
  preset: string;
  adapter: string;
  wall_s: number;
  methods: string[];
  points: SweepPoint[];
  axis: SweepAxis;
  title: string;
  seeds: number[];
  config: Record<string, unknown>;
  /** The shard it ran; 1/1 for a whole sweep. */
  shard: Shard;
  runs: RunResult[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const AXIS_KEYS = new Set<string>(AXIS_FIELDS);
const isPoint = (v: unknown): v is SweepPoint =>
  isObject(v) && typeof v.label === 'string' && isObject(v.set) && Object.entries(v.set).every(([k, x]) => AXIS_KEYS.has(k) && (typeof x === 'number' || typeof x === 'string'));

/** Reads DIR/results.json (or the results.json named directly); UsageError when it cannot. */
export function readSweepRecord(name: string): SweepRecord {
  const path = resolve(name);
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'results.json');
  } catch {
    throw new UsageError(`sweep merge: cannot read ${name}: no such file or folder`);
  }
  if (!existsSync(file)) throw new UsageError(`sweep merge: cannot read ${file}: no such file (is ${name} a sweep's output folder?)`);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`sweep merge: cannot read ${file}: ${(e as Error).message}`);
  }
  const bad = (why: string) => new UsageError(`sweep merge: cannot read ${file}: ${why}; it is not the results.json of an l2rw sweep`);
  if (!isObject(j)) throw bad('not a JSON object');
  const plan = j.plan;
  if (typeof j.preset !== 'string') throw bad('no preset');
  if (!isObject(plan) || !isStringArray(plan.methods) || !isNumberArray(plan.seeds) || !isObject(plan.config)) throw bad('no plan (methods, seeds, config)');
  // Sweeps before the presets of noisy labels recorded Fig. 2's ratios instead of points.
  const legacy = plan.points === undefined && isNumberArray(plan.ratios);
  const points = legacy ? ratioPoints(plan.ratios as number[]) : plan.points;
  if (!Array.isArray(points) || !points.every(isPoint)) throw bad('no plan.points (each a label and the settings it sets)');
  const fig2 = presetDecl('fig2');
  const axis = legacy ? fig2.axis : plan.axis;
  if (!isObject(axis) || typeof axis.title !== 'string' || typeof axis.column !== 'string') throw bad('no plan.axis (title, column)');
  const dataset = isDatasetName(plan.config.dataset) ? plan.config.dataset : 'mnist';
  const title = typeof plan.title === 'string' ? plan.title : fig2.title(plan.config as unknown as RunConfig, DATASET_INFO[dataset]);
  let shard: Shard = { index: 1, count: 1 };
  if (plan.shard !== undefined) {
    const sh = plan.shard;
    if (!isObject(sh) || typeof sh.index !== 'number' || typeof sh.count !== 'number') throw bad('a malformed plan.shard');
    try {
      shard = parseShard(`${sh.index}/${sh.count}`);
    } catch {
      throw bad(`an impossible shard ${sh.index}/${sh.count}`);
    }
  }
  if (!Array.isArray(j.runs)) throw bad('no runs');
  for (const r of j.runs) {
    if (!isObject(r) || typeof r.method !== 'string' || typeof r.status !== 'string' || !isObject(r.config) || typeof r.config.seed !== 'number') {
      throw bad('a run without method, status, config or seed');
    }
  }
  return {
    name,
    file,
    preset: j.preset,
    adapter: typeof j.adapter === 'string' ? j.adapter : 'unknown adapter',
    wall_s: typeof j.wall_s === 'number' && Number.isFinite(j.wall_s) ? j.wall_s : 0,
    methods: plan.methods,
    points: points as SweepPoint[],
    axis: { title: axis.title as string, column: axis.column as string },
    title,
    seeds: plan.seeds,
    config: plan.config,
    shard,
    runs: j.runs as RunResult[],
  };
}

/**
 * Settings that may differ between shards: where each machine finds MNIST. The data is the same
 * files wherever they are mounted, so it does not change a result.
 */
const PER_MACHINE = new Set(['dataDir']);

const show = (v: unknown) => (v === undefined ? '(default)' : Array.isArray(v) ? v.join(',') || '(none)' : String(v));

/** The first shared setting in which `b` differs from `a`, as "setting (value in b vs value in a)". */
function difference(a: SweepRecord, b: SweepRecord): string | null {
  const top: [string, unknown, unknown][] = [
    ['preset', a.preset, b.preset],
    ['methods', a.methods, b.methods],
    ['points', a.points.map((p) => p.label), b.points.map((p) => p.label)],
    ['seeds', a.seeds, b.seeds],
    ['shard count', a.shard.count, b.shard.count],
  ];
  const keys = [...new Set([...Object.keys(a.config), ...Object.keys(b.config)])].filter((k) => !PER_MACHINE.has(k));
  for (const [name, va, vb] of [...top, ...keys.map((k): [string, unknown, unknown] => [k, a.config[k], b.config[k]])]) {
    if (JSON.stringify(va) !== JSON.stringify(vb)) return `${name} (${show(vb)} vs ${show(va)})`;
  }
  return null;
}


export interface MissingRun {
  /** The shard (1-based) the run belongs to. */
  shard: number;
  method: string;
  /** The label of its point on the sweep's axis. */
  point: string;
  seed: number;
  /** 'no shard folder' when its shard was not given, else why its shard lacks it. */
  why: 'no shard folder' | 'not run' | 'interrupted';
}

export interface MergedSweep {
  plan: SweepPlan;
  /** Every run the shards finished (or failed), in the order a single-machine sweep lists them. */
  results: RunResult[];
  runsPlanned: number;
  missing: MissingRun[];
  /** The inputs, in shard order. */
  shards: SweepRecord[];
  /**
   * The distinct adapters the merged runs ran on, with how many runs each (from each run's own record:
   * a shard resumed on another machine holds runs of both).
   */
  adapters: string[];
  adapterRuns: Record<string, number>;
  /** Sum of the shards' wall times: the compute the sweep took. */
  wall_s: number;
}

/** "3 of 8 runs are missing: shard 2/4 (no folder given): plain r=0.9 s1, ...". */
export function describeMissing(m: MergedSweep): string {
  const count = m.shards[0].shard.count;
  const byShard = new Map<number, MissingRun[]>();
  for (const r of m.missing) byShard.set(r.shard, [...(byShard.get(r.shard) ?? []), r]);
  let listed = 0;
  const LIMIT = 8;
  const parts: string[] = [];
  for (const [shard, runs] of [...byShard].sort((x, y) => x[0] - y[0])) {
    const given = m.shards.find((s) => s.shard.index === shard);
    const where = given ? `in ${given.name}` : 'no folder given';
    const shown = runs.slice(0, Math.max(0, LIMIT - listed));
    listed += shown.length;
    const names = shown.map((r) => `${r.method} ${m.plan.axis.column}${r.point} s${r.seed}${r.why === 'interrupted' ? ' (interrupted)' : ''}`);
    if (shown.length < runs.length) names.push(`${runs.length - shown.length} more`);
    parts.push(`shard ${shard}/${count} (${where}): ${names.join(', ')}`);
  }
  return `${m.missing.length} of ${m.runsPlanned} runs missing: ${parts.join('; ')}`;
}

/**
 * Combines the shards of one sweep. Refuses (UsageError, one line) inputs that are not shards of one
 * sweep: other shared settings, a shard given twice, runs outside a shard's plan, and, unless
 * allowPartial, runs that no shard finished.
 */
export function mergeSweeps(records: SweepRecord[], o: { allowPartial?: boolean } = {}): MergedSweep {
  if (records.length === 0) throw new UsageError('sweep merge: no shard folders given');
  const first = records[0];
  for (const r of records.slice(1)) {
    const d = difference(first, r);
    if (d) throw new UsageError(`sweep merge: ${r.name} and ${first.name} are not shards of one sweep: they differ in ${d}`);
  }
  const byIndex = new Map<number, SweepRecord>();
  for (const r of records) {
    const other = byIndex.get(r.shard.index);
    if (other) {
      const same = other.file === r.file ? ' (the same file given twice)' : '';
      throw new UsageError(`sweep merge: ${other.name} and ${r.name} are both shard ${shardName(r.shard)}${same}: overlapping shards; give each shard once`);
    }
    byIndex.set(r.shard.index, r);
  }
  const count = first.shard.count;
  const shards = [...byIndex.values()].sort((a, b) => a.shard.index - b.shard.index);

  // The plan a single-machine sweep with these settings has. The recorded config lacks the settings
  // that vary (method, seed, what the points set) and those the task ignores: they take RunConfig's
  // defaults, added after the recorded keys so sharedConfig() gives back the shards' config as it was.
  const base = { ...(first.config as unknown as RunConfig) };
  for (const [k, v] of Object.entries(DEFAULT_CONFIG)) if (!(k in base)) (base as Record<string, unknown>)[k] = v;
  const plan: SweepPlan = {
    preset: first.preset,
    methods: first.methods as Method[],
    points: first.points,
    axis: first.axis,
    title: first.title,
    seeds: first.seeds,
    base,
  };
  const configs = sweepConfigs(plan);
  const index = new Map(configs.map((c, i) => [runKey(plan, c), i]));
  const slots: (RunResult | undefined)[] = configs.map(() => undefined);
  for (const s of shards) {
    for (const r of s.runs) {
      const id = { ...r.config, method: r.method };
      const what = describeSweepRun(plan, id);
      const key = runKey(plan, id);
      const i = key === undefined ? undefined : index.get(key);
      if (i === undefined) throw new UsageError(`sweep merge: ${s.file} has a run (${what}) that is not in its sweep's plan`);
      if (shardOfRun(i, count) !== s.shard.index) {
        throw new UsageError(`sweep merge: ${s.file} (shard ${shardName(s.shard)}) has a run (${what}) of shard ${shardOfRun(i, count)}/${count}`);
      }
      if (slots[i]) throw new UsageError(`sweep merge: ${s.file} has the run ${what} twice`);
      slots[i] = r;
    }
  }
  const missing: MissingRun[] = [];
  configs.forEach((c, i) => {
    const shard = shardOfRun(i, count);
    const r = slots[i];
    if (r && r.status !== 'interrupted') return;
    missing.push({ shard, method: c.method, point: plan.points[Math.floor(i / plan.methods.length) % plan.points.length].label, seed: c.seed, why: !byIndex.has(shard) ? 'no shard folder' : r ? 'interrupted' : 'not run' });
  });
  const results = slots.filter((r): r is RunResult => r !== undefined);
  const adapterRuns: Record<string, number> = {};
  for (const r of results) adapterRuns[r.adapter] = (adapterRuns[r.adapter] ?? 0) + 1;
  const merged: MergedSweep = {
    plan,
    results,
    runsPlanned: configs.length,
    missing,
    shards,
    adapters: Object.keys(adapterRuns).length ? Object.keys(adapterRuns) : [...new Set(shards.map((s) => s.adapter))],
    adapterRuns,
    wall_s: shards.reduce((a, s) => a + s.wall_s, 0),
  };
  if (missing.length && !o.allowPartial) {
    throw new UsageError(
      `sweep merge: ${describeMissing(merged)}; add the missing shards' folders, finish them with \`l2rw sweep ... --shard k/${count} --resume\`, or merge anyway with --allow-partial`,
    );
  }
  return merged;
}

/** The folders of the inputs (an output folder must not be one of them). */
export const recordDirs = (m: MergedSweep) => m.shards.map((s) => dirname(s.file));

/** Writes results.json, results.csv, summary.csv and the plot of a merged sweep into `dir`. */
export function writeMerged(dir: string, m: MergedSweep): { aggregate: Aggregate; files: SweepFiles } {
  return writeSweep(dir, m.plan, m.results, {
    adapter: m.adapters.join('; '),
    ...(m.adapters.length > 1 ? { adapter_runs: m.adapterRuns } : {}),
    wall_s: m.wall_s,
    complete: m.missing.length === 0,
    runs_planned: m.runsPlanned,
    merged_from: m.shards.map((s) => ({ shard: shardName(s.shard), file: s.file, adapter: s.adapter, wall_s: s.wall_s, runs: s.runs.length })),
    ...(m.missing.length ? { missing: m.missing } : {}),
  });
}
