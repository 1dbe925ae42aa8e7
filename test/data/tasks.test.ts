import { describe, expect, it } from 'vitest';
import { classCounts, imbalanceTask, longtailTask, makeImageDataset, noiseTask, type DatasetName, type ImageDataset, type Mnist, type Split, type Task } from '../../src/data';
import { taskTrainData } from '../../src/data/trainer_input';

/**
 * An in-memory MNIST with `perClass[c]` training images of digit c. Pixel 0 and 1 of each image hold
 * its index (low, high byte), so a task's x can be checked against its sourceIndex.
 */
function synthSplit(perClass: number[], seedShift: number): Split {
  const labels: number[] = [];
  perClass.forEach((count, c) => {
    for (let i = 0; i < count; i++) labels.push(c);
  });
  // Interleave the classes so indices of one digit are not contiguous.
  const order = labels.map((_, i) => i).sort((a, b) => ((a * 7919 + seedShift) % 1009) - ((b * 7919 + seedShift) % 1009) || a - b);
  const lab = Uint8Array.from(order, (o) => labels[o]);
  const n = lab.length;
  const images = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) {
    images[i * 784] = i & 255;
    images[i * 784 + 1] = i >> 8;
    images[i * 784 + 2] = 255;
  }
  return { images, labels: lab, n, rows: 28, cols: 28 };
}

function synthMnist(trainPerClass: number[], testPerClass: number[]): Mnist {
  return { train: synthSplit(trainPerClass, 3), test: synthSplit(testPerClass, 11), dir: '(synthetic)' };
}

// 4s and 9s are the digits the imbalance task uses; other digits are there to be ignored.
const small = synthMnist([30, 30, 30, 30, 300, 30, 30, 30, 30, 1200], [5, 5, 5, 5, 40, 5, 5, 5, 5, 37]);

/** Every split's images, as the trainer receives them, are the MNIST images its sourceIndex names. */
function sourceOk(task: Task, mnist: Mnist): void {
  const input = taskTrainData(mnist, task);
  for (const [split, data] of [[task.train, input.train], [task.clean, input.clean], [task.test, input.test!]] as const) {
    expect(data.x.length).toBe(split.n * 784);
    expect(data.n).toBe(split.n);
    expect(Array.from(data.y)).toEqual(Array.from(split.y));
    expect(split.y.length).toBe(split.n);
    expect(split.sourceIndex.length).toBe(split.n);
    expect(new Set(split.sourceIndex).size).toBe(split.n); // without replacement
    for (let k = 0; k < split.n; k++) {
      const i = split.sourceIndex[k];
      expect(data.x[k * 784] + 256 * data.x[k * 784 + 1]).toBe(i);
      expect(data.x[k * 784 + 2]).toBe(255);
    }
  }
}

function disjoint(a: Uint32Array, b: Uint32Array): boolean {
  const s = new Set(a);
  return Array.from(b).every((i) => !s.has(i));
}

