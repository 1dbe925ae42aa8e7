// The experiments' tasks, built deterministically from a data set and a seed.
//
// - imbalanceTask: binary "4 vs 9" with a dominant class (paper Sec. 5.1 / Fig. 1): two chosen classes
//   of any data set, by default 4 and 9 (MNIST digits 4 and 9, as in the paper).
// - noiseTask: all K classes of the data set with corrupted training labels (uniform / background flip).
// - longtailTask: all K classes, training set subsampled to a long-tailed profile (class 0 the
//   largest, imbalance factor rho = largest / smallest), optionally with label noise on top.
//
// Each task has a large (imbalanced or noisy) training set, a small clean validation set drawn from
// the data set's train split disjoint from the training images (the "meta" set L2RW takes its
// gradient on), and a test set from its test split. Examples are sampled without replacement with
// Rng(seed): the same seed gives the same task, bit for bit. The generators are in corruption.ts.

import { Rng } from '../util/rng';
import {
  checkImbalanceFactor,
  corruptLabels,
  drawCleanSet,
  indicesByClass,
  longTailCounts,
  MAX_CLEAN_PER_CLASS,
  shufflePairs,
  takePerClass,
  type FlipKind,
} from './corruption';
import { asImageDataset, type DataSource, type DatasetSpec, type ImageDataset } from './dataset';

export type { FlipKind } from './corruption';

/** A split of a task: which images (by index) with which labels; the pixels stay in the data set's
 * split they come from (trainer_input.ts hands the trainer their bytes). */
export interface TaskSplit {
  /** n labels in [0, numClasses). */
  y: Uint32Array;
  n: number;
  /** For each example, its index in the split it came from (train for train/clean, test for test). */
  sourceIndex: Uint32Array;
}

export interface TrainSplit extends TaskSplit {
  /** 1 where the label was corrupted (y != trueY), 0 otherwise. Only for tasks with label noise. */
  noisyMask?: Uint8Array;
  /** The uncorrupted labels. Only for tasks with label noise. */
  trueY?: Uint32Array;
}

export interface Task {
  name: string;
  /** The data set the splits index into (own data: its spec, e.g. "folder:photos"). */
  dataset: DatasetSpec;
  numClasses: number;
  train: TrainSplit;
  clean: TaskSplit;
  test: TaskSplit;
  /** Per-example input shape [channels, rows, cols] (the data set's); own vectors: [D]. */
  inputShape: number[];
  description: string;
  classNames: string[];
  /** Tasks with flip 'background': the class that corrupted labels go to. */
  backgroundClass?: number;
  /** Longtail tasks: training images per class (class 0 the largest). */
  classSizes?: number[];
}

export interface ImbalanceOptions {
  /** Fraction of the majority class (label 1) in the training set, in (0, 1); the paper sweeps 0.9-0.995. */
  ratio: number;
  /** Training images (both classes together). Default 5000, as in the paper. */
  trainSize?: number;
  /** Clean validation images, half of each class; even and >= 2. Default 10, as in the paper. */
  clean?: number;
  /** The data set's classes [minority (label 0), majority (label 1)]; default [4, 9]. */
  classes?: [number, number];
  seed: number;
}

export interface NoiseOptions {
  /** Fraction of training labels corrupted, in [0, 1). Exactly round(noise * trainSize) are flipped. */
  noise: number;
  flip: FlipKind;
  /** Clean validation images per class (1-1000), removed from the training pool. Default 10. */
  cleanPerClass?: number;
  /** Training images; default all training images not in the clean set. */
  trainSize?: number;
  seed: number;
}

