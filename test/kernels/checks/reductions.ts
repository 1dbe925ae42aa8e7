// Reductions the engine uses: column_sums (weighted bias gradients) and row_dots (alignments), with
// inputs bound at an offset inside poisoned buffers, against float64 references.
import { isCpuAdapter, type BufferRef } from '../../../src/gpu/gpu';
import { ColumnSums } from '../../../src/kernels/column_sums';
import { runDispatches } from '../../../src/kernels/kernel';
import { chooseRowDotsVariant, measureRowDots, RowDots, ROW_DOTS_VARIANTS } from '../../../src/kernels/row_dots';
import { Rng } from '../../../src/util/rng';
import type { Tolerance } from '../../helpers/compare';
import { columnSumsRef, rowDotsRef } from '../../reference/reductions';
import { assert, assertClose, assertMeasurement, assertRejects, assertSame, gpuCheck, type CheckGroup, type KernelCheck, type Scratch } from './check';

const U = 2 ** -24; // fp32 unit roundoff
const GUARD = 42;
// Inputs are bound at this byte offset inside a larger buffer whose other elements hold POISON, so a
// kernel that assumes its binding starts at element 0, or reads past n, picks up a huge value.
const IN_OFFSET = 256;
const POISON = 1e6;

/**
 * Tolerance for sums of `len` terms (each a float32 value or product, zero-mean in these tests) whose
 * 2-norm is `norm2`: partial sums of zero-mean terms stay within ~norm2, each addition rounds by at
 * most u times that, and ~len such errors add like a random walk: ~u·√len·norm2 (the √n growth of
 * fp32 summation error; a tree or 64 interleaved partial sums only do better). Factor 4 is headroom.
 * Observed errors: at most 0.25 of this atol (row_dots 100x11520), and one missing or doubled term of
 * size ~1 exceeds it at these sizes, a POISON term at every size.
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
function uploadAtOffset(s: Scratch, label: string, data: Float32Array): BufferRef {
  const pad = IN_OFFSET / 4;
  const all = new Float32Array(pad + data.length + pad).fill(POISON);
  all.set(data, pad);
  return { buffer: s.upload(label, all), offset: IN_OFFSET, size: (data.length + pad) * 4 };
}

function products(a: Float32Array, b: Float32Array): number[] {
  return Array.from(a, (v, i) => v * b[i]);
}

const SHAPES: [rows: number, cols: number][] = [
  [1, 1],
  [7, 33],
  [100, 10],
  [33, 257],
  [100, 11520],
];

const columnSumsChecks: KernelCheck[] = [];
for (const [rows, cols] of SHAPES) {
  for (const weighted of [false, true]) {
    for (const accumulate of [false, true]) {
      columnSumsChecks.push(
        gpuCheck(`column_sums ${rows}x${cols} ${weighted ? 'weighted' : 'unweighted'}${accumulate ? ' accumulate' : ''}`, async (gpu, s) => {
          const rng = new Rng(rows * 7919 + cols);
          const x = rng.normals(rows * cols);
          // Example weights in [0, 2) with every third one exactly zero, as after reweighting.
          const w = weighted ? new Float32Array(rows).map((_, r) => (r % 3 === 1 ? 0 : 2 * rng.next())) : undefined;
          const initial = accumulate ? rng.normals(cols) : new Float32Array(cols).fill(-7);
          const outInit = new Float32Array(cols + 1);
          outInit.set(initial);
          outInit[cols] = GUARD;
          const out = s.upload('out', outInit);
          const kernel = await ColumnSums.create(gpu, { rowWeights: weighted, accumulate });
          runDispatches(gpu, [kernel.plan(uploadAtOffset(s, 'x', x), out, rows, cols, w && uploadAtOffset(s, 'w', w))]);
          const got = await gpu.readF32(out, cols + 1);
          const ref = columnSumsRef(x, rows, cols, w);
          if (accumulate) for (let c = 0; c < cols; c++) ref[c] += initial[c];
          // Terms w[r]·x[r, c]: |w| < 2 and x ~ N(0, 1), so each column's term norm is below 2√rows.
          assertClose(got.subarray(0, cols), ref, sumTol(rows + 1, 2 * Math.sqrt(rows) + 4), `column sums ${rows}x${cols}`);
          assertSame(got[cols], GUARD, 'guard');
        }),
      );
    }
  }
}

const rowDotsChecks: KernelCheck[] = [];
for (const [rows, cols] of SHAPES) {
  for (const accumulate of [false, true]) for (const variant of ROW_DOTS_VARIANTS) {
    rowDotsChecks.push(
      gpuCheck(`row_dots (${variant}) ${rows}x${cols}${accumulate ? ' accumulate' : ''}`, async (gpu, s) => {
        const rng = new Rng(rows * 31 + cols);
        const a = rng.normals(rows * cols);
        const b = rng.normals(rows * cols);
        const initial = accumulate ? rng.normals(rows) : new Float32Array(rows).fill(-7);
        const outInit = new Float32Array(rows + 1);
        outInit.set(initial);
        outInit[rows] = GUARD;
        const out = s.upload('out', outInit);
        const kernel = await RowDots.create(gpu, { accumulate, variant });
        assertSame(kernel.variant, variant, 'the forced variant');
        runDispatches(gpu, [kernel.plan(uploadAtOffset(s, 'a', a), uploadAtOffset(s, 'b', b), out, rows, cols)]);
        const got = await gpu.readF32(out, rows + 1);
        const ref = rowDotsRef(a, b, rows, cols);
        if (accumulate) for (let r = 0; r < rows; r++) ref[r] += initial[r];
        let worstRowNorm = 0;
        for (let r = 0; r < rows; r++) {
          worstRowNorm = Math.max(worstRowNorm, norm2(products(a.subarray(r * cols, (r + 1) * cols), b.subarray(r * cols, (r + 1) * cols))));
        }
        assertClose(got.subarray(0, rows), ref, sumTol(cols + 1, worstRowNorm + 4), `row dots ${rows}x${cols}`);
        assertSame(got[rows], GUARD, 'guard');
      }),
    );
  }
}

export const reductionsChecks: CheckGroup = {
  group: 'reductions',
  checks: [
    ...columnSumsChecks,
    gpuCheck('column_sums plan rejects weights that do not match the variant', async (gpu, s) => {
      const b = s.buffer('b', 64);
      await assertRejects(async () => (await ColumnSums.create(gpu)).plan(b, b, 1, 1, b), /rowWeights/, 'weights for the unweighted variant');
      await assertRejects(async () => (await ColumnSums.create(gpu, { rowWeights: true })).plan(b, b, 1, 1), /rowWeights/, 'no weights for the weighted variant');
    }),
    ...rowDotsChecks,
    gpuCheck('row_dots: the measurement times both forms, names the fastest and frees its buffers; a CPU driver keeps row unmeasured', async (gpu) => {
      await assertMeasurement(gpu, () => measureRowDots(gpu), ROW_DOTS_VARIANTS);
      const chosen = await chooseRowDotsVariant(gpu);
      if (isCpuAdapter(gpu.adapter)) assertSame(chosen, 'row', 'the form on a CPU driver');
      else assert(ROW_DOTS_VARIANTS.includes(chosen), 'a form', chosen);
    }),
  ],
};
