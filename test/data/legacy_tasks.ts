// FROZEN: the task builders as committed before the data sets were generalised (git show
// f4410ff:src/data/tasks.ts, imports adjusted), kept verbatim so legacy_identity.test.ts can check that
// today's imbalanceTask and noiseTask still give the same MNIST tasks, bit for bit, for the same seed
// (the committed results depend on it). Do not edit.
//
// The two MNIST experiments of Ren et al. (2018), built deterministically from a seed.
//
// - imbalanceTask: binary 4-vs-9 with a dominant class (paper Sec. 5.1 / Fig. 1).
// - noiseTask: 10-class MNIST with corrupted training labels (uniform flip / background flip).
//
// Each task has a large (imbalanced or noisy) training set, a small clean validation set drawn from
// MNIST train disjoint from the training images (the "meta" set L2RW takes its gradient on), and a
// test set from MNIST test. Examples are sampled without replacement with Rng(seed): the same seed
// gives the same task, bit for bit.

import { Rng } from '../../src/util/rng';
import { MNIST_CLASSES, MNIST_COLS, MNIST_ROWS, type Mnist } from '../../src/data/mnist';

/** A split of a task: which MNIST images (by index) with which labels; the pixels stay in the MNIST
 * split they come from (trainer_input.ts hands the trainer their bytes). */
export interface TaskSplit {
  /** n labels in [0, numClasses). */
  y: Uint32Array;
  n: number;
  /** For each example, its index in the MNIST split it came from (train for train/clean, test for test). */
  sourceIndex: Uint32Array;
}

export interface TrainSplit extends TaskSplit {
  /** 1 where the label was corrupted (y != trueY), 0 otherwise. Only for noise tasks. */
  noisyMask?: Uint8Array;
  /** The uncorrupted labels. Only for noise tasks. */
  trueY?: Uint32Array;
}

export interface Task {
  name: string;
  numClasses: number;
  train: TrainSplit;
  clean: TaskSplit;
  test: TaskSplit;
  inputShape: [1, 28, 28];
  description: string;
  classNames: string[];
  /** Noise tasks with flip 'background': the class that corrupted labels go to. */
  backgroundClass?: number;
}

export interface ImbalanceOptions {
  /** Fraction of 9s (the majority class) in the training set, in (0, 1); the paper sweeps 0.9-0.995. */
  ratio: number;
  /** Training images (4s and 9s together). Default 5000, as in the paper. */
  trainSize?: number;
  /** Clean validation images, half 4s and half 9s; even and >= 2. Default 10, as in the paper. */
  clean?: number;
  seed: number;
}

export type FlipKind = 'uniform' | 'background';

export interface NoiseOptions {
  /** Fraction of training labels corrupted, in [0, 1). Exactly round(noise * trainSize) are flipped. */
  noise: number;
  flip: FlipKind;
  /** Clean validation images per class, removed from the training pool. Default 10. */
  cleanPerClass?: number;
  /** Training images; default all MNIST training images not in the clean set. */
  trainSize?: number;
  seed: number;
}

/** Number of examples of each class 0..k-1. */
export function classCounts(y: ArrayLike<number>, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < y.length; i++) {
    const c = y[i];
    if (!Number.isInteger(c) || c < 0 || c >= k) throw new RangeError(`classCounts: label ${c} at index ${i} is outside [0, ${k})`);
    counts[c]++;
  }
  return counts;
}

function isPositiveInt(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

/** Indices of `labels` equal to each class, in order. */
function indicesByClass(labels: Uint8Array, k: number): number[][] {
  const by: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < labels.length; i++) by[labels[i]].push(i);
  return by;
}

function makeSplit(src: Mnist['train'], idx: number[] | Uint32Array, y: Uint32Array): TaskSplit {
  const sourceIndex = Uint32Array.from(idx);
  return { y, n: sourceIndex.length, sourceIndex };
}

/** Shuffles (index, label) pairs together. */
function shufflePairs(rng: Rng, idx: number[], y: number[]): { idx: number[]; y: Uint32Array } {
  const order = rng.shuffle(Array.from(idx.keys())) as number[];
  return { idx: order.map((o) => idx[o]), y: Uint32Array.from(order, (o) => y[o]) };
}

function pct(v: number): string {
  return `${+(v * 100).toFixed(3)}%`;
}