export interface LongTailOptions {
  /** Largest class size / smallest, >= 1 (1: balanced). */
  imbalanceFactor: number;
  /** Fraction of the long-tailed training labels corrupted afterwards, in [0, 1). Default 0. */
  noise?: number;
  /** How corrupted labels are chosen. Default 'uniform'. */
  flip?: FlipKind;
  /** Clean validation images per class (1-1000), removed from the training pool first. Default 10. */
  cleanPerClass?: number;
  /** Training images of class 0 (n_max); default the size of the smallest class pool left after the clean set. */
  maxPerClass?: number;
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

function makeSplit(idx: number[] | Uint32Array, y: Uint32Array): TaskSplit {
  const sourceIndex = Uint32Array.from(idx);
  return { y, n: sourceIndex.length, sourceIndex };
}

function pct(v: number): string {
  return `${+(v * 100).toFixed(3)}%`;
}

/** "4s" for MNIST digits, "Coat images" otherwise: for messages. */
function plural(ds: ImageDataset, c: number): string {
  return ds.name === 'mnist' ? `${ds.classNames[c]}s` : `${ds.classNames[c]} images`;
}

function checkCleanPerClass(ds: ImageDataset, byTrain: number[][], cleanPerClass: number): void {
  if (!isPositiveInt(cleanPerClass)) throw new Error(`--clean-per-class must be a positive integer, got ${cleanPerClass}`);
  if (cleanPerClass > MAX_CLEAN_PER_CLASS) throw new Error(`--clean-per-class must be at most ${MAX_CLEAN_PER_CLASS}, got ${cleanPerClass}`);
  for (let c = 0; c < ds.classes; c++) {
    if (byTrain[c].length < cleanPerClass) {
      throw new Error(
        `--clean-per-class ${cleanPerClass} asks for ${cleanPerClass} ${plural(ds, c)} but ${ds.title} train has only ${byTrain[c].length}; lower --clean-per-class`,
      );
    }
  }
}

function flipText(flip: FlipKind, backgroundClass: number | undefined): string {
  return flip === 'uniform'
    ? 'uniform flip (to a random other class)'
    : `background flip (to class ${backgroundClass}; true ${backgroundClass}s flip uniformly to another class)`;
}

function wholeTest(ds: ImageDataset): TaskSplit {
  return makeSplit(
    Array.from({ length: ds.test.n }, (_, i) => i),
    Uint32Array.from(ds.test.labels),
  );
}

/**
 * Binary class imbalance, as in the paper's MNIST 4-vs-9: label 0 = class a, label 1 = class b
 * (`classes`, default [4, 9]). The training set has `trainSize` images, round(ratio * trainSize) of
 * class b (the majority when ratio > 0.5) and the rest of class a. The clean validation set has
 * `clean` images, clean/2 of each class, from the train split and disjoint from the training images.
 * The test set is every image of the two classes in the test split.
 */
export function imbalanceTask(data: DataSource, opts: ImbalanceOptions): Task {
  const ds = asImageDataset(data);
  const { ratio, trainSize = 5000, clean = 10, seed } = opts;
  const [a, b] = opts.classes ?? [4, 9];
  for (const c of [a, b]) {
    if (!Number.isInteger(c) || c < 0 || c >= ds.classes) throw new Error(`imbalance classes must be in [0, ${ds.classes}) for ${ds.title}, got ${a} and ${b}`);
  }
  if (a === b) throw new Error(`imbalance classes must differ, got ${a} twice`);
  const [pa, pb] = [plural(ds, a), plural(ds, b)];
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) throw new Error(`--ratio must be in (0, 1), got ${ratio}`);
  if (!isPositiveInt(trainSize)) throw new Error(`--train-size must be a positive integer, got ${trainSize}`);
  if (!Number.isInteger(clean) || clean < 2 || clean % 2 !== 0) {
    throw new Error(`--clean must be an even integer >= 2 (half ${pa}, half ${pb}), got ${clean}`);
  }
  const nb = Math.round(ratio * trainSize);
  const na = trainSize - nb;
  if (na < 1) {
    throw new Error(
      `--ratio ${ratio} with --train-size ${trainSize} leaves no ${pa} (minority class) in training: round(${ratio} * ${trainSize}) = ${nb} ${pb}; ` +
        `lower --ratio or raise --train-size`,
    );
  }
  if (nb < 1) {
    throw new Error(`--ratio ${ratio} with --train-size ${trainSize} leaves no ${pb} in training: round(${ratio} * ${trainSize}) = 0; raise --ratio or --train-size`);
  }
  const half = clean / 2;
  const byTrain = indicesByClass(ds.train.labels, ds.classes);
  for (const [c, need] of [
    [a, na],
    [b, nb],
  ] as const) {
    const have = byTrain[c].length;
    if (half > have) {
      throw new Error(`--clean ${clean} asks for ${half} ${plural(ds, c)} but ${ds.title} train has only ${have} ${plural(ds, c)}; lower --clean`);
    }
    if (half + need > have) {
      throw new Error(
        `not enough ${plural(ds, c)} in ${ds.title} train: the training set needs ${need} and the clean set ${half} (${need + half} in all) but there are only ${have}; ` +
          `lower --train-size or --clean, or change --ratio`,
      );
    }
  }

  // Draw order of the first MNIST version (bit-identical tasks for the same seed).
  const rng = new Rng(seed);
  const poolA = rng.shuffle(byTrain[a].slice()) as number[];
  const poolB = rng.shuffle(byTrain[b].slice()) as number[];
  const cleanA = poolA.slice(0, half);
  const cleanB = poolB.slice(0, half);
  const trainA = poolA.slice(half, half + na);
  const trainB = poolB.slice(half, half + nb);