describe('imbalanceTask', () => {
  it('draws exact numbers of 4s and 9s, a balanced disjoint clean set, and all test 4s/9s', () => {
    const t = imbalanceTask(small, { ratio: 0.9, trainSize: 200, clean: 10, seed: 1 });
    expect(t.numClasses).toBe(2);
    expect(t.classNames).toEqual(['4', '9']);
    expect(t.inputShape).toEqual([1, 28, 28]);
    expect(t.train.n).toBe(200);
    expect(classCounts(t.train.y, 2)).toEqual([20, 180]);
    expect(classCounts(t.clean.y, 2)).toEqual([5, 5]);
    expect(t.test.n).toBe(77);
    expect(classCounts(t.test.y, 2)).toEqual([40, 37]);
    // label 0 = digit 4, label 1 = digit 9, for every split
    for (const [split, src] of [
      [t.train, small.train],
      [t.clean, small.train],
      [t.test, small.test],
    ] as const) {
      for (let k = 0; k < split.n; k++) expect(src.labels[split.sourceIndex[k]]).toBe(split.y[k] === 0 ? 4 : 9);
    }
    expect(disjoint(t.train.sourceIndex, t.clean.sourceIndex)).toBe(true);
    expect(t.train.noisyMask).toBeUndefined();
    expect(t.description).toContain('label 0 = digit 4');
    sourceOk(t, small);
  });

  it('uses the paper defaults (5000 training images, 10 clean) and rounds the 9s count', () => {
    const big = synthMnist([0, 0, 0, 0, 5842, 0, 0, 0, 0, 5949], [0, 0, 0, 0, 982, 0, 0, 0, 0, 1009]);
    const t = imbalanceTask(big, { ratio: 0.995, seed: 3 });
    expect(t.train.n).toBe(5000);
    expect(classCounts(t.train.y, 2)).toEqual([25, 4975]);
    expect(classCounts(t.clean.y, 2)).toEqual([5, 5]);
    expect(t.test.n).toBe(1991);
    expect(disjoint(t.train.sourceIndex, t.clean.sourceIndex)).toBe(true);
    const r = imbalanceTask(small, { ratio: 0.333, trainSize: 100, clean: 2, seed: 3 });
    expect(classCounts(r.train.y, 2)).toEqual([67, 33]);
    expect(classCounts(r.clean.y, 2)).toEqual([1, 1]);
  });

  it('is deterministic under a seed and differs across seeds', () => {
    const a = imbalanceTask(small, { ratio: 0.8, trainSize: 100, seed: 42 });
    const b = imbalanceTask(small, { ratio: 0.8, trainSize: 100, seed: 42 });
    const c = imbalanceTask(small, { ratio: 0.8, trainSize: 100, seed: 43 });
    expect(Array.from(b.train.sourceIndex)).toEqual(Array.from(a.train.sourceIndex));
    expect(Array.from(b.train.y)).toEqual(Array.from(a.train.y));
    expect(Array.from(b.clean.sourceIndex)).toEqual(Array.from(a.clean.sourceIndex));
    expect(Buffer.from(taskTrainData(small, b).train.x.buffer).equals(Buffer.from(taskTrainData(small, a).train.x.buffer))).toBe(true);
    expect(Array.from(c.train.sourceIndex)).not.toEqual(Array.from(a.train.sourceIndex));
    expect(Array.from(c.clean.sourceIndex)).not.toEqual(Array.from(a.clean.sourceIndex));
    // Training order mixes the two classes rather than listing all 4s first.
    expect(Array.from(a.train.y.subarray(0, 20))).toContain(0);
  });

  it('validates its options with clear errors', () => {
    for (const ratio of [0, 1, 1.5, -0.2, Number.NaN]) {
      expect(() => imbalanceTask(small, { ratio, seed: 0 })).toThrow(`--ratio must be in (0, 1), got ${ratio}`);
    }
    expect(() => imbalanceTask(small, { ratio: 0.9, trainSize: 100, clean: 7, seed: 0 })).toThrow(
      '--clean must be an even integer >= 2 (half 4s, half 9s), got 7',
    );
    expect(() => imbalanceTask(small, { ratio: 0.9, trainSize: 100, clean: 0, seed: 0 })).toThrow(/--clean must be an even integer >= 2/);
    expect(() => imbalanceTask(small, { ratio: 0.9, trainSize: 100, clean: 700, seed: 0 })).toThrow(
      '--clean 700 asks for 350 4s but MNIST train has only 300 4s; lower --clean',
    );
    expect(() => imbalanceTask(small, { ratio: 0.5, trainSize: 800, clean: 10, seed: 0 })).toThrow(
      /not enough 4s in MNIST train: the training set needs 400 and the clean set 5 \(405 in all\) but there are only 300/,
    );
    expect(() => imbalanceTask(small, { ratio: 0.999, trainSize: 100, seed: 0 })).toThrow(/leaves no 4s \(minority class\)/);
    expect(() => imbalanceTask(small, { ratio: 0.001, trainSize: 100, seed: 0 })).toThrow(/leaves no 9s/);
    expect(() => imbalanceTask(small, { ratio: 0.9, trainSize: 0, seed: 0 })).toThrow(/--train-size must be a positive integer, got 0/);
  });
});

