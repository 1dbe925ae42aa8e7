import { afterEach, describe, expect, it } from 'vitest';
import type { BufferRef, Gpu } from '../../src/gpu/gpu';
import { ColumnSums } from '../../src/kernels/column_sums';
import { Dot } from '../../src/kernels/dot';
import { runDispatches } from '../../src/kernels/kernel';
import { ReduceSum } from '../../src/kernels/reduce_sum';
import { RowArgmax } from '../../src/kernels/row_argmax';
import { RowDots } from '../../src/kernels/row_dots';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';
import { expectClose, type Tolerance } from '../helpers/compare';
import { columnSumsRef, dotRef, rowArgmaxRef, rowDotsRef, sumRef } from '../reference/reductions';

const U = 2 ** -24; // fp32 unit roundoff
const GUARD = 42;
// Inputs are bound at this byte offset inside a larger buffer whose other elements hold POISON, so a
// kernel that assumes its binding starts at element 0, or reads past n, picks up a huge value.
const IN_OFFSET = 256;
const POISON = 1e6;

// Every buffer a test made (inputs included) is released after it; the 1e7-element input is 40 MB.
afterEach(async () => (await testGpu()).destroyAll());

/**
 * Tolerance for sums of `len` terms (each a float32 value or product, zero-mean in these tests) whose
 * 2-norm is `norm2`: partial sums of zero-mean terms stay within ~norm2, each addition rounds by at
 * most u times that, and ~len such errors add like a random walk: ~u·√len·norm2 (the √n growth of
 * fp32 summation error; a tree or 64 interleaved partial sums only do better). Factor 4 is headroom.
 * Observed errors: at most 0.25 of this atol (row_dots 100x11520), under 0.03 for the 1e5 and 1e7
 * reductions; yet up to n = 1e5 (atol 0.024 there) one missing or doubled term of size ~1 exceeds it,
 * and a POISON term exceeds it at every size.
 * rtol 1e-6 covers the plain rounding of results that do not cancel.
 */
function sumTol(len: number, norm2: number): Tolerance {
  return { atol: 4 * U * Math.sqrt(Math.max(len, 1)) * norm2, rtol: 1e-6 };
}

function norm2(values: Iterable<number>): number {
  let s = 0;
  for (const v of values) s += v * v;
  return Math.sqrt(s);
}

/**
 * Uploads `data` at IN_OFFSET bytes into a buffer padded with POISON on both sides. The binding runs
 * on through the trailing padding: reads past the data then see POISON, where a binding of exactly the
 * data would hide them (WebGPU's robust access turns out-of-binding reads into in-range values or 0).
 */
function uploadAtOffset(gpu: Gpu, label: string, data: Float32Array): BufferRef {
  const pad = IN_OFFSET / 4;
  const all = new Float32Array(pad + data.length + pad).fill(POISON);
  all.set(data, pad);
  return { buffer: gpu.upload(label, all), offset: IN_OFFSET, size: (data.length + pad) * 4 };
}

function outputWithGuard(gpu: Gpu, label: string, n: number, initial = 0): GPUBuffer {
  const a = new Float32Array(n + 1).fill(initial);
  a[n] = GUARD;
  return gpu.upload(label, a);
}

function products(a: Float32Array, b: Float32Array): number[] {
  return Array.from(a, (v, i) => v * b[i]);
}

