// The l2rw command line end to end: the real bin (and so the vite build of src/cli) on tiny runs on
// the GPU adapter, the files it writes, and its exit codes for bad arguments and failed training.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2rw, ourLines } from '../helpers/cli';

let tmp: string;


/** Enough of an XML parser to reject unbalanced or mis-nested SVG. */
function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const tags: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const between = xml.slice(last, m.index);
    if (between.includes('<') || /&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(between)) throw new Error(`bad markup before offset ${m.index}: ${between.slice(0, 60)}`);
    last = re.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      tags.push(name);
      if (!selfClose) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (xml.slice(last).trim()) throw new Error('text after the root element');
  return tags;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-cli-'));
  // The bin rebuilds dist/cli when it is missing or older than src/; do it once up front.
  const r = await l2rw(['--version']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('l2rw train', () => {
  it('trains a tiny model and writes result.json and curves.csv', async () => {
    const out = join(tmp, 'train');
    const r = await l2rw([
      'train', '--steps', '6', '--eval-every', '3', '--train-size', '300', '--model', 'mlp', '--hidden', '32', '--seed', '2',
      '--lr', '0.01', '--lr-decay-at', '0.5', '--lr-decay-factor', '0.25', '--out', out, '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // --json: every stdout line is a JSON event, ending with 'done'.
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0].event).toBe('start');
    expect(events.filter((e) => e.event === 'eval').map((e) => e.step)).toEqual([3, 6]);
    expect(events.at(-1).event).toBe('done');

    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.status).toBe('ok');
    expect(res.method).toBe('l2rw');
    expect(res.task).toBe('mnist-imbalance');
    expect(res.config).toMatchObject({ task: 'imbalance', ratio: 0.995, steps: 6, evalEvery: 3, seed: 2, model: 'mlp', hidden: [32], trainSize: 300, batch: 100 });
    expect(res.config).toMatchObject({ lr: 0.01, lrDecayAt: [0.5], lrDecayFactor: 0.25 });
    // The rate decays at step round(0.5 * 6) = 3: steps 0-2 use 0.01, steps 3-5 use 0.0025.
    expect(res.curves.map((p: { lr: number }) => p.lr)).toEqual([0.01, 0.0025]);
    expect(typeof res.adapter).toBe('string');
    expect(res.adapter.length).toBeGreaterThan(0);
    expect(res.steps).toBe(6);
    expect(res.test_error).toBeGreaterThanOrEqual(0);
    expect(res.test_error).toBeLessThanOrEqual(1);
    expect(res.wall_s).toBeGreaterThan(0);
    expect(res.steps_per_s).toBeGreaterThan(0);
    expect(res.data).toMatchObject({ train: 300, clean: 10, test: 1991, classes: 2 });
    expect(res.curves.map((p: { step: number }) => p.step)).toEqual([3, 6]);
    for (const p of res.curves) {
      for (const k of ['train_loss', 'val_loss', 'test_loss', 'weighted_loss', 'val_batch_loss']) expect(Number.isFinite(p[k]), k).toBe(true);
      expect(p.test_error).toBeGreaterThanOrEqual(0);
      expect(p.test_error).toBeLessThanOrEqual(1);
      // L2RW's weights: between 0 and n zero weights per batch of 100, a largest weight in (0, 1].
      expect(p.zero_weights).toBeGreaterThanOrEqual(0);
      expect(p.zero_weights).toBeLessThanOrEqual(100);
      expect(p.max_weight).toBeGreaterThan(0);
      expect(p.max_weight).toBeLessThanOrEqual(1 + 1e-6);
    }
    expect(res.test_error).toBe(res.curves[1].test_error);

    const csv = readFileSync(join(out, 'curves.csv'), 'utf8').trim().split('\n');
    const header = csv[0].split(',');
    expect(header.slice(0, 4)).toEqual(['step', 'train_loss', 'val_loss', 'test_error']);
    expect(header).toContain('zero_weights');
    expect(csv).toHaveLength(3);
    expect(csv.slice(1).map((l) => l.split(',').length)).toEqual([header.length, header.length]);
    expect(Number(csv[2].split(',')[3])).toBeCloseTo(res.test_error, 12);
  });

  it('writes what it computed and exits 1 when training diverges', async () => {
    const out = join(tmp, 'diverged');
    const r = await l2rw(['train', '--method', 'plain', '--lr', '1e4', '--steps', '20', '--eval-every', '10', '--train-size', '300', '--model', 'mlp', '--hidden', '32', '--out', out]);
    expect(r.code).toBe(1);
    expect(ourLines(r.stderr).at(-1)).toMatch(/^l2rw: training diverged: .*result\.json$/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.status).toBe('diverged');
    expect(res.test_error).toBeNull();
    expect(res.error).toMatch(/diverged/);
  });
});