const tenClass = synthMnist([60, 61, 62, 63, 64, 65, 66, 67, 68, 69], [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);

describe('noiseTask', () => {
  it('uniform flip: exact number of flips, every flipped label wrong, clean set balanced and disjoint', () => {
    const t = noiseTask(tenClass, { noise: 0.4, flip: 'uniform', cleanPerClass: 5, seed: 7 });
    const n = tenClass.train.n - 50;
    expect(t.numClasses).toBe(10);
    expect(t.train.n).toBe(n);
    expect(t.clean.n).toBe(50);
    expect(classCounts(t.clean.y, 10)).toEqual(new Array(10).fill(5));
    expect(t.test.n).toBe(tenClass.test.n);
    expect(Array.from(t.test.y)).toEqual(Array.from(tenClass.test.labels));
    expect(disjoint(t.train.sourceIndex, t.clean.sourceIndex)).toBe(true);
    expect(new Set([...t.train.sourceIndex, ...t.clean.sourceIndex]).size).toBe(tenClass.train.n);
    const { noisyMask, trueY } = t.train;
    expect(noisyMask).toBeDefined();
    expect(trueY).toBeDefined();
    let flipped = 0;
    const targets = new Set<string>();
    for (let k = 0; k < n; k++) {
      expect(trueY![k]).toBe(tenClass.train.labels[t.train.sourceIndex[k]]);
      if (noisyMask![k]) {
        flipped++;
        expect(t.train.y[k]).not.toBe(trueY![k]);
        targets.add(`${trueY![k]}>${t.train.y[k]}`);
      } else expect(t.train.y[k]).toBe(trueY![k]);
    }
    expect(flipped).toBe(Math.round(0.4 * n));
    // Uniform flips reach many different (true, noisy) pairs.
    expect(targets.size).toBeGreaterThan(40);
    for (let k = 0; k < t.clean.n; k++) expect(t.clean.y[k]).toBe(tenClass.train.labels[t.clean.sourceIndex[k]]);
    expect(t.backgroundClass).toBeUndefined();
    sourceOk(t, tenClass);
  });

  it('background flip: corrupted labels go to one class, its own examples go elsewhere', () => {
    const t = noiseTask(tenClass, { noise: 0.5, flip: 'background', seed: 11 });
    const bg = t.backgroundClass!;
    expect(bg).toBeGreaterThanOrEqual(0);
    expect(bg).toBeLessThan(10);
    expect(t.description).toContain(`to class ${bg}`);
    const n = t.train.n;
    expect(n).toBe(tenClass.train.n - 100);
    let flipped = 0;
    let ownBg = 0;
    for (let k = 0; k < n; k++) {
      if (!t.train.noisyMask![k]) continue;
      flipped++;
      const truth = t.train.trueY![k];
      expect(t.train.y[k]).not.toBe(truth);
      if (truth === bg) ownBg++;
      else expect(t.train.y[k]).toBe(bg);
    }
    expect(flipped).toBe(Math.round(0.5 * n));
    expect(ownBg).toBeGreaterThan(0);
    // The background class is drawn from the seed: several seeds give more than one class.
    const bgs = new Set([1, 2, 3, 4, 5, 6].map((seed) => noiseTask(tenClass, { noise: 0.1, flip: 'background', seed }).backgroundClass));
    expect(bgs.size).toBeGreaterThan(1);
  });

  it('honours trainSize and noise 0, and is deterministic under a seed', () => {
    const a = noiseTask(tenClass, { noise: 0.25, flip: 'uniform', trainSize: 101, seed: 5 });
    expect(a.train.n).toBe(101);
    expect(a.train.noisyMask!.reduce((s, v) => s + v, 0)).toBe(25);
    const b = noiseTask(tenClass, { noise: 0.25, flip: 'uniform', trainSize: 101, seed: 5 });
    expect(Array.from(b.train.sourceIndex)).toEqual(Array.from(a.train.sourceIndex));
    expect(Array.from(b.train.y)).toEqual(Array.from(a.train.y));
    expect(Array.from(b.train.noisyMask!)).toEqual(Array.from(a.train.noisyMask!));
    expect(Array.from(b.clean.sourceIndex)).toEqual(Array.from(a.clean.sourceIndex));
    const c = noiseTask(tenClass, { noise: 0.25, flip: 'uniform', trainSize: 101, seed: 6 });
    expect(Array.from(c.train.sourceIndex)).not.toEqual(Array.from(a.train.sourceIndex));
    expect(Array.from(c.clean.sourceIndex)).not.toEqual(Array.from(a.clean.sourceIndex));
    const z = noiseTask(tenClass, { noise: 0, flip: 'background', seed: 5 });
    expect(z.train.noisyMask!.every((v) => v === 0)).toBe(true);
    expect(Array.from(z.train.y)).toEqual(Array.from(z.train.trueY!));
  });

  it('validates its options with clear errors', () => {
    for (const noise of [1, -0.1, 1.5, Number.NaN]) {
      expect(() => noiseTask(tenClass, { noise, flip: 'uniform', seed: 0 })).toThrow(`--noise must be in [0, 1), got ${noise}`);
    }
    expect(() => noiseTask(tenClass, { noise: 0.2, flip: 'pair' as 'uniform', seed: 0 })).toThrow(/--flip must be 'uniform' or 'background', got pair/);
    expect(() => noiseTask(tenClass, { noise: 0.2, flip: 'uniform', cleanPerClass: 61, seed: 0 })).toThrow(
      '--clean-per-class 61 asks for 61 0s but MNIST train has only 60; lower --clean-per-class',
    );
    expect(() => noiseTask(tenClass, { noise: 0.2, flip: 'uniform', cleanPerClass: 0, seed: 0 })).toThrow(/--clean-per-class must be a positive integer/);
    expect(() => noiseTask(tenClass, { noise: 0.2, flip: 'uniform', trainSize: 546, seed: 0 })).toThrow(/--train-size must be an integer in \[1, 545\]/);
  });
});

describe('classCounts', () => {
  it('counts labels and rejects out-of-range ones', () => {
    expect(classCounts(Uint32Array.from([0, 2, 2, 1, 2]), 3)).toEqual([1, 1, 3]);
    expect(classCounts([], 2)).toEqual([0, 0]);
    expect(() => classCounts([0, 3], 3)).toThrow(/label 3 at index 1/);
  });
});

// ---- every data set ------------------------------------------------------------------------------

/**
 * A synthetic data set of shape [c, r, r] with perClass[k] train images of class k (interleaved).
 * Bytes 0-1 of each image hold its index and its last byte 200, so a task's x can be checked against
 * its sourceIndex across all channels.
 */
function synthDataset(name: DatasetName, perClass: number[], testPerClass: number): ImageDataset {
  const [c, r] = name.startsWith('cifar') ? [3, 32] : [1, 28];
  const dim = c * r * r;
  const make = (counts: number[]): Split => {
    const labels: number[] = [];
    const total = counts.reduce((a, b) => a + b, 0);
    const left = counts.slice();
    for (let i = 0; labels.length < total; i++) {
      const k = i % counts.length;
      if (left[k] > 0) {
        labels.push(k);
        left[k]--;
      }
    }
    const n = labels.length;
    const images = new Uint8Array(n * dim);
    for (let i = 0; i < n; i++) {
      images[i * dim] = i & 255;
      images[i * dim + 1] = i >> 8;
      images[i * dim + dim - 1] = 200;
    }
    return { images, labels: Uint8Array.from(labels), n, rows: r, cols: r, channels: c };
  };
  return makeImageDataset(name, make(perClass), make(perClass.map(() => testPerClass)), '(synthetic)');
}

function sourceOkAny(task: Task, ds: ImageDataset): void {
  const dim = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const input = taskTrainData(ds, task);
  for (const [split, data] of [[task.train, input.train], [task.clean, input.clean], [task.test, input.test!]] as const) {
    expect(data.dim).toBe(dim);
    expect(data.x.length).toBe(split.n * dim);
    expect(new Set(split.sourceIndex).size).toBe(split.n);
    let bad = 0;
    for (let k = 0; k < split.n; k++) {
      if (data.x[k * dim] + 256 * data.x[k * dim + 1] !== split.sourceIndex[k] || data.x[k * dim + dim - 1] !== 200) bad++;
    }
    expect(bad).toBe(0);
  }
}

describe('tasks on every data set', () => {
  const c100 = synthDataset('cifar100', new Array(100).fill(30), 2);
  const c10 = synthDataset('cifar10', [600, 500, 400, 300, 300, 300, 300, 300, 300, 250], 4);
  const fashion = synthDataset('fashion-mnist', new Array(10).fill(80), 3);

  it('noiseTask takes K from the data set (CIFAR-100: 100 classes) and keeps its shape', () => {
    const t = noiseTask(c100, { noise: 0.4, flip: 'uniform', cleanPerClass: 3, seed: 1 });
    expect([t.name, t.dataset, t.numClasses, t.train.n, t.clean.n, t.test.n]).toEqual(['cifar100-noise-uniform', 'cifar100', 100, 2700, 300, 200]);
    expect(t.inputShape).toEqual([3, 32, 32]);
    expect(t.classNames[0]).toBe('apple');
    expect(classCounts(t.clean.y, 100)).toEqual(new Array(100).fill(3));
    expect(t.train.noisyMask!.reduce((a, b) => a + b, 0)).toBe(Math.round(0.4 * 2700));
    const produced = new Set(Array.from(t.train.y).filter((_, i) => t.train.noisyMask![i]));
    expect(produced.size).toBeGreaterThan(90);
    expect(Array.from(t.train.y).every((y, i) => (t.train.noisyMask![i] ? y !== t.train.trueY![i] : y === t.train.trueY![i]))).toBe(true);
    expect(t.description).toMatch(/^CIFAR-100 100 classes, label noise: 2700 training images, 1080 \(40%\) labels corrupted/);
    sourceOkAny(t, c100);
    const bg = noiseTask(c100, { noise: 0.3, flip: 'background', cleanPerClass: 3, seed: 2 });
    expect(bg.backgroundClass).toBeGreaterThanOrEqual(0);
    expect(bg.backgroundClass).toBeLessThan(100);
  });

  it('imbalanceTask takes its two classes from the data set (default 4 and 9)', () => {
    const t = imbalanceTask(fashion, { ratio: 0.9, trainSize: 50, clean: 4, seed: 3 });
    expect([t.name, t.dataset, t.numClasses]).toEqual(['fashion-mnist-imbalance', 'fashion-mnist', 2]);
    expect(t.classNames).toEqual(['Coat', 'Ankle boot']);
    expect(t.description).toMatch(/^Fashion-MNIST Coat vs Ankle boot \(label 0 = class 4 Coat, label 1 = class 9 Ankle boot\), class imbalance: 50 training images, 45 Ankle boot images/);
    expect(classCounts(t.train.y, 2)).toEqual([5, 45]);
    sourceOkAny(t, fashion);
    const cat = imbalanceTask(c10, { ratio: 0.8, trainSize: 100, classes: [3, 5], seed: 3 });
    expect(cat.classNames).toEqual(['cat', 'dog']);
    expect(cat.inputShape).toEqual([3, 32, 32]);
    for (let k = 0; k < cat.train.n; k++) expect(c10.train.labels[cat.train.sourceIndex[k]]).toBe(cat.train.y[k] === 0 ? 3 : 5);
    expect(cat.test.n).toBe(8);
    sourceOkAny(cat, c10);
    expect(() => imbalanceTask(c10, { ratio: 0.8, classes: [3, 3], seed: 1 })).toThrow('imbalance classes must differ, got 3 twice');
    expect(() => imbalanceTask(c10, { ratio: 0.8, classes: [3, 10], seed: 1 })).toThrow('imbalance classes must be in [0, 10) for CIFAR-10, got 3 and 10');
    expect(() => imbalanceTask(fashion, { ratio: 0.9, trainSize: 100, clean: 200, seed: 0 })).toThrow('--clean 200 asks for 100 Coat images but Fashion-MNIST train has only 80 Coat images; lower --clean');
  });

  it('longtailTask: exact class sizes, class 0 largest, balanced disjoint clean set, whole test set', () => {
    const t = longtailTask(c10, { imbalanceFactor: 10, cleanPerClass: 10, seed: 4 });
    // n_max = the smallest pool after the clean set: 250 - 10.
    const want = [240, 186, 144, 111, 86, 67, 52, 40, 31, 24];
    expect(t.classSizes).toEqual(want);
    expect(classCounts(t.train.y, 10)).toEqual(want);
    expect(t.train.n).toBe(want.reduce((a, b) => a + b, 0));
    expect(classCounts(t.clean.y, 10)).toEqual(new Array(10).fill(10));
    expect(t.test.n).toBe(40);
    expect([t.name, t.dataset, t.numClasses]).toEqual(['cifar10-longtail', 'cifar10', 10]);
    expect(t.train.noisyMask).toBeUndefined();
    expect(t.train.trueY).toBeUndefined();
    expect(new Set([...t.train.sourceIndex, ...t.clean.sourceIndex]).size).toBe(t.train.n + t.clean.n);
    for (let k = 0; k < t.train.n; k++) expect(c10.train.labels[t.train.sourceIndex[k]]).toBe(t.train.y[k]);
    // The training order mixes the classes.
    expect(new Set(Array.from(t.train.y.subarray(0, 30))).size).toBeGreaterThan(3);
    expect(t.description).toMatch(/^CIFAR-10 10 classes, long-tailed: imbalance factor 10, 981 training images, 240 of class 0 down to 24 of class 9/);
    sourceOkAny(t, c10);
    // Factor 1: balanced; maxPerClass sets n_max.
    expect(longtailTask(c10, { imbalanceFactor: 1, maxPerClass: 20, seed: 4 }).classSizes).toEqual(new Array(10).fill(20));
    expect(longtailTask(c10, { imbalanceFactor: 100, maxPerClass: 500, seed: 4 }).classSizes![0]).toBe(500);
  });

  it('longtailTask with noise: the noise comes after the long-tail subsampling', () => {
    for (const flip of ['uniform', 'background'] as const) {
      const t = longtailTask(c10, { imbalanceFactor: 5, noise: 0.3, flip, seed: 6 });
      const sizes = t.classSizes!;
      expect(classCounts(t.train.trueY!, 10)).toEqual(sizes);
      const flipped = t.train.noisyMask!.reduce((a, b) => a + b, 0);
      expect(flipped).toBe(Math.round(0.3 * t.train.n));
      let bad = 0;
      for (let k = 0; k < t.train.n; k++) {
        const noisy = t.train.noisyMask![k] === 1;
        if (noisy === (t.train.y[k] === t.train.trueY![k])) bad++;
        if (flip === 'background' && noisy && t.train.trueY![k] !== t.backgroundClass && t.train.y[k] !== t.backgroundClass) bad++;
      }
      expect(bad).toBe(0);
      expect(t.description).toContain(`then ${flipped} (30%) labels corrupted by ${flip}`);
      // Same seed, same subsample as without noise: noise is applied on top of it.
      const clean = longtailTask(c10, { imbalanceFactor: 5, seed: 6 });
      expect(Array.from(t.train.sourceIndex)).toEqual(Array.from(clean.train.sourceIndex));
      expect(Array.from(t.train.trueY!)).toEqual(Array.from(clean.train.y));
    }
  });

  it('longtailTask is deterministic per seed and validates its options', () => {
    const a = longtailTask(c10, { imbalanceFactor: 3, noise: 0.2, seed: 8 });
    const b = longtailTask(c10, { imbalanceFactor: 3, noise: 0.2, seed: 8 });
    const c = longtailTask(c10, { imbalanceFactor: 3, noise: 0.2, seed: 9 });
    expect(Array.from(b.train.sourceIndex)).toEqual(Array.from(a.train.sourceIndex));
    expect(Array.from(b.train.y)).toEqual(Array.from(a.train.y));
    expect(Array.from(b.clean.sourceIndex)).toEqual(Array.from(a.clean.sourceIndex));
    expect(Array.from(c.train.sourceIndex)).not.toEqual(Array.from(a.train.sourceIndex));
    for (const f of [0.9, 0, -2, Number.NaN]) {
      expect(() => longtailTask(c10, { imbalanceFactor: f, seed: 0 })).toThrow(`--imbalance-factor must be a number >= 1 (largest class / smallest class), got ${f}`);
    }
    expect(() => longtailTask(c10, { imbalanceFactor: 2, noise: 1, seed: 0 })).toThrow('--noise must be in [0, 1), got 1');
    expect(() => longtailTask(c10, { imbalanceFactor: 1000, seed: 0 })).toThrow('--imbalance-factor 1000: leaves class 9 empty (round(240 / 1000) = 0): lower the factor or raise the largest class size');
    expect(() => longtailTask(c10, { imbalanceFactor: 1, maxPerClass: 300, seed: 0 })).toThrow(
      'the long tail needs 300 cat images for training but CIFAR-10 train has 290 left after the clean set; lower the largest class size (at most 240) or --clean-per-class',
    );
    expect(() => longtailTask(c10, { imbalanceFactor: 2, cleanPerClass: 1001, seed: 0 })).toThrow('--clean-per-class must be at most 1000, got 1001');
    expect(() => longtailTask(c10, { imbalanceFactor: 2, cleanPerClass: 251, seed: 0 })).toThrow('--clean-per-class 251 asks for 251 truck images but CIFAR-10 train has only 250; lower --clean-per-class');
  });

  it('taskTrainData refuses a task built on another data set', () => {
    const t = noiseTask(c10, { noise: 0.1, flip: 'uniform', seed: 1 });
    expect(() => taskTrainData(fashion, t)).toThrow('taskTrainData: the task cifar10-noise-uniform indexes cifar10 but the data given is Fashion-MNIST');
  });
});
