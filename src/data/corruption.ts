// Seeded generators for biased training sets: label noise (uniform and background flip), long-tailed
// class imbalance, and a clean per-class set disjoint from training. Pure functions of their inputs
// and an Rng (src/util/rng.ts): the same seed gives the same output, bit for bit. tasks.ts builds the
// tasks from them. Browser-safe.
//
// The released L2RW noise generator drew the new label uniformly from all classes but the last, so a
// flipped label could stay the true one and the last class was never produced; corruptLabels draws
// uniformly among the K-1 *other* classes, so every class can be produced and none keeps its label.

import type { Rng } from '../util/rng';

export type FlipKind = 'uniform' | 'background';
export const FLIP_KINDS: readonly FlipKind[] = ['uniform', 'background'];

/** Largest clean set per class the generators accept. */
export const MAX_CLEAN_PER_CLASS = 1000;

function checkClasses(k: number): void {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`the number of classes must be an integer >= 2, got ${k}`);
}

/** Throws unless `level` is a fraction in [0, 1). */
export function checkNoiseLevel(level: number): void {
  if (typeof level !== 'number' || !(level >= 0 && level < 1)) throw new RangeError(`the noise level must be in [0, 1), got ${level}`);
}

/** Labels corrupted at `level` among `n`: exactly round(level * n). */
export function flipCount(level: number, n: number): number {
  checkNoiseLevel(level);
  return Math.round(level * n);
}

export interface CorruptedLabels {
  /** The labels after corruption. */
  y: Uint32Array;
  /** The labels given (a copy). */
  trueY: Uint32Array;
  /** 1 where the label was corrupted (then y != trueY), 0 elsewhere. */
  noisyMask: Uint8Array;
  /** round(level * n). */
  flipped: number;
  /** Background flip: the class corrupted labels go to. */
  backgroundClass?: number;
}

/**
 * Corrupts exactly round(level * n) labels, chosen uniformly without replacement:
 * - 'uniform': each becomes a uniformly chosen class other than its true one;
 * - 'background': each becomes one background class, drawn uniformly from 0..k-1 once per call; a
 *   corrupted example whose true class is the background class becomes a uniformly chosen other
 *   class instead, so no corrupted label keeps its true class.
 * Draw order (that of the first noiseTask, kept so its tasks stay bit-identical): the background
 * class (background only), a shuffle of the positions 0..n-1 whose first round(level * n) are
 * corrupted, then one rng.int(k - 1) per corrupted position in that order, drawn by both kinds.
 */
export function corruptLabels(rng: Rng, trueY: ArrayLike<number>, k: number, level: number, flip: FlipKind): CorruptedLabels {
  checkClasses(k);
  checkNoiseLevel(level);
  if (flip !== 'uniform' && flip !== 'background') throw new RangeError(`flip must be 'uniform' or 'background', got ${String(flip)}`);
  const n = trueY.length;
  const truth = Uint32Array.from(trueY);
  for (let i = 0; i < n; i++) if (truth[i] >= k || truth[i] !== trueY[i]) throw new RangeError(`label ${trueY[i]} at index ${i} is outside [0, ${k})`);
  const y = truth.slice();
  const noisyMask = new Uint8Array(n);
  const backgroundClass = flip === 'background' ? rng.int(k) : undefined;
  const flipped = Math.round(level * n);
  const positions = rng.shuffle(Uint32Array.from({ length: n }, (_, i) => i)) as Uint32Array;
  for (let j = 0; j < flipped; j++) {
    const p = positions[j];
    const t = truth[p];
    const other = (t + 1 + rng.int(k - 1)) % k;
    y[p] = backgroundClass !== undefined && backgroundClass !== t ? backgroundClass : other;
    noisyMask[p] = 1;
  }
  return { y, trueY: truth, noisyMask, flipped, ...(backgroundClass !== undefined ? { backgroundClass } : {}) };
}

/** Throws unless `factor` is a finite number >= 1. */
export function checkImbalanceFactor(factor: number): void {
  if (typeof factor !== 'number' || !Number.isFinite(factor) || !(factor >= 1)) throw new RangeError(`the imbalance factor must be a finite number >= 1, got ${factor}`);
}

