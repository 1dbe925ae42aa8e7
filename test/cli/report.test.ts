// The sweep's aggregation, table, CSV and plot, and the presets, on made-up results (no GPU).
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/experiments/config';
import { errorPlotSvg, niceTicks } from '../../src/experiments/plot';
import { aggregate, csvCell, formatTable, stdDev, toCsv } from '../../src/experiments/report';
import type { RunResult } from '../../src/experiments/run';
import { FIG2, planSweep, sweepConfigs } from '../../src/experiments/sweep';
import { parsePositiveInt, parseRatio } from '../../src/cli/options';

function fake(method: string, ratio: number, seed: number, err: number | null, status: RunResult['status'] = 'ok'): RunResult {
  return {
    status,
    task: 'mnist-imbalance',
    method,
    model: 'lenet-caffe',
    config: { ...DEFAULT_CONFIG, method: method as RunResult['config']['method'], ratio, seed },
    data: { description: '', train: 5000, clean: 10, test: 1991, classes: 2 },
    adapter: 'test',
    steps: 10,
    test_error: err,
    test_loss: err,
    val_loss: err,
    wall_s: 1,
    train_s: 1,
    eval_s: 0,
    steps_per_s: 10,
    curves: [],
    started_at: '',
  };
}

describe('aggregation and table', () => {
  const runs = [
    fake('plain', 0.9, 1, 0.02),
    fake('plain', 0.9, 2, 0.04),
    fake('plain', 0.995, 1, 0.5),
    fake('plain', 0.995, 2, null, 'diverged'),
    fake('l2rw', 0.9, 1, 0.01),
    fake('l2rw', 0.9, 2, 0.01),
  ];
  const agg = aggregate(runs, ['plain', 'l2rw'], [0.9, 0.995]);

  it('mean and sample std over the finished seeds; failures counted, not averaged', () => {
    expect(agg.cells.plain['0.9'].mean).toBeCloseTo(0.03, 12);
    expect(agg.cells.plain['0.9'].std).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    expect(agg.cells.plain['0.995']).toMatchObject({ errors: [0.5], mean: 0.5, std: null, failed: 1 });
    expect(agg.cells.l2rw['0.995']).toMatchObject({ errors: [], mean: null, failed: 0 });
    expect(stdDev([1])).toBeNull();
  });

  it('prints methods as rows and ratios as columns, in percent', () => {
    const t = formatTable(agg).split('\n');
    expect(t[0]).toMatch(/^test error %\s+r=0\.9\s+r=0\.995$/);
    expect(t[2]).toMatch(/^plain\s+3\.00 ± 1\.41\s+50\.00 \(1 failed\)$/);
    expect(t[3]).toMatch(/^l2rw\s+1\.00 ± 0\.00\s+—$/);
  });

  it('plots one series per method with error bars, and escapes text', () => {
    const svg = errorPlotSvg(agg, { title: 'a < b & c' });
    expect(svg).toContain('a &lt; b &amp; c');
    expect(svg.match(/class="series"/g)).toHaveLength(2);
    // plain at 0.9 has a std, so an error bar path (vertical line with caps).
    expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+V[\d.]+M/);
    expect(niceTicks(0, 52.5)).toEqual([0, 20, 40, 60]);
    expect(niceTicks(0, 4.2)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(niceTicks(0, 0.7)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
  });

  it('quotes CSV cells that need it', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "x"')).toBe('"say ""x"""');
    expect(csvCell(null)).toBe('');
    expect(csvCell(Number.NaN)).toBe('');
    expect(toCsv(['a', 'b'], [[1, 'x']])).toBe('a,b\n1,x\n');
  });
});

describe('presets and option parsing', () => {
  it('fig2 covers the paper methods and ratios; seeds outermost so a stopped sweep has whole groups', () => {
    expect(FIG2.full.methods).toEqual(['plain', 'proportion', 'resample', 'hardmining', 'random', 'l2rw']);
    expect(FIG2.full.ratios).toEqual([0.9, 0.95, 0.98, 0.99, 0.995]);
    expect(FIG2.full.seeds).toBeGreaterThanOrEqual(3);
    const plan = planSweep('fig2', { quick: true, seeds: 2, firstSeed: 5 });
    const runs = sweepConfigs(plan);
    expect(runs).toHaveLength(FIG2.quick.methods.length * FIG2.quick.ratios.length * 2);
    expect(runs[0]).toMatchObject({ seed: 5, ratio: FIG2.quick.ratios[0], method: FIG2.quick.methods[0], model: 'lenet', task: 'imbalance', clean: 10 });
    expect(runs.at(-1)).toMatchObject({ seed: 6, ratio: FIG2.quick.ratios.at(-1) });
  });

  it('rejects what is not a number of the right kind', () => {
    expect(parsePositiveInt(' 12 ')).toBe(12);
    expect(parseRatio('9.95e-1')).toBe(0.995);
    for (const bad of ['abc', '', '1.5', '0', '-3', '12abc', '0x10']) expect(() => parsePositiveInt(bad), bad).toThrow();
    for (const bad of ['1', '0', '1.5', 'nan', 'Infinity']) expect(() => parseRatio(bad), bad).toThrow();
  });
});