/**
 * Binary MNIST 4-vs-9 with class imbalance, as in the paper: label 0 = digit 4, label 1 = digit 9.
 * The training set has `trainSize` images, round(ratio * trainSize) of them 9s (the majority when
 * ratio > 0.5) and the rest 4s. The clean validation set has `clean` images, clean/2 of each digit,
 * from MNIST train and disjoint from the training images. The test set is every 4 and 9 of MNIST test.
 */
export function imbalanceTask(mnist: Mnist, opts: ImbalanceOptions): Task {
  const { ratio, trainSize = 5000, clean = 10, seed } = opts;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) throw new Error(`--ratio must be in (0, 1), got ${ratio}`);
  if (!isPositiveInt(trainSize)) throw new Error(`--train-size must be a positive integer, got ${trainSize}`);
  if (!Number.isInteger(clean) || clean < 2 || clean % 2 !== 0) {
    throw new Error(`--clean must be an even integer >= 2 (half 4s, half 9s), got ${clean}`);
  }
  const n9 = Math.round(ratio * trainSize);
  const n4 = trainSize - n9;
  if (n4 < 1) {
    throw new Error(
      `--ratio ${ratio} with --train-size ${trainSize} leaves no 4s (minority class) in training: round(${ratio} * ${trainSize}) = ${n9} 9s; ` +
        `lower --ratio or raise --train-size`,
    );
  }
  if (n9 < 1) {
    throw new Error(`--ratio ${ratio} with --train-size ${trainSize} leaves no 9s in training: round(${ratio} * ${trainSize}) = 0; raise --ratio or --train-size`);
  }
  const half = clean / 2;
  const byTrain = indicesByClass(mnist.train.labels, MNIST_CLASSES);
  for (const [digit, need] of [
    [4, n4],
    [9, n9],
  ] as const) {
    const have = byTrain[digit].length;
    if (half > have) {
      throw new Error(`--clean ${clean} asks for ${half} ${digit}s but MNIST train has only ${have} ${digit}s; lower --clean`);
    }
    if (half + need > have) {
      throw new Error(
        `not enough ${digit}s in MNIST train: the training set needs ${need} and the clean set ${half} (${need + half} in all) but there are only ${have}; ` +
          `lower --train-size or --clean, or change --ratio`,
      );
    }
  }

  const rng = new Rng(seed);
  const pool4 = rng.shuffle(byTrain[4].slice()) as number[];
  const pool9 = rng.shuffle(byTrain[9].slice()) as number[];
  const clean4 = pool4.slice(0, half);
  const clean9 = pool9.slice(0, half);
  const train4 = pool4.slice(half, half + n4);
  const train9 = pool9.slice(half, half + n9);

  const tr = shufflePairs(rng, [...train4, ...train9], [...train4.map(() => 0), ...train9.map(() => 1)]);
  const cl = shufflePairs(rng, [...clean4, ...clean9], [...clean4.map(() => 0), ...clean9.map(() => 1)]);

  const testIdx: number[] = [];
  const testY: number[] = [];
  const tl = mnist.test.labels;
  for (let i = 0; i < tl.length; i++) {
    if (tl[i] === 4 || tl[i] === 9) {
      testIdx.push(i);
      testY.push(tl[i] === 9 ? 1 : 0);
    }
  }
  if (testIdx.length === 0) throw new Error('MNIST test has no 4s or 9s; cannot build the 4-vs-9 test set');

  return {
    name: 'mnist-imbalance',
    numClasses: 2,
    train: makeSplit(mnist.train, tr.idx, tr.y),
    clean: makeSplit(mnist.train, cl.idx, cl.y),
    test: makeSplit(mnist.test, testIdx, Uint32Array.from(testY)),
    inputShape: [1, MNIST_ROWS, MNIST_COLS] as [1, 28, 28],
    description:
      `MNIST 4 vs 9 (label 0 = digit 4, label 1 = digit 9), class imbalance: ${trainSize} training images, ` +
      `${n9} 9s (${pct(n9 / trainSize)}) and ${n4} 4s; clean validation set ${clean} (${half} per class); ` +
      `test ${testIdx.length} (all 4s and 9s of MNIST test); seed ${seed}`,
    classNames: ['4', '9'],
  };
}