  const tr = shufflePairs(rng, [...trainA, ...trainB], [...trainA.map(() => 0), ...trainB.map(() => 1)]);
  const cl = shufflePairs(rng, [...cleanA, ...cleanB], [...cleanA.map(() => 0), ...cleanB.map(() => 1)]);

  const testIdx: number[] = [];
  const testY: number[] = [];
  const tl = ds.test.labels;
  for (let i = 0; i < tl.length; i++) {
    if (tl[i] === a || tl[i] === b) {
      testIdx.push(i);
      testY.push(tl[i] === b ? 1 : 0);
    }
  }
  if (testIdx.length === 0) throw new Error(`${ds.title} test has no ${pa} or ${pb}; cannot build the ${ds.classNames[a]}-vs-${ds.classNames[b]} test set`);

  const [nameA, nameB] = [ds.classNames[a], ds.classNames[b]];
  const what =
    ds.name === 'mnist'
      ? `MNIST ${a} vs ${b} (label 0 = digit ${a}, label 1 = digit ${b})`
      : `${ds.title} ${nameA} vs ${nameB} (label 0 = class ${a} ${nameA}, label 1 = class ${b} ${nameB})`;
  return {
    name: `${ds.name}-imbalance`,
    dataset: ds.name,
    numClasses: 2,
    train: makeSplit(tr.idx, tr.y),
    clean: makeSplit(cl.idx, cl.y),
    test: makeSplit(testIdx, Uint32Array.from(testY)),
    inputShape: [...ds.shape],
    description:
      `${what}, class imbalance: ${trainSize} training images, ` +
      `${nb} ${pb} (${pct(nb / trainSize)}) and ${na} ${pa}; clean validation set ${clean} (${half} per class); ` +
      `test ${testIdx.length} (all ${pa} and ${pb} of ${ds.title} test); seed ${seed}`,
    classNames: [nameA, nameB],
  };
}

/**
 * All K classes of the data set with label noise. `cleanPerClass` images of each class are set aside
 * as the clean validation set (drawCleanSet); the training set is drawn from the rest, and exactly
 * round(noise * n) training examples, chosen at random, get a wrong label (corruptLabels):
 * - 'uniform': a uniformly random class other than the true one;
 * - 'background' (the paper's BackgroundFlip: all classes flip into one background class): the
 *   background class is drawn uniformly from the K classes with the task's Rng (it depends on the
 *   seed; it is reported in `backgroundClass` and the description). A corrupted example whose true
 *   class is the background class gets a uniformly random other class instead; every corrupted label
 *   differs from its true label.
 * `trueY` and `noisyMask` record the corruption. The test set is the whole test split.
 */
export function noiseTask(data: DataSource, opts: NoiseOptions): Task {
  const ds = asImageDataset(data);
  const { noise, flip, cleanPerClass = 10, seed } = opts;
  if (typeof noise !== 'number' || !(noise >= 0 && noise < 1)) throw new Error(`--noise must be in [0, 1), got ${noise}`);
  if (flip !== 'uniform' && flip !== 'background') throw new Error(`--flip must be 'uniform' or 'background', got ${String(flip)}`);
  const k = ds.classes;
  const byTrain = indicesByClass(ds.train.labels, k);
  checkCleanPerClass(ds, byTrain, cleanPerClass);
  const available = ds.train.n - k * cleanPerClass;
  const trainSize = opts.trainSize ?? available;
  if (!isPositiveInt(trainSize) || trainSize > available) {
    throw new Error(
      `--train-size must be an integer in [1, ${available}] (${ds.title} train has ${ds.train.n} images, ${k * cleanPerClass} go to the clean set), got ${trainSize}`,
    );
  }

  // Same draws, in the same order, as the first MNIST version: per-class shuffles and the clean
  // set's order (drawCleanSet), the training pool's shuffle, then the corruption.
  const rng = new Rng(seed);
  const cl = drawCleanSet(rng, byTrain, cleanPerClass);
  const rest = cl.rest.flat();
  rng.shuffle(rest);
  const trainIdx = rest.slice(0, trainSize);
  const noisy = corruptLabels(
    rng,
    Uint32Array.from(trainIdx, (i) => ds.train.labels[i]),
    k,
    noise,
    flip,
  );
  const { backgroundClass } = noisy;
  const train: TrainSplit = { ...makeSplit(trainIdx, noisy.y), noisyMask: noisy.noisyMask, trueY: noisy.trueY };
  return {
    name: `${ds.name}-noise-${flip}`,
    dataset: ds.name,
    numClasses: k,
    train,
    clean: makeSplit(cl.idx, cl.y),
    test: wholeTest(ds),
    inputShape: [...ds.shape],
    description:
      `${ds.title} ${k} classes, label noise: ${trainSize} training images, ${noisy.flipped} (${pct(noise)}) labels corrupted by ${flipText(flip, backgroundClass)}; ` +
      `clean validation set ${k * cleanPerClass} (${cleanPerClass} per class); test ${ds.test.n}; seed ${seed}`,
    classNames: ds.classNames.slice(),
    ...(backgroundClass !== undefined ? { backgroundClass } : {}),
  };
}