/**
 * Per-class sizes of a long-tailed training set of k classes with imbalance factor `factor` (largest
 * class / smallest): n_c = round(nMax * factor^(-c / (k - 1))), class 0 the largest. factor 1 gives
 * nMax per class. Throws when the smallest class would be empty.
 */
export function longTailCounts(nMax: number, k: number, factor: number): number[] {
  checkClasses(k);
  checkImbalanceFactor(factor);
  if (!Number.isInteger(nMax) || nMax < 1) throw new RangeError(`the largest class size must be a positive integer, got ${nMax}`);
  const counts = Array.from({ length: k }, (_, c) => Math.round(nMax * Math.pow(factor, -c / (k - 1))));
  if (counts[k - 1] < 1) {
    throw new RangeError(`imbalance factor ${factor} leaves class ${k - 1} empty (round(${nMax} / ${factor}) = 0): lower the factor or raise the largest class size`);
  }
  return counts;
}

/** Indices of `labels` equal to each class 0..k-1, in order. */
export function indicesByClass(labels: ArrayLike<number>, k: number): number[][] {
  const by: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!(c >= 0 && c < k)) throw new RangeError(`label ${c} at index ${i} is outside [0, ${k})`);
    by[c].push(i);
  }
  return by;
}

/** Shuffles (index, label) pairs together (one rng.shuffle of the positions). */
export function shufflePairs(rng: Rng, idx: number[], y: ArrayLike<number>): { idx: number[]; y: Uint32Array } {
  const order = rng.shuffle(Array.from(idx.keys())) as number[];
  return { idx: order.map((o) => idx[o]), y: Uint32Array.from(order, (o) => y[o]) };
}

export interface CleanDraw {
  /** The clean set: `perClass` indices of each class, in shuffled order, with their labels. */
  idx: number[];
  y: Uint32Array;
  /** For each class, the indices left for training, in random order (disjoint from the clean set). */
  rest: number[][];
}

/**
 * Sets aside `perClass` (1..1000) examples of every class as a clean set. Each class's indices are
 * shuffled (in class order); the first `perClass` go to the clean set, the rest stay available for
 * training; then the clean set's order is shuffled. Throws when a class has fewer than `perClass`.
 */
export function drawCleanSet(rng: Rng, byClass: number[][], perClass: number): CleanDraw {
  if (!Number.isInteger(perClass) || perClass < 1 || perClass > MAX_CLEAN_PER_CLASS) {
    throw new RangeError(`clean images per class must be an integer in [1, ${MAX_CLEAN_PER_CLASS}], got ${perClass}`);
  }
  byClass.forEach((pool, c) => {
    if (pool.length < perClass) throw new RangeError(`class ${c} has ${pool.length} examples, fewer than the ${perClass} clean ones per class asked for`);
  });
  const idx: number[] = [];
  const y: number[] = [];
  const rest: number[][] = [];
  byClass.forEach((pool, c) => {
    const shuffled = rng.shuffle(pool.slice()) as number[];
    for (let j = 0; j < perClass; j++) {
      idx.push(shuffled[j]);
      y.push(c);
    }
    rest.push(shuffled.slice(perClass));
  });
  const cl = shufflePairs(rng, idx, y);
  return { idx: cl.idx, y: cl.y, rest };
}

/**
 * The first counts[c] indices of each (already shuffled) pool, classes in order, with their labels.
 * No draws: with pools from drawCleanSet this is a uniform subset of each class. Throws when a pool is
 * too small.
 */
export function takePerClass(pools: number[][], counts: number[]): { idx: number[]; y: number[] } {
  if (counts.length !== pools.length) throw new RangeError(`${counts.length} class counts for ${pools.length} classes`);
  const idx: number[] = [];
  const y: number[] = [];
  counts.forEach((m, c) => {
    if (!Number.isInteger(m) || m < 0) throw new RangeError(`class ${c}: count ${m} is not an integer >= 0`);
    if (m > pools[c].length) throw new RangeError(`class ${c} needs ${m} examples but has only ${pools[c].length}`);
    for (let j = 0; j < m; j++) {
      idx.push(pools[c][j]);
      y.push(c);
    }
  });
  return { idx, y };
}
