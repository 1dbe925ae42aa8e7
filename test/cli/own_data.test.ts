// Own data end to end through the real `l2rw` bin: an image folder of three pattern classes with 20%
// of each class folder deliberately mislabelled, trained with L2RW (--save-model, --weights-out);
// the exported weights put the mislabelled images far below the others; `l2rw predict` on the saved
// model prints the accuracy the run's own evaluation measured; arrays from NumPy (npy:DIR) the same
// way; and the own-data mistakes a user makes, each one line with exit code 2.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy';
import { Rng } from '../../src/util/rng';
import { l2rw, ourLines } from '../helpers/cli';
import { writePatternFolder, type PatternFolder } from '../helpers/images';

let tmp: string;
let folder: PatternFolder;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-own-'));
  folder = await writePatternFolder(join(tmp, 'patterns'), { perClass: 40, flip: 0.2, clean: 4, test: 10, size: 20 });
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A CSV file's rows as objects (no quoted fields in these files). */
function readCsv(file: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const keys = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe('an image folder with mislabelled images', () => {
  const out = () => join(tmp, 'run');
  const model = () => join(tmp, 'run', 'model.safetensors');
  const weights = () => join(tmp, 'weights.csv');

  it('trains as labelled, and the weights single out the mislabelled images', async () => {
    const r = await l2rw([
      'train', '--dataset', `folder:${folder.dir}`, '--image-size', '16', '--steps', '120', '--batch', '30', '--eval-every', '60',
      '--out', out(), '--save-model', model(), '--weights-out', weights(),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(ourLines(r.stderr).filter((l) => l.startsWith('l2rw:'))).toEqual([]);
    expect(r.stdout).toMatch(/test error \d+\.\d\d% \(l2rw, folder:.* as labelled, seed 1, 120 steps/);
    expect(r.stdout).toContain(`wrote the model to ${model()}`);
    expect(r.stdout).toMatch(/wrote the weights of 120 training examples to .*weights\.csv; lowest mean weight: /);
    const res = JSON.parse(readFileSync(join(out(), 'result.json'), 'utf8'));
    expect(res.status).toBe('ok');
    expect(res.task).toBe('folder-given');
    expect(res.model).toBe('lenet-caffe');
    expect(res.config).toMatchObject({ task: 'given', model: 'auto', dataset: `folder:${folder.dir}`, imageSize: 16 });
    expect(res.data).toMatchObject({ train: 120, clean: 12, test: 30, classes: 3 });
    expect(res.data.description).toMatch(/3 classes, 16x16 grey; 120 training images \(checks 40, stripes-h 40, stripes-v 40\); clean set 12 \(clean\/\); test 30 \(test\/\)/);

    const rows = readCsv(weights());
    expect(Object.keys(rows[0])).toEqual(['index', 'source', 'label', 'times_drawn', 'mean_weight', 'zero_weight_share']);
    expect(rows.map((x) => x.source).sort()).toEqual([...folder.train].sort());
    expect(rows.reduce((a, x) => a + Number(x.times_drawn), 0)).toBe(120 * 30);
    // Sorted by mean weight, lowest first.
    const w = rows.map((x) => Number(x.mean_weight));
    expect(w).toEqual([...w].sort((a, b) => a - b));
    const bad = new Set(folder.mislabelled);
    expect(bad.size).toBe(24);
    const badMean = mean(rows.filter((x) => bad.has(x.source)).map((x) => Number(x.mean_weight)));
    const goodMean = mean(rows.filter((x) => !bad.has(x.source)).map((x) => Number(x.mean_weight)));
    // L2RW gives wrong labels much less weight: on this data about a quarter of the others'.
    expect(badMean).toBeLessThan(0.5 * goodMean);
    // The suspects (as many as there are mislabelled images) are mostly the mislabelled ones.
    const suspects = rows.slice(0, bad.size).filter((x) => bad.has(x.source)).length;
    expect(suspects).toBeGreaterThanOrEqual(0.7 * bad.size);
  });

  it('predicts with the saved model: the accuracy the run measured, a confusion matrix and a CSV', async () => {
    const res = JSON.parse(readFileSync(join(out(), 'result.json'), 'utf8'));
    const r = await l2rw(['predict', '--model', model()]);
    expect(r.code, r.stderr).toBe(0);
    const m = /accuracy (\d+\.\d\d)% \((\d+)\/(\d+)\)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![3])).toBe(30);
    expect(Number(m![2])).toBe(Math.round((1 - res.test_error) * 30));
    expect(r.stdout).toMatch(/predicted 30 examples \(the test set of image folder patterns\) with lenet-caffe/);
    expect(r.stdout).toMatch(/confusion matrix \(rows: label, columns: predicted\):\n\s+checks\s+stripes-h\s+stripes-v\n\s*checks(\s+\d+){3}\n\s*stripes-h(\s+\d+){3}\n\s*stripes-v(\s+\d+){3}\n/);
    const csv = join(tmp, 'run', 'model.test-predictions.csv');
    expect(r.stdout).toContain(`wrote ${csv}`);
    const rows = readCsv(csv);
    expect(rows.length).toBe(30);
    expect(Object.keys(rows[0])).toEqual(['index', 'source', 'label', 'predicted', 'probability', 'p_checks', 'p_stripes-h', 'p_stripes-v']);
    expect(rows[0].source).toBe('test/checks/0.png');
    expect(rows.filter((x) => x.label === x.predicted).length).toBe(Number(m![2]));
    for (const x of rows) expect(Number(x.p_checks) + Number(x['p_stripes-h']) + Number(x['p_stripes-v'])).toBeCloseTo(1, 4);

    // The training images as the model sees them: the mislabelled ones are where label and prediction differ.
    const t = await l2rw(['predict', '--model', model(), '--split', 'train', '--out', join(tmp, 'train-pred.csv'), '--json']);
    expect(t.code, t.stderr).toBe(0);
    const done = JSON.parse(t.stdout.trim());
    expect(done).toMatchObject({ event: 'done', command: 'predict', examples: 120, classes: ['checks', 'stripes-h', 'stripes-v'] });
    const disagree = readCsv(join(tmp, 'train-pred.csv')).filter((x) => x.label !== x.predicted).map((x) => x.source);
    expect(disagree.filter((s) => folder.mislabelled.includes(s)).length).toBeGreaterThanOrEqual(0.7 * disagree.length);
  });
});

describe('arrays from NumPy', () => {
  it('trains an MLP on float vectors and predicts with it', async () => {
    const dir = join(tmp, 'arrays');
    mkdirSync(dir);
    const rng = new Rng(4);
    const blobs = (n: number) => {
      const y = Int32Array.from({ length: n }, (_, i) => i % 2);
      const x = Float32Array.from({ length: n * 6 }, (_, k) => rng.normal() + (y[Math.floor(k / 6)] ? 1.5 : -1.5));
      return { x, y };
    };
    const [tr, cl, te] = [blobs(200), blobs(10), blobs(40)];
    writeFileSync(join(dir, 'x.npy'), encodeNpy(tr.x, [200, 6]));
    writeFileSync(join(dir, 'y.npy'), encodeNpy(tr.y, [200]));
    writeFileSync(join(dir, 'clean_x.npy'), encodeNpy(cl.x, [10, 6]));
    writeFileSync(join(dir, 'clean_y.npy'), encodeNpy(cl.y, [10]));
    writeFileSync(join(dir, 'test_x.npy'), encodeNpy(te.x, [40, 6]));
    writeFileSync(join(dir, 'test_y.npy'), encodeNpy(te.y, [40]));
    writeFileSync(join(dir, 'classes.txt'), 'left\nright\n');
    const out = join(tmp, 'arrays-run');
    const r = await l2rw(['train', '--dataset', `npy:${dir}`, '--steps', '40', '--batch', '50', '--eval-every', '20', '--hidden', '16', '--lr', '0.02', '--out', out, '--save-model', join(out, 'm.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res).toMatchObject({ status: 'ok', task: 'npy-given', model: 'mlp-6-16-2' });
    expect(res.test_error).toBeLessThan(0.2);
    const p = await l2rw(['predict', '--model', join(out, 'm.safetensors'), '--dataset', `npy:${dir}`]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`accuracy ${(100 * (1 - res.test_error)).toFixed(2)}% (${Math.round((1 - res.test_error) * 40)}/40)`);
    expect(p.stdout).toMatch(/\n\s+left\s+right\n/);
  });
});

describe('own-data mistakes', () => {
  it('are one line each, exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--dataset', `folder:${join(tmp, 'nowhere')}`], /folder:.*nowhere: the folder .* does not exist/],
      [['train', '--dataset', `folder:${folder.dir}`, '--task', 'noise'], /--task noise builds its task from a built-in data set; your own data/],
      [['train', '--dataset', `npy:${folder.dir}`, '--image-size', '8'], /--image-size and --channels apply to image folders/],
      [['train', '--dataset', `folder:${folder.dir}`, '--train-size', '10'], /--train-size applies to the built-in data sets/],
      [['train', '--dataset', 'mnist', '--task', 'given'], /--task given is for your own data/],
      [['train', '--dataset', `npy:${folder.dir}`], /x\.npy: missing; an npy data set needs/],
      [['sweep', '--dataset', `folder:${folder.dir}`], /the sweep presets build their tasks from the built-in data sets; train your own data/],
      [['predict', '--model', join(tmp, 'none.safetensors')], /none\.safetensors: no such model file/],
      [['predict', '--model', join(folder.dir, 'clean', 'checks', '0.png')], /0\.png: not a readable safetensors file/],
    ];
    for (const [args, re] of cases) {
      const r = await l2rw(args);
      const lines = ourLines(r.stderr);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0]).toMatch(re);
    }
  });
});
