// A sweep killed (SIGKILL) at random moments, again and again, then resumed: every results file on
// disk is always whole (the previous version or the new one), the derived files are never behind
// results.json by more than the run being written, and the resumed sweep equals one never killed.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2rw, l2rwEvents } from '../helpers/cli';

let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-kill-'));
  const r = await l2rw(['--version']); // builds the CLI once, outside the timed kills
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** 2 methods x 2 ratios x 2 seeds of tiny MLP runs: 8 runs, each a fraction of a second. */
const SWEEP = [
  'sweep', '--quick', '--methods', 'plain,l2rw', '--ratios', '0.9,0.995', '--seeds', '2', '--seed', '7',
  '--steps', '3', '--eval-every', '3', '--model', 'mlp', '--hidden', '8', '--train-size', '300',
];

/**
 * Starts the bin and SIGKILLs it `delayMs` after its `afterRuns`-th finished run (0: after its start
 * event), or lets it finish first; resolves with how it ended.
 */
async function runKilled(args: string[], afterRuns: number, delayMs: number): Promise<{ killed: boolean; code: number | null }> {
  let seen = 0;
  let armed = false;
  const end = await l2rwEvents(
    args,
    (e, child) => {
      if (e.event === 'run') seen++;
      if (!armed && ((e.event === 'start' && afterRuns === 0) || (e.event === 'run' && seen >= afterRuns))) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    },
    tmp,
  );
  return { killed: end.signal === 'SIGKILL', code: end.code };
}

interface Run {
  method: string;
  status: string;
  steps: number;
  test_error: number | null;
  config: { ratio: number; seed: number };
  curves: unknown[];
}

/** What each file on disk holds, checking that each is whole; null when the file does not exist yet. */
function readWhole(dir: string): { runs: Run[]; csvRows: string[]; summaryRows: number } | null {
  const json = join(dir, 'results.json');
  if (!existsSync(json)) {
    // Nothing is written before results.json's first version but the derived files of an empty sweep.
    return null;
  }
  const j = JSON.parse(readFileSync(json, 'utf8')); // throws on half a file
  const csv = readFileSync(join(dir, 'results.csv'), 'utf8');
  expect(csv.endsWith('\n')).toBe(true);
  const lines = csv.trim().split('\n');
  const columns = lines[0].split(',').length;
  for (const l of lines) expect(l.split(',').length, l).toBe(columns);
  const summary = readFileSync(join(dir, 'summary.csv'), 'utf8');
  expect(summary.endsWith('\n')).toBe(true);
  expect(readFileSync(join(dir, 'fig2.svg'), 'utf8').trimEnd().endsWith('</svg>')).toBe(true);
  return { runs: j.runs, csvRows: lines.slice(1), summaryRows: summary.trim().split('\n').length - 1 };
}

const computed = ({ method, status, steps, test_error, config, curves }: Run) => ({ method, status, steps, test_error, seed: config.seed, ratio: config.ratio, curves });

describe('a sweep killed at random moments', () => {
  it('leaves whole files in step with results.json, and resumes to the uninterrupted result', async () => {
    const whole = join(tmp, 'whole');
    const w = await l2rw([...SWEEP, '--out', whole], tmp);
    expect(w.code, w.stderr).toBe(0);
    const expected = (JSON.parse(readFileSync(join(whole, 'results.json'), 'utf8')).runs as Run[]).map(computed);
    expect(expected).toHaveLength(8);

    const out = join(tmp, 'killed');
    let kills = 0;
    let done = false;
    for (let attempt = 0; attempt < 12 && !done; attempt++) {
      // Anywhere from the start to a few runs in, and anywhere within a run (writes included).
      // A resumed sweep reports its earlier runs first: count from there.
      const before = readWhole(out)?.runs.length ?? 0;
      const r = await runKilled([...SWEEP, '--out', out, '--resume'], before + Math.floor(Math.random() * 3), Math.random() * 400);
      if (r.killed) kills++;
      else {
        expect(r.code).toBe(0);
        done = true;
      }
      const seen = readWhole(out);
      if (!seen) continue;
      // Every finished run in results.json is one of the planned runs, finished as planned.
      expect(seen.runs.every((x) => x.status === 'ok' && x.steps === 3)).toBe(true);
      // The derived files are written before results.json: at most the run being written ahead.
      expect(seen.csvRows.length - seen.runs.length).toBeGreaterThanOrEqual(0);
      expect(seen.csvRows.length - seen.runs.length).toBeLessThanOrEqual(1);
      expect(seen.summaryRows).toBe(4);
    }
    expect(done, 'the sweep never finished in 12 attempts').toBe(true);
    expect(kills).toBeGreaterThan(0);
    const final = readWhole(out)!;
    expect(final.runs.map(computed)).toEqual(expected);
    expect(final.csvRows).toHaveLength(8);
    // No temporary file of a killed write is left once a sweep has started again.
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 300_000);
});
