// The generators of biased training sets (src/data/corruption.ts): exact rates, every class reachable,
// no corrupted label keeping its class, the long-tail profile, the clean set, determinism per seed.
import { describe, expect, it } from 'vitest';
import {
  MAX_CLEAN_PER_CLASS,
  classCounts,
  corruptLabels,
  drawCleanSet,
  flipCount,
  indicesByClass,
  longTailCounts,
  shufflePairs,
  takePerClass,
} from '../../src/data';
import { Rng } from '../../src/util/rng';

/** n labels cycling through 0..k-1. */
const cyclic = (n: number, k: number) => Uint32Array.from({ length: n }, (_, i) => i % k);

describe('corruptLabels: uniform flip', () => {
  it('corrupts exactly round(level * n) labels, each to a different class, at every level in [0, 1)', () => {
    for (const n of [1, 7, 100, 1001]) {
      for (const level of [0, 0.001, 0.1, 0.25, 0.333, 0.5, 0.8, 0.95, 0.999]) {
        const trueY = cyclic(n, 10);
        const r = corruptLabels(new Rng(n * 31 + Math.round(level * 1000)), trueY, 10, level, 'uniform');
        expect(r.flipped).toBe(Math.round(level * n));
        expect(flipCount(level, n)).toBe(r.flipped);
        expect(r.noisyMask.reduce((s, v) => s + v, 0)).toBe(r.flipped);
        expect(Array.from(r.trueY)).toEqual(Array.from(trueY));
        let bad = 0;
        for (let i = 0; i < n; i++) if ((r.noisyMask[i] === 1) !== (r.y[i] !== trueY[i]) || r.y[i] >= 10) bad++;
        expect(bad).toBe(0);
        expect(r.backgroundClass).toBeUndefined();
      }
    }
  });

  it('can produce every class, the last one included, and every (true, noisy) pair, about uniformly', () => {
    for (const [k, perPair] of [
      [2, 200],
      [3, 200],
      [10, 200],
      [100, 20],
    ]) {
      const n = 2 * perPair * k * (k - 1);
      const trueY = cyclic(n, k);
      const r = corruptLabels(new Rng(k), trueY, k, 0.5, 'uniform');
      const pairs = new Map<string, number>();
      for (let i = 0; i < n; i++) if (r.noisyMask[i]) pairs.set(`${trueY[i]}>${r.y[i]}`, (pairs.get(`${trueY[i]}>${r.y[i]}`) ?? 0) + 1);
      // k (k - 1) off-diagonal pairs, none on the diagonal.
      expect(pairs.size).toBe(k * (k - 1));
      for (let c = 0; c < k; c++) expect(pairs.has(`${c}>${c}`)).toBe(false);
      // Each pair expects flipped / (k (k - 1)) = perPair hits; all within a wide band.
      const counts = [...pairs.values()];
      expect(Math.min(...counts)).toBeGreaterThan(perPair * (perPair >= 100 ? 0.6 : 0.2));
      expect(Math.max(...counts)).toBeLessThan(perPair * (perPair >= 100 ? 1.5 : 2.2));
      const produced = classCounts(Array.from(r.y).filter((_, i) => r.noisyMask[i]), k);
      expect(produced.every((v) => v > 0)).toBe(true);
    }
  });

  it('chooses which labels to corrupt uniformly (every position about equally often over seeds)', () => {
    const n = 20;
    const hits = new Array(n).fill(0);
    for (let seed = 0; seed < 2000; seed++) {
      const r = corruptLabels(new Rng(seed), cyclic(n, 4), 4, 0.25, 'uniform');
      r.noisyMask.forEach((v, i) => (hits[i] += v));
    }
    // 2000 * 5 / 20 = 500 expected per position.
    for (const h of hits) {
      expect(h).toBeGreaterThan(400);
      expect(h).toBeLessThan(600);
    }
  });

  it('is deterministic per seed and differs across seeds', () => {
    const trueY = cyclic(500, 10);
    const a = corruptLabels(new Rng(9), trueY, 10, 0.4, 'uniform');
    const b = corruptLabels(new Rng(9), trueY, 10, 0.4, 'uniform');
    const c = corruptLabels(new Rng(10), trueY, 10, 0.4, 'uniform');
    expect(Array.from(b.y)).toEqual(Array.from(a.y));
    expect(Array.from(b.noisyMask)).toEqual(Array.from(a.noisyMask));
    expect(Array.from(c.y)).not.toEqual(Array.from(a.y));
  });
});