describe('l2rw sweep', () => {
  it('runs a 2x2x1 sweep: results.json, results.csv and a well-formed SVG plot', async () => {
    const out = join(tmp, 'sweep');
    const r = await l2rw([
      'sweep', '--preset', 'fig2', '--quick', '--methods', 'plain,l2rw', '--ratios', '0.9,0.995', '--seeds', '1', '--seed', '4',
      '--steps', '4', '--eval-every', '2', '--model', 'mlp', '--hidden', '32', '--train-size', '300', '--out', out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    // The table: methods as rows, ratios as columns.
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('test error %'));
    expect(head).toBeGreaterThanOrEqual(0);
    expect(lines[head]).toMatch(/r=0\.9\s+r=0\.995$/);
    expect(lines[head + 2]).toMatch(/^plain\s+\d+\.\d\d\s+\d+\.\d\d$/);
    expect(lines[head + 3]).toMatch(/^l2rw\s+\d+\.\d\d\s+\d+\.\d\d$/);
    expect(r.stdout).toContain(join(out, 'fig2.svg'));

    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.complete).toBe(true);
    expect(res.runs).toHaveLength(4);
    expect(res.runs.map((x: { method: string; config: { ratio: number; seed: number } }) => `${x.method}@${x.config.ratio}/${x.config.seed}`)).toEqual([
      'plain@0.9/4', 'l2rw@0.9/4', 'plain@0.995/4', 'l2rw@0.995/4',
    ]);
    for (const run of res.runs) {
      expect(run.status).toBe('ok');
      expect(run.curves).toHaveLength(2);
    }
    expect(res.aggregate.methods).toEqual(['plain', 'l2rw']);
    expect(res.aggregate.points).toEqual(['0.9', '0.995']);
    const cell = res.aggregate.cells.l2rw['0.995'];
    expect(cell.errors).toEqual([res.runs[3].test_error]);
    expect(cell.mean).toBe(res.runs[3].test_error);

    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('method,ratio,seed,status,steps,test_error,test_loss,val_loss,wall_s,steps_per_s,error');
    expect(csv).toHaveLength(5);
    expect(csv[4]).toMatch(/^l2rw,0\.995,4,ok,4,/);

    const svg = readFileSync(join(out, 'fig2.svg'), 'utf8');
    const tags = checkWellFormed(svg);
    expect(tags[0]).toBe('svg');
    expect(svg.match(/<g class="series" data-method="[^"]+">/g)).toEqual(['<g class="series" data-method="plain">', '<g class="series" data-method="l2rw">']);
    expect(svg).toContain('>0.995</text>');

    // --resume keeps the finished runs (same results, no training) and runs only the new seed.
    const again = await l2rw([
      'sweep', '--preset', 'fig2', '--quick', '--methods', 'plain,l2rw', '--ratios', '0.9,0.995', '--seeds', '2', '--seed', '4',
      '--steps', '4', '--eval-every', '2', '--model', 'mlp', '--hidden', '32', '--train-size', '300', '--out', out, '--resume',
    ]);
    expect(again.code, again.stderr).toBe(0);
    const res2 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res2.runs).toHaveLength(8);
    expect(res2.runs.slice(0, 4)).toEqual(res.runs);
    expect(res2.runs[4].config.seed).toBe(5);
    // The wall time counts both invocations: the first one's, plus at least the new runs'.
    const newRuns = res2.runs.slice(4).reduce((a: number, r: { wall_s: number }) => a + r.wall_s, 0);
    expect(res2.wall_s).toBeGreaterThanOrEqual(res.wall_s + newRuns);
    // Resuming a complete sweep trains nothing and rewrites the same runs (it once wrote none).
    const third = await l2rw([
      'sweep', '--preset', 'fig2', '--quick', '--methods', 'plain,l2rw', '--ratios', '0.9,0.995', '--seeds', '2', '--seed', '4',
      '--steps', '4', '--eval-every', '2', '--model', 'mlp', '--hidden', '32', '--train-size', '300', '--out', out, '--resume',
    ]);
    expect(third.code, third.stderr).toBe(0);
    const res3 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res3.runs).toEqual(res2.runs);
    expect(res3.aggregate).toEqual(res2.aggregate);
    expect(res3.complete).toBe(true);
    // Other shared settings in the same folder are refused.
    const clash = await l2rw([
      'sweep', '--preset', 'fig2', '--quick', '--methods', 'plain', '--ratios', '0.9', '--seeds', '1', '--seed', '4',
      '--steps', '6', '--eval-every', '2', '--model', 'mlp', '--hidden', '32', '--train-size', '300', '--out', out, '--resume',
    ]);
    expect(clash.code).toBe(2);
    expect(ourLines(clash.stderr).join('\n')).toMatch(/other settings/);
  });
});

