import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu';
import { runDispatches } from '../../src/kernels/kernel';
import { MATMUL_TILING, Matmul, type MatmulOptions } from '../../src/kernels/matmul';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';
import { compareClose } from '../helpers/compare';
import { matmulRef } from '../reference/matmul';

type Shape = { m: number; n: number; k: number };

const SHAPES: Shape[] = [
  { m: 1, n: 1, k: 1 },
  { m: 7, n: 33, k: 100 },
  { m: 33, n: 7, k: 257 },
  { m: 100, n: 257, k: 33 },
  { m: 64, n: 64, k: 64 },
  { m: 65, n: 63, k: 129 },
  { m: 37, n: 45, k: 1 },
  // One invocation's block plus a row and a column: the last block holds a single valid element.
  { m: MATMUL_TILING.blockM + 1, n: MATMUL_TILING.blockN + 1, k: 17 },
  // A row of blocks one column wider than a workgroup's span: the second row starts mid-workgroup.
  { m: 2 * MATMUL_TILING.blockM + 3, n: MATMUL_TILING.workgroup * MATMUL_TILING.blockN + 1, k: 5 },
];

const EPILOGUES = ['none', 'bias', 'bias_relu'] as const;
const GUARD = 1234.5;

// fp32 sum of k products of N(0,1)-sized values: rounding error grows like sqrt(k) * 2^-24 times the
// size of the partial sums (cancellation leaves results ~sqrt(k), far below the sum of |terms|), so
// atol = 4 * sqrt(k) * max|a| * max|b| * max|s| * 2^-23; the worst element over all cases here uses
// under a tenth of it. rtol covers the bias add and the final rounding of large results.
function tolerance(k: number, maxTerm: number) {
  return { atol: 4 * Math.sqrt(k) * maxTerm * 2 ** -23, rtol: 1e-5 };
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

interface Case {
  opts: MatmulOptions;
  shape: Shape;
  seed: number;
}

/** Uploads random inputs, runs one product and returns got vs reference (C read with its guard). */
async function runCase(gpu: Gpu, mm: Matmul, { opts, shape, seed }: Case) {
  const { m, n, k } = shape;
  const rng = new Rng(seed);
  const a = rng.normals(m * k);
  const b = rng.normals(k * n);
  const bias = rng.normals(n);
  const kscale = new Float32Array(k).map(() => rng.uniform(0, 2));
  const usesBias = (opts.epilogue ?? 'none') !== 'none';
  const cInit = new Float32Array(m * n + 1).fill(-77);
  cInit[m * n] = GUARD;
  const ba = gpu.upload('a', a);
  const bb = gpu.upload('b', b);
  const bc = gpu.upload('c', cInit);
  const bbias = usesBias ? gpu.upload('bias', bias) : undefined;
  const bscale = opts.kScale ? gpu.upload('kscale', kscale) : undefined;
  runDispatches(gpu, [mm.plan(ba, bb, bc, shape, { bias: bbias, kscale: bscale })]);
  const got = await gpu.readF32(bc, m * n + 1);
  for (const buf of [ba, bb, bc, bbias, bscale]) if (buf) gpu.destroy(buf);
  const ref = matmulRef(a, b, shape, {
    transA: opts.transA,
    transB: opts.transB,
    bias: usesBias ? bias : undefined,
    relu: opts.epilogue === 'bias_relu',
    kscale: opts.kScale ? kscale : undefined,
  });
  const tol = tolerance(k, maxAbs(a) * maxAbs(b) * (opts.kScale ? maxAbs(kscale) : 1));
  return { got, ref, tol };
}

function describeOpts(o: MatmulOptions): string {
  return `tA=${+!!o.transA} tB=${+!!o.transB} ${o.epilogue ?? 'none'}${o.kScale ? ' kScale' : ''}`;
}

// Every transpose x epilogue pair, with and without kScale where B is not transposed (the layouts of
// the weighted weight gradient dyᵀ·diag(w)·x). Each variant is a pipeline that lavapipe compiles on
// first use (~1 s), which is what bounds this list.
const VARIANTS: MatmulOptions[] = [];
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    for (const epilogue of EPILOGUES) {
      for (const kScale of transB ? [false] : [false, true]) VARIANTS.push({ transA, transB, epilogue, kScale });
    }
  }
}