describe('corruptLabels: background flip', () => {
  it('sends every corrupted label to one class drawn per seed; true members of that class go to another class', () => {
    const backgrounds = new Set<number>();
    for (let seed = 0; seed < 60; seed++) {
      const trueY = cyclic(1000, 10);
      const r = corruptLabels(new Rng(seed), trueY, 10, 0.6, 'background');
      const bg = r.backgroundClass!;
      expect(Number.isInteger(bg) && bg >= 0 && bg < 10).toBe(true);
      backgrounds.add(bg);
      expect(r.flipped).toBe(600);
      expect(r.noisyMask.reduce((s, v) => s + v, 0)).toBe(600);
      let ownBg = 0;
      let bad = 0;
      for (let i = 0; i < trueY.length; i++) {
        if (!r.noisyMask[i]) {
          if (r.y[i] !== trueY[i]) bad++;
          continue;
        }
        if (r.y[i] === trueY[i]) bad++;
        if (trueY[i] === bg) ownBg++;
        else if (r.y[i] !== bg) bad++;
      }
      expect(bad).toBe(0);
      expect(ownBg).toBeGreaterThan(0);
    }
    // Drawn uniformly: every class is the background for some seed.
    expect(backgrounds.size).toBe(10);
  });

  it('draws the same positions as uniform flip for the same seed (one draw per corrupted label either way)', () => {
    const trueY = cyclic(300, 5);
    // Background draws its class first, so compare against a uniform run whose Rng skipped one draw.
    const rngU = new Rng(4);
    rngU.int(5);
    const u = corruptLabels(rngU, trueY, 5, 0.3, 'uniform');
    const b = corruptLabels(new Rng(4), trueY, 5, 0.3, 'background');
    expect(Array.from(b.noisyMask)).toEqual(Array.from(u.noisyMask));
    for (let i = 0; i < trueY.length; i++) if (b.noisyMask[i] && trueY[i] === b.backgroundClass) expect(b.y[i]).toBe(u.y[i]);
  });
});

describe('corruptLabels: arguments', () => {
  it('rejects levels outside [0, 1), fewer than 2 classes, labels out of range and unknown flips', () => {
    for (const level of [1, 1.5, -0.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => corruptLabels(new Rng(1), [0, 1], 2, level, 'uniform')).toThrow(`the noise level must be in [0, 1), got ${level}`);
      expect(() => flipCount(level, 10)).toThrow(/noise level must be in \[0, 1\)/);
    }
    expect(() => corruptLabels(new Rng(1), [0, 0], 1, 0.5, 'uniform')).toThrow(/classes must be an integer >= 2, got 1/);
    expect(() => corruptLabels(new Rng(1), [0, 3], 3, 0.5, 'uniform')).toThrow('label 3 at index 1 is outside [0, 3)');
    expect(() => corruptLabels(new Rng(1), [0, -1], 3, 0.5, 'uniform')).toThrow(/label -1 at index 1/);
    expect(() => corruptLabels(new Rng(1), [0, 1.5], 3, 0.5, 'uniform')).toThrow(/label 1.5 at index 1/);
    expect(() => corruptLabels(new Rng(1), [0, 1], 3, 0.5, 'pair' as 'uniform')).toThrow(/flip must be 'uniform' or 'background', got pair/);
    const empty = corruptLabels(new Rng(1), [], 3, 0.5, 'uniform');
    expect([empty.y.length, empty.flipped]).toEqual([0, 0]);
  });
});