describe('engine options', () => {
  it('--no-decay-biases, --augment-pad and --l2rw-path reach the trainer and the recorded config', async () => {
    const out = join(tmp, 'engine');
    const r = await l2rw([
      'train', '--steps', '2', '--eval-every', '2', '--train-size', '200', '--model', 'lenet5', '--seed', '3',
      '--no-decay-biases', '--augment-pad', '2', '--l2rw-path', 'general', '--out', out, '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.config).toMatchObject({ decayBiases: false, augmentPad: 2, l2rwPath: 'general', model: 'lenet5' });
    // Defaults leave the recorded config as earlier versions wrote it (sweep --resume compares it).
    const plain = await l2rw(['train', '--steps', '1', '--eval-every', '1', '--train-size', '300', '--model', 'mlp', '--hidden', '8', '--out', join(tmp, 'defaults'), '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(tmp, 'defaults', 'result.json'), 'utf8')).config;
    for (const key of ['decayBiases', 'augmentPad', 'l2rwPath']) expect(cfg).not.toHaveProperty(key);
  });
});

describe('early stopping', () => {
  it('--method early-stop reports the model kept at its best clean-set evaluation', async () => {
    const out = join(tmp, 'early-stop');
    const r = await l2rw(['train', '--method', 'early-stop', '--steps', '6', '--eval-every', '2', '--train-size', '300', '--model', 'mlp', '--hidden', '16', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.selected).toBe(true);
    expect(res.curves).toHaveLength(3);
    // The kept model is the one with the fewest clean-set errors; its test error is one of the curve's.
    expect(res.curves.map((p: { test_error: number }) => p.test_error)).toContain(res.test_error);
  });
});

describe('ResNets on the MNIST tasks', () => {
  // Every method on a ResNet is covered by test/train/resnet.test.ts on a small synthetic set; the
  // real command runs three that exercise each kind of phase (L2RW, two phases, early stopping).
  it('l2rw train --model resnet8 trains on the MNIST task', async () => {
    for (const method of ['l2rw', 'l2rw-finetune', 'early-stop'] as const) {
      const out = join(tmp, `resnet8-${method}`);
      const r = await l2rw([
        'train', '--model', 'resnet8', '--method', method, '--steps', '2', '--eval-every', '2', '--batch', '8', '--train-size', '200',
        '--lr', '0.05', '--no-decay-biases', '--augment-pad', '2', '--out', out, '--json',
      ]);
      expect(r.code, `${method}: ${r.stderr}`).toBe(0);
      const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
      expect(res.status, method).toBe('ok');
      expect(res.test_error, method).toBeGreaterThanOrEqual(0);
      expect(res.test_error, method).toBeLessThanOrEqual(1);
    }
  }, 240_000);
});

describe('--version', () => {
  it('prints the version before or after a command', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    for (const args of [['--version'], ['train', '--version'], ['sweep', '--version']]) {
      const r = await l2rw(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout.trim(), args.join(' ')).toBe(version);
    }
  });
});

describe('bad arguments', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown method', ['train', '--method', 'sgd'], /--method.*'sgd'.*Allowed choices/],
    ['ratio outside (0, 1)', ['train', '--ratio', '1.5'], /--ratio.*'1\.5'.*\(0, 1\)/],
    ['more clean images than exist', ['train', '--clean', '100000'], /--clean 100000 .*only \d+ 4s/],
    ['non-numeric steps', ['train', '--steps', 'abc'], /--steps.*'abc'.*positive integer/],
    ['unknown task', ['train', '--task', 'cifar'], /--task.*'cifar'/],
    ['unknown sweep ratio', ['sweep', '--ratios', '0.9,2'], /--ratios.*"2"/],
    ['decay point outside the run', ['train', '--lr-decay-at', '0.5,1.2'], /--lr-decay-at.*"1\.2".*fraction/],
    ['decay factor above 1', ['sweep', '--lr-decay-factor', '2'], /--lr-decay-factor.*'2'.*\(0, 1\]/],
    ['unknown L2RW path', ['train', '--l2rw-path', 'slow'], /--l2rw-path.*'slow'.*Allowed choices/],
    ['negative crop padding', ['train', '--augment-pad', '-1'], /--augment-pad.*'-1'/],
    ['a batch larger than the training set', ['train', '--task', 'noise', '--train-size', '300', '--batch', '500'], /--batch 500 is larger than the training set \(300 images .*\): use --batch 300 or less/],
    // An --out of its own: the default (runs/fig2-quick) may hold `npm start`'s sweep, which is refused first.
    ['a sweep whose batch exceeds its training set', ['sweep', '--quick', '--train-size', '50', '--batch', '60', '--out', join(tmpdir(), 'l2rw-cli-batch-sweep')], /--batch 60 is larger than the training set \(50 images/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: one line on stderr, exit code 2`, async () => {
      const r = await l2rw(args);
      expect(r.code).toBe(2);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^l2rw: error: /);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }
});
