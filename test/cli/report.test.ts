// The sweep's aggregation, table, CSV and plot, and the presets, on made-up results (no GPU).
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/experiments/config';
import { errorPlotSvg, niceTicks } from '../../src/experiments/plot';
import { aggregate, csvCell, formatTable, stdDev, toCsv } from '../../src/experiments/report';
import type { RunResult } from '../../src/experiments/run';
import { PRESETS, ratioPoints } from '../../src/experiments/presets';
import { describeSweepRun, planSweep, presetSize, sharedConfig, sweepConfigs } from '../../src/experiments/sweep';
import { parsePositiveInt, parseRatio } from '../../src/cli/options';
import { readSweepRecord } from '../../src/experiments/shard';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  const agg = aggregate(runs, ['plain', 'l2rw'], ratioPoints([0.9, 0.995]));

  it('mean and sample std over the finished seeds; failures counted, not averaged', () => {
    expect(agg.cells.plain['0.9'].mean).toBeCloseTo(0.03, 12);
    expect(agg.cells.plain['0.9'].std).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    expect(agg.cells.plain['0.995']).toMatchObject({ errors: [0.5], mean: 0.5, std: null, failed: 1 });
    expect(agg.cells.l2rw['0.995']).toMatchObject({ errors: [], mean: null, failed: 0 });
    expect(stdDev([1])).toBeNull();
  });

  it('an interrupted run is counted as interrupted, not failed, and printed so', () => {
    const stopped = aggregate([fake('plain', 0.9, 1, 0.02), fake('plain', 0.9, 2, null, 'interrupted'), fake('l2rw', 0.9, 1, null, 'interrupted'), fake('l2rw', 0.9, 2, null, 'diverged')], ['plain', 'l2rw'], ratioPoints([0.9]));
    expect(stopped.cells.plain['0.9']).toMatchObject({ errors: [0.02], failed: 0, interrupted: 1 });
    expect(stopped.cells.l2rw['0.9']).toMatchObject({ errors: [], failed: 1, interrupted: 1 });
    const t = formatTable(stopped, 'r=').split('\n');
    expect(t[2]).toMatch(/^plain\s+2\.00 \(1 interrupted\)$/);
    expect(t[3]).toMatch(/^l2rw\s+1 failed, 1 interrupted$/);
  });

  it('prints methods as rows and ratios as columns, in percent', () => {
    const t = formatTable(agg, 'r=').split('\n');
    expect(t[0]).toMatch(/^test error %\s+r=0\.9\s+r=0\.995$/);
    expect(t[2]).toMatch(/^plain\s+3\.00 ± 1\.41\s+50\.00 \(1 failed\)$/);
    expect(t[3]).toMatch(/^l2rw\s+1\.00 ± 0\.00\s+—$/);
  });

  it('plots one series per method with error bars, and escapes text', () => {
    const svg = errorPlotSvg(agg, { title: 'a < b & c', xTitle: 'Proportion <9s>' });
    expect(svg).toContain('a &lt; b &amp; c');
    expect(svg).toContain('Proportion &lt;9s&gt;');
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
    const full = presetSize('fig2');
    const quick = presetSize('fig2', { quick: true });
    expect(full.methods).toEqual(['plain', 'proportion', 'resample', 'hardmining', 'random', 'l2rw']);
    expect(full.points.map((p) => p.set.ratio)).toEqual([0.9, 0.95, 0.98, 0.99, 0.995]);
    expect(full.seeds).toBeGreaterThanOrEqual(3);
    const plan = planSweep('fig2', { quick: true, seeds: 2, firstSeed: 5 });
    const runs = sweepConfigs(plan);
    expect(runs).toHaveLength(quick.methods.length * quick.points.length * 2);
    expect(runs[0]).toMatchObject({ seed: 5, ratio: quick.points[0].set.ratio, method: quick.methods[0], model: 'lenet', task: 'imbalance', clean: 10 });
    expect(runs.at(-1)).toMatchObject({ seed: 6, ratio: quick.points.at(-1)!.set.ratio });
    expect(describeSweepRun(plan, runs[0])).toBe(`${quick.methods[0]} r=0.9 s5`);
  });

  it("fig2's shared settings are those of sweeps before the other presets existed (so --resume still accepts them)", () => {
    // The key list results.json files of earlier versions recorded, in order.
    const before = ['task', 'clean', 'trainSize', 'model', 'hidden', 'batch', 'lr', 'momentum', 'weightDecay', 'lrDecayAt', 'lrDecayFactor', 'steps', 'evalEvery', 'dataDir'];
    expect(Object.keys(sharedConfig(planSweep('fig2', { config: { dataDir: null } })))).toEqual(before);
  });

  it('the noisy-label presets vary what the paper varies, with every baseline in the full noise sweep', () => {
    const noise = planSweep('noise');
    expect(noise.points.map((p) => p.label)).toEqual(['uniform 0.2', 'uniform 0.4', 'uniform 0.6', 'background 0.2', 'background 0.4', 'background 0.6']);
    expect(noise.methods).toEqual(expect.arrayContaining(['plain', 'l2rw', 'clean-only', 'finetune', 'early-stop', 'l2rw-finetune', 'random', 'bootstrap-soft', 'bootstrap-hard']));
    const runs = sweepConfigs(noise);
    expect(runs[0]).toMatchObject({ task: 'noise', flip: 'uniform', noise: 0.2, model: 'lenet' });
    expect(new Set(runs.map((r) => `${r.flip} ${r.noise}`)).size).toBe(6);
    // Flip and level vary, so they are not shared; the noise task ignores the majority proportion.
    expect(Object.keys(sharedConfig(noise))).not.toEqual(expect.arrayContaining(['noise']));
    expect(sharedConfig(noise)).not.toHaveProperty('flip');
    expect(sharedConfig(noise)).not.toHaveProperty('ratio');

    const clean = planSweep('clean-size');
    expect(clean.points.map((p) => p.set.clean)).toEqual([5, 10, 25, 50, 100, 250, 1000]);
    expect(sweepConfigs(clean).every((c) => c.noise === 0.4 && c.flip === 'background' && c.task === 'noise')).toBe(true);
    expect(sharedConfig(clean)).toMatchObject({ noise: 0.4, flip: 'background' });
    expect(sharedConfig(clean)).not.toHaveProperty('clean');

    const both = planSweep('imbalance-noise');
    expect(sweepConfigs(both).every((c) => c.task === 'longtail' && c.imbalanceFactor === 10)).toBe(true);
    expect(both.points.map((p) => p.set.noise)).toEqual([0, 0.2, 0.4, 0.6]);
  });

  it("CIFAR gets the paper's ResNet-32 settings; an explicit option still overrides them", () => {
    const plan = planSweep('noise', { config: { dataset: 'cifar10' } });
    expect(plan.base).toMatchObject({ model: 'resnet32', lr: 0.1, lrDecayAt: [0.5, 0.75], decayBiases: false, augmentPad: 4, clean: 100, dataset: 'cifar10' });
    expect(planSweep('imbalance-noise', { config: { dataset: 'cifar100', lr: 0.05 } }).base).toMatchObject({ model: 'resnet32', lr: 0.05 });
    expect(planSweep('noise', { config: { dataset: 'fashion-mnist' } }).base).toMatchObject({ model: 'lenet', lr: 0.005 });
  });

  it('narrows to points by label, and refuses a label the preset does not have', () => {
    expect(planSweep('noise', { points: ['background 0.4'] }).points).toEqual([{ label: 'background 0.4', set: { flip: 'background', noise: 0.4 } }]);
    expect(() => planSweep('clean-size', { points: ['7'] })).toThrow(/no point "7".*5, 10, 25/);
    expect(() => planSweep('fig2', { ratios: [0.5] })).toThrow(/no point "0.5"/);
  });

  it('every preset has full and quick sizes with distinct point labels on every data set', () => {
    for (const name of PRESETS) {
      for (const dataset of ['mnist', 'fashion-mnist', 'cifar10', 'cifar100'] as const) {
        for (const quick of [false, true]) {
          const p = presetSize(name, { quick, config: { dataset } });
          expect(new Set(p.points.map((q) => q.label)).size, `${name} ${dataset}`).toBe(p.points.length);
          expect(p.methods.length * p.points.length * p.seeds).toBeGreaterThan(0);
        }
      }
    }
  });

  it('rejects what is not a number of the right kind', () => {
    expect(parsePositiveInt(' 12 ')).toBe(12);
    expect(parseRatio('9.95e-1')).toBe(0.995);
    for (const bad of ['abc', '', '1.5', '0', '-3', '12abc', '0x10']) expect(() => parsePositiveInt(bad), bad).toThrow();
    for (const bad of ['1', '0', '1.5', 'nan', 'Infinity']) expect(() => parseRatio(bad), bad).toThrow();
  });

  it('sweep merge reads the results.json of sweeps made before points existed (Fig. 2 ratios)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'l2rw-legacy-'));
    try {
      const config = { task: 'imbalance', clean: 10, model: 'lenet' };
      writeFileSync(join(dir, 'results.json'), JSON.stringify({ preset: 'fig2', plan: { methods: ['plain'], ratios: [0.9, 0.995], seeds: [1], config }, runs: [] }));
      const rec = readSweepRecord(dir);
      expect(rec.points).toEqual(ratioPoints([0.9, 0.995]));
      expect(rec.axis.column).toBe('r=');
      expect(rec.title).toBe('MNIST 4 vs 9 with class imbalance');
      writeFileSync(join(dir, 'results.json'), JSON.stringify({ preset: 'noise', plan: { methods: ['plain'], points: [{ label: 'x', set: { lr: 1 } }], seeds: [1], config }, runs: [] }));
      expect(() => readSweepRecord(dir)).toThrow(/no plan.points/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
