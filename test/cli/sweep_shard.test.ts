// `l2rw sweep --shard k/N` and `l2rw sweep merge` end to end (the real bin on the GPU adapter): a tiny
// sweep run whole and as two shards gives the same runs and aggregate once merged, and merge refuses
// folders that are not the shards of one sweep.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2rw as run, ourLines, ROOT as root } from '../helpers/cli';

/** The bin, run in the test's temp folder (default output folders land there). */
const l2rw = (args: string[]) => run(args, tmp ?? root);

let tmp: string;


/** A 2 methods x 2 ratios x 1 seed sweep of tiny MLP runs (2 steps), evaluated after each step. */
const sweepArgs = (steps = 2) => [
  'sweep', '--quick', '--methods', 'plain,l2rw', '--ratios', '0.9,0.995', '--seeds', '1', '--seed', '4',
  '--steps', String(steps), '--eval-every', '1', '--model', 'mlp', '--hidden', '8', '--train-size', '300',
];
const SWEEP = sweepArgs();

interface Run {
  method: string;
  status: string;
  steps: number;
  test_error: number | null;
  test_loss: number | null;
  val_loss: number | null;
  config: { ratio: number; seed: number };
  curves: unknown[];
  wall_s: number;
}

const readJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
const label = (r: Run) => `${r.method}@${r.config.ratio}/${r.config.seed}`;
/** What training computed (no timings, no start time): equal across processes on one adapter. */
const computed = ({ method, status, steps, test_error, test_loss, val_loss, config, curves }: Run) => ({ method, status, steps, test_error, test_loss, val_loss, config, curves });
/** results.csv without its timing columns (wall_s, steps_per_s). */
const csvWithoutTimes = (dir: string) =>
  readFileSync(join(dir, 'results.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(',').filter((_, i) => i !== 8 && i !== 9).join(','));
/** The text table: from its header to the blank line after it. */
function table(stdout: string): string[] {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => l.startsWith('test error %'));
  expect(head, stdout).toBeGreaterThanOrEqual(0);
  return lines.slice(head, lines.indexOf('', head));
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-shard-'));
  const r = await l2rw(['--version']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('l2rw sweep --shard and sweep merge', () => {
  it('two shards merged equal the unsharded sweep: runs, curves, aggregate, summary.csv and plot', async () => {
    const whole = join(tmp, 'whole');
    const w = await l2rw([...SWEEP, '--out', whole]);
    expect(w.code, w.stderr).toBe(0);

    // Shard 2 into the default folder (runs/<preset>/shard-2-of-2 under the working directory).
    const s1 = join(tmp, 'shard1');
    const s2 = join(tmp, 'runs', 'fig2-quick', 'shard-2-of-2');
    const a = await l2rw([...SWEEP, '--shard', '1/2', '--out', s1]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/shard 1\/2/);
    const b = await l2rw([...SWEEP, '--shard', '2/2']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(join(s2, 'results.json'));

    // Run i belongs to shard (i mod 2) + 1; each shard records its shard in the plan.
    const res1 = readJson(s1);
    const res2 = readJson(s2);
    expect(res1.runs.map(label)).toEqual(['plain@0.9/4', 'plain@0.995/4']);
    expect(res2.runs.map(label)).toEqual(['l2rw@0.9/4', 'l2rw@0.995/4']);
    expect(res1.plan.shard).toEqual({ index: 1, count: 2 });
    expect(res2.plan.shard).toEqual({ index: 2, count: 2 });
    expect(res1).toMatchObject({ complete: true, runs_planned: 2 });

    const merged = join(tmp, 'merged');
    const m = await l2rw(['sweep', 'merge', s1, s2, '--out', merged]);
    expect(m.code, m.stderr).toBe(0);
    expect(ourLines(m.stderr)).toEqual([]);
    expect(table(m.stdout)).toEqual(table(w.stdout));
    expect(m.stdout).toMatch(/4 runs merged from 2 of 2 shards/);
    expect(m.stdout).not.toMatch(/partial/);

    const one = readJson(whole);
    const both = readJson(merged);
    expect(both.runs.map(label)).toEqual(['plain@0.9/4', 'l2rw@0.9/4', 'plain@0.995/4', 'l2rw@0.995/4']);
    expect(both.runs.map(computed)).toEqual(one.runs.map(computed));
    for (const r of both.runs) {
      expect(r.status).toBe('ok');
      expect(r.curves).toHaveLength(2);
    }
    expect(both.aggregate).toEqual(one.aggregate);
    expect(both.plan).toEqual(one.plan); // the whole sweep's plan: no shard
    expect(both).toMatchObject({ preset: one.preset, complete: true, runs_planned: 4 });
    expect(both.merged_from.map((x: { shard: string; runs: number }) => `${x.shard}:${x.runs}`)).toEqual(['1/2:2', '2/2:2']);
    expect(both.wall_s).toBeCloseTo(res1.wall_s + res2.wall_s, 9);
    for (const f of ['summary.csv', 'fig2.svg']) expect(readFileSync(join(merged, f), 'utf8'), f).toBe(readFileSync(join(whole, f), 'utf8'));
    expect(csvWithoutTimes(merged)).toEqual(csvWithoutTimes(whole));

    // --json: the same merge as one JSON line.
    const mj = await l2rw(['sweep', 'merge', s1, s2, '--out', join(tmp, 'merged-json'), '--json']);
    expect(mj.code, mj.stderr).toBe(0);
    const line = JSON.parse(mj.stdout.trim());
    expect(line).toMatchObject({ event: 'done', command: 'merge', runs: 4, runs_planned: 4, failed: 0, missing: [] });
    expect(line.aggregate).toEqual(one.aggregate);
    expect(line.shards.map((x: { shard: string }) => x.shard)).toEqual(['1/2', '2/2']);

    // A shard finished on another machine holds runs of two adapters: the merge counts each run's own.
    const mixed = join(tmp, 'shard2-mixed');
    mkdirSync(mixed);
    const moved = readJson(s2);
    moved.runs[1].adapter = 'Other GPU (vendor) driver 1';
    writeFileSync(join(mixed, 'results.json'), JSON.stringify(moved));
    const mm = await l2rw(['sweep', 'merge', s1, mixed, '--out', join(tmp, 'merged-mixed')]);
    expect(mm.code, mm.stderr).toBe(0);
    const ours = res1.runs[0].adapter;
    expect(mm.stdout).toContain(`note: the runs ran on 2 different adapters (3 on ${ours}, 1 on Other GPU (vendor) driver 1)`);
    expect(readJson(join(tmp, 'merged-mixed')).adapter_runs).toEqual({ [ours]: 3, 'Other GPU (vendor) driver 1': 1 });
    expect(both.adapter_runs).toBeUndefined();

    // --resume works per shard: a finished shard trains nothing and keeps its runs...
    const again = await l2rw([...SWEEP, '--shard', '1/2', '--out', s1, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(readJson(s1).runs).toEqual(res1.runs);
    // ...and a shard's folder is not resumed as another shard or as the whole sweep.
    for (const shard of [['--shard', '2/2'], []]) {
      const wrong = await l2rw([...SWEEP, ...shard, '--out', s1, '--resume']);
      expect(wrong.code).toBe(2);
      expect(ourLines(wrong.stderr).at(-1)).toMatch(/^l2rw: error: --resume: .* holds shard 1\/2, not /);
    }

    // merge refuses what is not the shards of one sweep: one line, exit code 2, nothing on stdout.
    const refused = async (args: string[], message: RegExp) => {
      const r = await l2rw(['sweep', 'merge', ...args]);
      expect(r.code, r.stderr).toBe(2);
      const lines = ourLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^l2rw: error: sweep merge: /);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
    };
    const other = join(tmp, 'shard2-steps3');
    const o = await l2rw([...sweepArgs(3), '--shard', '2/2', '--out', other]);
    expect(o.code, o.stderr).toBe(0);
    await refused([s1, other, '--out', join(tmp, 'x')], /not shards of one sweep: they differ in steps \(3 vs 2\)/);
    const copy = join(tmp, 'shard1-copy');
    cpSync(s1, copy, { recursive: true });
    await refused([s1, s2, copy, '--out', join(tmp, 'x')], /both shard 1\/2.*overlapping/);
    await refused([s1, '--out', join(tmp, 'x')], /2 of 4 runs missing: shard 2\/2 \(no folder given\): l2rw r=0\.9 s4, l2rw r=0\.995 s4; .*--allow-partial/);
    await refused([s1, join(tmp, 'nowhere')], /cannot read .*nowhere/);
    const corrupt = join(tmp, 'corrupt');
    cpSync(s2, corrupt, { recursive: true });
    writeFileSync(join(corrupt, 'results.json'), '{"preset": "fig2-quick", "plan":');
    await refused([s1, corrupt], /cannot read .*corrupt.results\.json/);
    await refused([s1, s2, '--out', s1], /--out .* holds shard 1\/2's own results/);

    // --allow-partial merges what there is and says what is missing under the table.
    const partial = join(tmp, 'partial');
    const p = await l2rw(['sweep', 'merge', s1, '--allow-partial', '--out', partial]);
    expect(p.code, p.stderr).toBe(0);
    const footer = p.stdout.split('\n').slice(table(p.stdout).length);
    expect(footer.join('\n')).toMatch(/partial \(--allow-partial\): 2 of 4 runs missing: shard 2\/2 \(no folder given\): l2rw r=0\.9 s4, l2rw r=0\.995 s4/);
    const pr = readJson(partial);
    expect(pr).toMatchObject({ complete: false, runs_planned: 4 });
    expect(pr.runs.map(computed)).toEqual([one.runs[0], one.runs[2]].map(computed));
    expect(pr.missing.map((x: { method: string; shard: number }) => `${x.method}:${x.shard}`)).toEqual(['l2rw:2', 'l2rw:2']);
  }, 240_000);
});

describe('bad --shard values', () => {
  const cases: [string, RegExp][] = [
    ['0/3', /1 <= k <= N/],
    ['4/3', /1 <= k <= N/],
    ['1/0', /N >= 1/],
    ['two/3', /expected k\/N/],
    ['half', /expected k\/N/],
  ];
  for (const [value, message] of cases) {
    it(`--shard ${value}: one line on stderr, exit code 2`, async () => {
      const r = await l2rw([...SWEEP, '--shard', value, '--out', join(tmp, 'never')]);
      expect(r.code).toBe(2);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^l2rw: error: option '--shard <k/N>' argument '${value}' is invalid`));
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }
  it('more shards than runs: one line, exit code 2', async () => {
    const r = await l2rw([...SWEEP, '--shard', '5/5', '--out', join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(ourLines(r.stderr)).toEqual(['l2rw: error: --shard 5/5: the sweep has only 4 runs, so shard 5 would have none; use at most 4 shards']);
  });
});