/**
 * All K classes with a long-tailed training set: `cleanPerClass` images of each class go to the clean
 * validation set (drawCleanSet), then class c keeps n_c = round(n_max * rho^(-c/(K-1))) of its
 * remaining images (longTailCounts; class 0 the largest, rho = `imbalanceFactor`), the training order
 * is shuffled, and finally round(noise * n) labels are corrupted as in noiseTask (noise after the
 * long-tail subsampling). With noise > 0, `trueY` and `noisyMask` record the corruption. The clean
 * and test sets stay balanced; the test set is the whole test split.
 */
export function longtailTask(data: DataSource, opts: LongTailOptions): Task {
  const ds = asImageDataset(data);
  const { imbalanceFactor, noise = 0, flip = 'uniform', cleanPerClass = 10, seed } = opts;
  try {
    checkImbalanceFactor(imbalanceFactor);
  } catch {
    throw new Error(`--imbalance-factor must be a number >= 1 (largest class / smallest class), got ${imbalanceFactor}`);
  }
  if (typeof noise !== 'number' || !(noise >= 0 && noise < 1)) throw new Error(`--noise must be in [0, 1), got ${noise}`);
  if (flip !== 'uniform' && flip !== 'background') throw new Error(`--flip must be 'uniform' or 'background', got ${String(flip)}`);
  const k = ds.classes;
  const byTrain = indicesByClass(ds.train.labels, k);
  checkCleanPerClass(ds, byTrain, cleanPerClass);
  const smallest = Math.min(...byTrain.map((p) => p.length)) - cleanPerClass;
  const nMax = opts.maxPerClass ?? smallest;
  if (!isPositiveInt(nMax)) throw new Error(`the largest class size must be a positive integer, got ${nMax}`);
  let counts: number[];
  try {
    counts = longTailCounts(nMax, k, imbalanceFactor);
  } catch (e) {
    throw new Error(`--imbalance-factor ${imbalanceFactor}: ${(e as Error).message.replace(/^imbalance factor \S+ /, '')}`);
  }
  counts.forEach((m, c) => {
    const have = byTrain[c].length - cleanPerClass;
    if (m > have) {
      throw new Error(
        `the long tail needs ${m} ${plural(ds, c)} for training but ${ds.title} train has ${have} left after the clean set; ` +
          `lower the largest class size (at most ${smallest}) or --clean-per-class`,
      );
    }
  });

  const rng = new Rng(seed);
  const cl = drawCleanSet(rng, byTrain, cleanPerClass);
  const taken = takePerClass(cl.rest, counts);
  const tr = shufflePairs(rng, taken.idx, taken.y);
  const n = tr.idx.length;
  let train: TrainSplit = makeSplit(tr.idx, tr.y);
  let noiseText = '';
  let backgroundClass: number | undefined;
  if (noise > 0) {
    const noisy = corruptLabels(rng, tr.y, k, noise, flip);
    backgroundClass = noisy.backgroundClass;
    train = { ...makeSplit(tr.idx, noisy.y), noisyMask: noisy.noisyMask, trueY: noisy.trueY };
    noiseText = `, then ${noisy.flipped} (${pct(noise)}) labels corrupted by ${flipText(flip, backgroundClass)}`;
  }
  return {
    name: `${ds.name}-longtail`,
    dataset: ds.name,
    numClasses: k,
    train,
    clean: makeSplit(cl.idx, cl.y),
    test: wholeTest(ds),
    inputShape: [...ds.shape],
    description:
      `${ds.title} ${k} classes, long-tailed: imbalance factor ${imbalanceFactor}, ${n} training images, ` +
      `${counts[0]} of class 0 down to ${counts[k - 1]} of class ${k - 1} (n_c = round(${nMax} * ${imbalanceFactor}^(-c/${k - 1})))${noiseText}; ` +
      `clean validation set ${k * cleanPerClass} (${cleanPerClass} per class); test ${ds.test.n}; seed ${seed}`,
    classNames: ds.classNames.slice(),
    classSizes: counts,
    ...(backgroundClass !== undefined ? { backgroundClass } : {}),
  };
}