/**
 * 10-class MNIST with label noise. `cleanPerClass` images of each digit are set aside as the clean
 * validation set; the training set is drawn from the rest, and exactly round(noise * n) training
 * examples, chosen at random, get a wrong label:
 * - 'uniform': a uniformly random class other than the true one;
 * - 'background' (the paper's BackgroundFlip: all classes flip into one background class): the
 *   background class is drawn uniformly from 0-9 with the task's Rng (it depends on the seed; it is
 *   reported in `backgroundClass` and the description). A corrupted example whose true class is the
 *   background class cannot flip to it, so it gets a uniformly random other class instead; every
 *   corrupted label differs from its true label.
 * `trueY` and `noisyMask` record the corruption. The test set is the whole MNIST test set.
 */
export function noiseTask(mnist: Mnist, opts: NoiseOptions): Task {
  const { noise, flip, cleanPerClass = 10, seed } = opts;
  if (typeof noise !== 'number' || !(noise >= 0 && noise < 1)) throw new Error(`--noise must be in [0, 1), got ${noise}`);
  if (flip !== 'uniform' && flip !== 'background') throw new Error(`--flip must be 'uniform' or 'background', got ${String(flip)}`);
  if (!isPositiveInt(cleanPerClass)) throw new Error(`--clean-per-class must be a positive integer, got ${cleanPerClass}`);
  const k = MNIST_CLASSES;
  const byTrain = indicesByClass(mnist.train.labels, k);
  for (let c = 0; c < k; c++) {
    if (byTrain[c].length < cleanPerClass) {
      throw new Error(`--clean-per-class ${cleanPerClass} asks for ${cleanPerClass} ${c}s but MNIST train has only ${byTrain[c].length}; lower --clean-per-class`);
    }
  }
  const available = mnist.train.n - k * cleanPerClass;
  const trainSize = opts.trainSize ?? available;
  if (!isPositiveInt(trainSize) || trainSize > available) {
    throw new Error(
      `--train-size must be an integer in [1, ${available}] (MNIST train has ${mnist.train.n} images, ${k * cleanPerClass} go to the clean set), got ${trainSize}`,
    );
  }

  const rng = new Rng(seed);
  const cleanIdx: number[] = [];
  const cleanY: number[] = [];
  const rest: number[] = [];
  for (let c = 0; c < k; c++) {
    const pool = rng.shuffle(byTrain[c].slice()) as number[];
    for (let j = 0; j < pool.length; j++) {
      if (j < cleanPerClass) {
        cleanIdx.push(pool[j]);
        cleanY.push(c);
      } else rest.push(pool[j]);
    }
  }
  const cl = shufflePairs(rng, cleanIdx, cleanY);
  rng.shuffle(rest);
  const trainIdx = rest.slice(0, trainSize);
  const trueY = Uint32Array.from(trainIdx, (i) => mnist.train.labels[i]);
  const y = trueY.slice();
  const noisyMask = new Uint8Array(trainSize);

  const backgroundClass = flip === 'background' ? rng.int(k) : undefined;
  const nFlip = Math.round(noise * trainSize);
  const positions = rng.shuffle(Uint32Array.from({ length: trainSize }, (_, i) => i)) as Uint32Array;
  for (let j = 0; j < nFlip; j++) {
    const p = positions[j];
    const t = trueY[p];
    const other = (t + 1 + rng.int(k - 1)) % k;
    y[p] = backgroundClass !== undefined && backgroundClass !== t ? backgroundClass : other;
    noisyMask[p] = 1;
  }

  const testIdx = Array.from({ length: mnist.test.n }, (_, i) => i);
  const train: TrainSplit = { ...makeSplit(mnist.train, trainIdx, y), noisyMask, trueY };
  const flipText =
    flip === 'uniform'
      ? 'uniform flip (to a random other class)'
      : `background flip (to class ${backgroundClass}; true ${backgroundClass}s flip uniformly to another class)`;
  return {
    name: `mnist-noise-${flip}`,
    numClasses: k,
    train,
    clean: makeSplit(mnist.train, cl.idx, cl.y),
    test: makeSplit(mnist.test, testIdx, Uint32Array.from(mnist.test.labels)),
    inputShape: [1, MNIST_ROWS, MNIST_COLS] as [1, 28, 28],
    description:
      `MNIST 10 classes, label noise: ${trainSize} training images, ${nFlip} (${pct(noise)}) labels corrupted by ${flipText}; ` +
      `clean validation set ${k * cleanPerClass} (${cleanPerClass} per class); test ${mnist.test.n}; seed ${seed}`,
    classNames: Array.from({ length: k }, (_, c) => String(c)),
    ...(backgroundClass !== undefined ? { backgroundClass } : {}),
  };
}