describe('matmul', () => {
  VARIANTS.forEach((opts, vi) => {
    it(describeOpts(opts), async () => {
      const gpu = await testGpu();
      const mm = await Matmul.create(gpu, opts);
      for (const [si, shape] of SHAPES.entries()) {
        const { got, ref, tol } = await runCase(gpu, mm, { opts, shape, seed: 1000 * vi + si });
        const { m, n, k } = shape;
        const r = compareClose(got.subarray(0, m * n), ref, tol);
        expect(r.ok, `${describeOpts(opts)} ${m}x${n}x${k}: ${r.message}`).toBe(true);
        expect(got[m * n], `guard after C (${m}x${n}x${k})`).toBe(GUARD);
      }
    });
  });

  it('bias_relu clamps negative sums to exactly zero and keeps positive ones', async () => {
    const gpu = await testGpu();
    const mm = await Matmul.create(gpu, { epilogue: 'bias_relu' });
    const shape = { m: 40, n: 50, k: 30 };
    const { got, ref } = await runCase(gpu, mm, { opts: { epilogue: 'bias_relu' }, shape, seed: 7 });
    let zeros = 0;
    for (let i = 0; i < ref.length; i++) {
      if (ref[i] === 0) {
        expect(got[i]).toBe(0);
        zeros++;
      } else expect(got[i]).toBeGreaterThan(0);
    }
    // Random signs: roughly half the outputs are clamped, so both branches were exercised.
    expect(zeros).toBeGreaterThan(ref.length / 4);
    expect(zeros).toBeLessThan((3 * ref.length) / 4);
  });

  it('reads and writes bindings at a 256-byte offset inside larger buffers', async () => {
    const gpu = await testGpu();
    const opts: MatmulOptions = { transA: true, epilogue: 'bias', kScale: true };
    const mm = await Matmul.create(gpu, opts);
    const shape = { m: 19, n: 23, k: 29 };
    const { m, n, k } = shape;
    const rng = new Rng(99);
    const a = rng.normals(m * k);
    const b = rng.normals(k * n);
    const bias = rng.normals(n);
    const kscale = new Float32Array(k).map(() => rng.uniform(0, 2));
    const OFF = 256;
    const pad = OFF / 4;
    // NaN around each operand: reading outside its range would poison the result.
    const embed = (label: string, data: Float32Array, fill = NaN) => {
      const whole = new Float32Array(pad + data.length + 37).fill(fill);
      whole.set(data, pad);
      const buffer = gpu.upload(label, whole);
      return { buffer, offset: OFF, size: data.byteLength };
    };
    const ra = embed('a', a);
    const rb = embed('b', b);
    const rbias = embed('bias', bias);
    const rscale = embed('kscale', kscale);
    const rc = embed('c', new Float32Array(m * n), GUARD);
    runDispatches(gpu, [mm.plan(ra, rb, rc, shape, { bias: rbias, kscale: rscale }, 'offset')]);
    const whole = await gpu.readF32(rc.buffer);
    const ref = matmulRef(a, b, shape, { transA: true, bias, kscale });
    const r = compareClose(whole.subarray(pad, pad + m * n), ref, tolerance(k, maxAbs(a) * maxAbs(b) * 2));
    expect(r.ok, r.message).toBe(true);
    for (let i = 0; i < pad; i++) expect(whole[i]).toBe(GUARD);
    for (let i = pad + m * n; i < pad + m * n + 37; i++) expect(whole[i]).toBe(GUARD);
    for (const ref of [ra, rb, rbias, rscale, rc]) gpu.destroy(ref.buffer);
  });

  it('one planned dispatch can be recorded again after its inputs change', async () => {
    const gpu = await testGpu();
    const mm = await Matmul.create(gpu, { transB: true });
    const shape = { m: 9, n: 11, k: 13 };
    const rng = new Rng(5);
    const a = rng.normals(shape.m * shape.k);
    const b1 = rng.normals(shape.k * shape.n);
    const b2 = rng.normals(shape.k * shape.n);
    const ba = gpu.upload('a', a);
    const bb = gpu.upload('b', b1);
    const bc = gpu.buffer('c', shape.m * shape.n * 4);
    const d = mm.plan(ba, bb, bc, shape);
    const tol = tolerance(shape.k, maxAbs(a) * Math.max(maxAbs(b1), maxAbs(b2)));
    runDispatches(gpu, [d]);
    expect(compareClose(await gpu.readF32(bc, shape.m * shape.n), matmulRef(a, b1, shape, { transB: true }), tol).ok).toBe(true);
    gpu.write(bb, b2);
    runDispatches(gpu, [d]);
    expect(compareClose(await gpu.readF32(bc, shape.m * shape.n), matmulRef(a, b2, shape, { transB: true }), tol).ok).toBe(true);
    for (const buf of [ba, bb, bc]) gpu.destroy(buf);
  });

  it('plan() rejects missing or unexpected extras, bad shapes and short buffers', async () => {
    const gpu = await testGpu();
    const plain = await Matmul.create(gpu);
    const biased = await Matmul.create(gpu, { epilogue: 'bias_relu' });
    const scaled = await Matmul.create(gpu, { kScale: true });
    const buf = gpu.buffer('x', 4096);
    const small = gpu.buffer('small', 16);
    const shape = { m: 4, n: 4, k: 4 };
    expect(() => biased.plan(buf, buf, buf, shape)).toThrow(/needs a bias/);
    expect(() => plain.plan(buf, buf, buf, shape, { bias: buf })).toThrow(/epilogue is 'none'/);
    expect(() => scaled.plan(buf, buf, buf, shape)).toThrow(/kScale needs/);
    expect(() => plain.plan(buf, buf, buf, shape, { kscale: buf })).toThrow(/without kScale/);
    for (const bad of [0, -3, 2.5, NaN]) {
      expect(() => plain.plan(buf, buf, buf, { ...shape, k: bad })).toThrow(/k must be a positive integer/);
    }
    expect(() => plain.plan(buf, small, buf, { m: 4, n: 4, k: 4 })).toThrow(/b holds 16 bytes .* needs 64/);
    expect(() => plain.plan(buf, buf, { buffer: buf, offset: 128 }, shape)).toThrow(/offset 128/);
    expect(() => biased.plan(buf, buf, buf, { m: 4, n: 8, k: 4 }, { bias: small })).toThrow(/bias holds 16 bytes/);
    gpu.destroy(buf);
    gpu.destroy(small);
  });
});