describe('longTailCounts', () => {
  it('follows n_c = round(n_max * rho^(-c/(K-1))), class 0 the largest', () => {
    expect(longTailCounts(5000, 10, 100)).toEqual([5000, 2997, 1797, 1077, 646, 387, 232, 139, 83, 50]);
    expect(longTailCounts(5000, 10, 10)).toEqual([5000, 3871, 2997, 2321, 1797, 1391, 1077, 834, 646, 500]);
    expect(longTailCounts(300, 2, 3)).toEqual([300, 100]);
    expect(longTailCounts(7, 4, 1)).toEqual([7, 7, 7, 7]);
    const c100 = longTailCounts(500, 100, 100);
    expect(c100).toHaveLength(100);
    expect([c100[0], c100[99]]).toEqual([500, 5]);
    for (let c = 1; c < 100; c++) {
      expect(c100[c]).toBeLessThanOrEqual(c100[c - 1]);
      expect(c100[c]).toBe(Math.round(500 * Math.pow(100, -c / 99)));
    }
    // The imbalance factor is the largest class over the smallest (up to rounding).
    for (const rho of [1, 2, 10, 50, 100, 200]) {
      const c = longTailCounts(10000, 10, rho);
      expect(c[0] / c[9]).toBeCloseTo(rho, 6);
    }
  });

  it('rejects factors below 1, non-finite ones, empty tail classes and bad sizes', () => {
    for (const rho of [0.5, 0, -3, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => longTailCounts(100, 10, rho)).toThrow(`the imbalance factor must be a finite number >= 1, got ${rho}`);
    }
    expect(() => longTailCounts(100, 10, 1000)).toThrow('imbalance factor 1000 leaves class 9 empty (round(100 / 1000) = 0): lower the factor or raise the largest class size');
    expect(() => longTailCounts(0, 10, 2)).toThrow(/largest class size must be a positive integer, got 0/);
    expect(() => longTailCounts(10.5, 10, 2)).toThrow(/largest class size must be a positive integer/);
    expect(() => longTailCounts(10, 1, 2)).toThrow(/classes must be an integer >= 2/);
  });
});

describe('drawCleanSet and takePerClass', () => {
  const labels = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 3);
  const byClass = indicesByClass(labels, 3);

  it('sets aside exactly k per class, disjoint from the rest, for k from 1 to 1000', () => {
    for (const k of [1, 2, 10, 999, MAX_CLEAN_PER_CLASS]) {
      const d = drawCleanSet(new Rng(k), byClass, k);
      expect(d.idx).toHaveLength(3 * k);
      expect(classCounts(d.y, 3)).toEqual([k, k, k]);
      for (let j = 0; j < d.idx.length; j++) expect(labels[d.idx[j]]).toBe(d.y[j]);
      const all = [...d.idx, ...d.rest.flat()];
      expect(new Set(all).size).toBe(labels.length);
      d.rest.forEach((pool, c) => {
        expect(pool).toHaveLength(1000 - k);
        for (const i of pool) expect(labels[i]).toBe(c);
      });
    }
  });

  it('errors for k outside [1, 1000] and for a class with too few examples', () => {
    for (const k of [0, -1, 1.5, 1001]) {
      expect(() => drawCleanSet(new Rng(1), byClass, k)).toThrow(`clean images per class must be an integer in [1, 1000], got ${k}`);
    }
    const skewed = indicesByClass([0, 0, 0, 1, 2, 2], 3);
    expect(() => drawCleanSet(new Rng(1), skewed, 2)).toThrow('class 1 has 1 examples, fewer than the 2 clean ones per class asked for');
  });

  it('takes the first counts[c] of each pool and checks the pools are large enough', () => {
    const t = takePerClass([[5, 6, 7], [1, 2], [9]], [2, 2, 0]);
    expect(t).toEqual({ idx: [5, 6, 1, 2], y: [0, 0, 1, 1] });
    expect(() => takePerClass([[5], [1]], [2, 0])).toThrow('class 0 needs 2 examples but has only 1');
    expect(() => takePerClass([[5]], [1, 1])).toThrow(/2 class counts for 1 classes/);
  });

  it('long tail then noise: the true labels follow the profile exactly and the flips are exact', () => {
    const rng = new Rng(3);
    const d = drawCleanSet(rng, byClass, 10);
    const counts = longTailCounts(990, 3, 9);
    expect(counts).toEqual([990, 330, 110]);
    const taken = takePerClass(d.rest, counts);
    const tr = shufflePairs(rng, taken.idx, taken.y);
    const noisy = corruptLabels(rng, tr.y, 3, 0.2, 'uniform');
    expect(classCounts(noisy.trueY, 3)).toEqual(counts);
    expect(noisy.flipped).toBe(Math.round(0.2 * 1430));
    const clean = new Set(d.idx);
    expect(tr.idx.every((i) => !clean.has(i))).toBe(true);
  });

  it('shufflePairs keeps pairs together', () => {
    const s = shufflePairs(new Rng(2), [10, 11, 12, 13], [0, 1, 2, 3]);
    for (let j = 0; j < 4; j++) expect(s.idx[j] - 10).toBe(s.y[j]);
    expect([...s.idx].sort()).toEqual([10, 11, 12, 13]);
  });
});
