import { describe, expect, it } from 'vitest';
import { classCounts, imbalanceTask, noiseTask, type Mnist, type Split, type Task } from '../../src/data';
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