describe('reduce_sum', () => {
  for (const n of [0, 1, 7, 33, 100, 257, 1000, 100_003, 10_000_019]) {
    it(`n=${n}`, async () => {
      const gpu = await testGpu();
      const x = new Rng(n + 1).normals(n);
      const bx = uploadAtOffset(gpu, 'x', x);
      const out = outputWithGuard(gpu, 'out', 1, -7);
      runDispatches(gpu, [(await ReduceSum.create(gpu)).plan(bx, out, n)]);
      const got = await gpu.readF32(out, 2);
      expectClose([got[0]], [sumRef(x)], sumTol(n, norm2(x)), `sum n=${n}`);
      expect(got[1]).toBe(GUARD);
    });
  }

  it('accumulate adds to out[0]', async () => {
    const gpu = await testGpu();
    const n = 1000;
    const x = new Rng(3).normals(n);
    const bx = gpu.upload('x', x);
    const out = outputWithGuard(gpu, 'out', 1, 2.5);
    const sum = await ReduceSum.create(gpu, { accumulate: true });
    runDispatches(gpu, [sum.plan(bx, out, n), sum.plan(bx, out, n, 'again')]);
    const got = await gpu.readF32(out, 2);
    expectClose([got[0]], [2.5 + 2 * sumRef(x)], sumTol(2 * n, norm2(x) * Math.SQRT2), 'accumulated sum');
    expect(got[1]).toBe(GUARD);
  });
});

describe('dot', () => {
  for (const n of [0, 1, 7, 33, 100, 257, 1000, 100_003]) {
    it(`n=${n}`, async () => {
      const gpu = await testGpu();
      const rng = new Rng(n + 2);
      const x = rng.normals(n);
      const y = rng.normals(n);
      const out = outputWithGuard(gpu, 'out', 1, -7);
      runDispatches(gpu, [(await Dot.create(gpu)).plan(uploadAtOffset(gpu, 'x', x), uploadAtOffset(gpu, 'y', y), out, n)]);
      const got = await gpu.readF32(out, 2);
      expectClose([got[0]], [dotRef(x, y)], sumTol(n, norm2(products(x, y))), `dot n=${n}`);
      expect(got[1]).toBe(GUARD);
    });
  }

  it('accumulate, and x aliased with y (a squared norm)', async () => {
    const gpu = await testGpu();
    const n = 257;
    const x = new Rng(4).normals(n);
    const bx = gpu.upload('x', x);
    const out = outputWithGuard(gpu, 'out', 1, -1);
    runDispatches(gpu, [(await Dot.create(gpu, { accumulate: true })).plan(bx, bx, out, n)]);
    const got = await gpu.readF32(out, 2);
    expectClose([got[0]], [-1 + dotRef(x, x)], sumTol(n, norm2(products(x, x))), 'accumulated squared norm');
    expect(got[1]).toBe(GUARD);
  });
});

const SHAPES: [rows: number, cols: number][] = [
  [1, 1],
  [7, 33],
  [100, 10],
  [33, 257],
  [100, 11520],
];

describe('column_sums', () => {
  for (const [rows, cols] of SHAPES) {
    for (const weighted of [false, true]) {
      for (const accumulate of [false, true]) {
        it(`${rows}x${cols} ${weighted ? 'weighted' : 'unweighted'}${accumulate ? ' accumulate' : ''}`, async () => {
          const gpu = await testGpu();
          const rng = new Rng(rows * 7919 + cols);
          const x = rng.normals(rows * cols);
          // Example weights in [0, 2) with every third one exactly zero, as after reweighting.
          const w = weighted ? new Float32Array(rows).map((_, r) => (r % 3 === 1 ? 0 : 2 * rng.next())) : undefined;
          const initial = accumulate ? rng.normals(cols) : new Float32Array(cols).fill(-7);
          const outInit = new Float32Array(cols + 1);
          outInit.set(initial);
          outInit[cols] = GUARD;
          const out = gpu.upload('out', outInit);
          const kernel = await ColumnSums.create(gpu, { rowWeights: weighted, accumulate });
          runDispatches(gpu, [kernel.plan(uploadAtOffset(gpu, 'x', x), out, rows, cols, w && uploadAtOffset(gpu, 'w', w))]);
          const got = await gpu.readF32(out, cols + 1);
          const ref = columnSumsRef(x, rows, cols, w);
          if (accumulate) for (let c = 0; c < cols; c++) ref[c] += initial[c];
          // Terms w[r]·x[r, c]: |w| < 2 and x ~ N(0, 1), so each column's term norm is below 2√rows.
          expectClose(got.subarray(0, cols), ref, sumTol(rows + 1, 2 * Math.sqrt(rows) + 4), `column sums ${rows}x${cols}`);
          expect(got[cols]).toBe(GUARD);
        });
      }
    }
  }

  it('plan rejects weights that do not match the variant', async () => {
    const gpu = await testGpu();
    const b = gpu.buffer('b', 64);
    await expect((async () => (await ColumnSums.create(gpu)).plan(b, b, 1, 1, b))()).rejects.toThrow(/rowWeights/);
    await expect((async () => (await ColumnSums.create(gpu, { rowWeights: true })).plan(b, b, 1, 1))()).rejects.toThrow(/rowWeights/);
  });
});

describe('row_dots', () => {
  for (const [rows, cols] of SHAPES) {
    for (const accumulate of [false, true]) {
      it(`${rows}x${cols}${accumulate ? ' accumulate' : ''}`, async () => {
        const gpu = await testGpu();
        const rng = new Rng(rows * 31 + cols);
        const a = rng.normals(rows * cols);
        const b = rng.normals(rows * cols);
        const initial = accumulate ? rng.normals(rows) : new Float32Array(rows).fill(-7);
        const outInit = new Float32Array(rows + 1);
        outInit.set(initial);
        outInit[rows] = GUARD;
        const out = gpu.upload('out', outInit);
        const kernel = await RowDots.create(gpu, { accumulate });
        runDispatches(gpu, [kernel.plan(uploadAtOffset(gpu, 'a', a), uploadAtOffset(gpu, 'b', b), out, rows, cols)]);
        const got = await gpu.readF32(out, rows + 1);
        const ref = rowDotsRef(a, b, rows, cols);
        if (accumulate) for (let r = 0; r < rows; r++) ref[r] += initial[r];
        let worstRowNorm = 0;
        for (let r = 0; r < rows; r++) {
          worstRowNorm = Math.max(worstRowNorm, norm2(products(a.subarray(r * cols, (r + 1) * cols), b.subarray(r * cols, (r + 1) * cols))));
        }
        expectClose(got.subarray(0, rows), ref, sumTol(cols + 1, worstRowNorm + 4), `row dots ${rows}x${cols}`);
        expect(got[rows]).toBe(GUARD);
      });
    }
  }
});

describe('row_argmax', () => {
  for (const [rows, cols] of SHAPES) {
    it(`${rows}x${cols} with ties`, async () => {
      const gpu = await testGpu();
      const rng = new Rng(rows + 13 * cols);
      // Small integers, so most rows hold their maximum more than once: the first one must win.
      const x = new Float32Array(rows * cols).map(() => rng.int(6) - 3);
      const out = gpu.upload('out', new Uint32Array(rows + 1).fill(GUARD));
      runDispatches(gpu, [(await RowArgmax.create(gpu)).plan(uploadAtOffset(gpu, 'x', x), out, rows, cols)]);
      const got = await gpu.readU32(out, rows + 1);
      expect(Array.from(got.subarray(0, rows))).toEqual(Array.from(rowArgmaxRef(x, rows, cols)));
      expect(got[rows]).toBe(GUARD);
    });
  }

  it('continuous values and -Infinity rows', async () => {
    const gpu = await testGpu();
    const rows = 257;
    const cols = 10;
    const x = new Rng(5).normals(rows * cols, 50);
    x.fill(-Infinity, 0, cols);
    const out = gpu.upload('out', new Uint32Array(rows + 1).fill(GUARD));
    runDispatches(gpu, [(await RowArgmax.create(gpu)).plan(gpu.upload('x', x), out, rows, cols)]);
    const got = await gpu.readU32(out, rows + 1);
    expect(Array.from(got.subarray(0, rows))).toEqual(Array.from(rowArgmaxRef(x, rows, cols)));
    expect(got[0]).toBe(0);
    expect(got[rows]).toBe(GUARD);
  });
});
