// matmul: every transpose x epilogue (x kScale) configuration of today's form on shapes that exercise
// partial edge blocks; the other forms (MATMUL_VARIANTS: written-out register block, workgroup tiles
// with and without vec4 loads) forced on every transpose pair, epilogue and kScale over the same kind
// of shapes sized to their own blocks; the ReLU clamp, bindings at offsets, re-recording a planned
// dispatch, plan()'s argument checks, and the variant choice (override, cache, measurement).
import type { Gpu } from '../../../src/gpu/gpu';
import { runDispatches } from '../../../src/kernels/kernel';
import { MATMUL_FORMS, MATMUL_TILING, matmulCandidates, matmulVariantTiling, MATMUL_VARIANTS, measureMatmul, Matmul, type MatmulOptions, type MatmulVariant } from '../../../src/kernels/matmul';
import { tiledVec4Fits } from '../../../src/kernels/wgsl_template';
import { KernelChoices, memoryChoiceStore, parseKernelOverrides, type Measurement } from '../../../src/gpu/kernel_choices';
import { Rng } from '../../../src/util/rng';
import { matmulRef } from '../../reference/matmul';
import { assert, assertClose, assertEqual, assertMeasurement, assertRejects, assertSame, assertThrows, formRunsHere, gpuCheck, maxAbs, type CheckGroup, type KernelCheck, type Scratch } from './check';

type Shape = { m: number; n: number; k: number };

const COMMON_SHAPES: Shape[] = [
  { m: 1, n: 1, k: 1 },
  { m: 7, n: 33, k: 100 },
  { m: 33, n: 7, k: 257 },
  { m: 100, n: 257, k: 33 },
  { m: 64, n: 64, k: 64 },
  { m: 65, n: 63, k: 129 },
  { m: 37, n: 45, k: 1 },
];

/** The common shapes, then the edge cases of a form's own blocking. */
function shapesFor(variant: MatmulVariant, gpu: Gpu): Shape[] {
  const t = matmulVariantTiling(variant, gpu.subgroupSize ?? 1);
  if (variant === 'tiled') {
    return [
      ...COMMON_SHAPES,
      // Every operand run a multiple of 4 in every layout (the vec4 flavour), with partial tiles in m,
      // n and k; then one run short of 4 (the scalar flavour) in each dimension.
      { m: t.blockM + 4, n: 2 * t.blockN + 8, k: 36 },
      { m: 4, n: 4, k: 4 },
      { m: 3 * t.blockM - 4, n: 12, k: 100 },
      { m: t.blockM + 3, n: t.blockN + 8, k: 20 },
      { m: 8, n: 12, k: 17 },
    ];
  }
  return [
    ...COMMON_SHAPES,
    // One invocation's block plus a row and a column: the last block holds a single valid element.
    { m: t.blockM + 1, n: t.blockN + 1, k: 17 },
    // A row of blocks one column wider than a workgroup's span: the second row starts mid-workgroup.
    { m: 2 * t.blockM + 3, n: t.workgroup * t.blockN + 1, k: 5 },
  ];
}

const EPILOGUES = ['none', 'bias', 'bias_relu'] as const;
const GUARD = 1234.5;

// fp32 sum of k products of N(0,1)-sized values: rounding error grows like sqrt(k) * 2^-24 times the
// size of the partial sums (cancellation leaves results ~sqrt(k), far below the sum of |terms|), so
// atol = 4 * sqrt(k) * max|a| * max|b| * max|s| * 2^-23; the worst element over all cases here uses
// under a tenth of it. rtol covers the bias add and the final rounding of large results.
function tolerance(k: number, maxTerm: number) {
  return { atol: 4 * Math.sqrt(k) * maxTerm * 2 ** -23, rtol: 1e-5 };
}

interface Case {
  opts: MatmulOptions;
  shape: Shape;
  seed: number;
}

/** Uploads random inputs, runs one product and returns got vs reference (C read with its guard). */
async function runCase(gpu: Gpu, s: Scratch, mm: Matmul, { opts, shape, seed }: Case) {
  const { m, n, k } = shape;
  const rng = new Rng(seed);
  const a = rng.normals(m * k);
  const b = rng.normals(k * n);
  const bias = rng.normals(n);
  const kscale = new Float32Array(k).map(() => rng.uniform(0, 2));
  const usesBias = (opts.epilogue ?? 'none') !== 'none';
  const cInit = new Float32Array(m * n + 1).fill(-77);
  cInit[m * n] = GUARD;
  const ba = s.upload('a', a);
  const bb = s.upload('b', b);
  const bc = s.upload('c', cInit);
  const bbias = usesBias ? s.upload('bias', bias) : undefined;
  const bscale = opts.kScale ? s.upload('kscale', kscale) : undefined;
  const dispatch = mm.plan(ba, bb, bc, shape, { bias: bbias, kscale: bscale });
  runDispatches(gpu, [dispatch]);
  const got = await gpu.readF32(bc, m * n + 1);
  dispatch.destroy(); // its uniform buffer
  s.release(); // this case's buffers (the check's scratch holds nothing else at this point)
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
  return `${o.variant && o.variant !== 'blocked' ? `${o.variant} ` : ''}tA=${+!!o.transA} tB=${+!!o.transB} ${o.epilogue ?? 'none'}${o.kScale ? ' kScale' : ''}`;
}

// Every transpose x epilogue pair, with and without kScale where B is not transposed (the layouts of
// the weighted weight gradient dyᵀ·diag(w)·x). Each variant is a pipeline that lavapipe compiles on
// first use (~1 s), which is what bounds this list.
const VARIANTS: MatmulOptions[] = [];
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    for (const epilogue of EPILOGUES) {
      for (const kScale of transB ? [false] : [false, true]) VARIANTS.push({ transA, transB, epilogue, kScale, variant: 'blocked' });
    }
  }
}
// The other forms: each transpose pair, each epilogue, kScale in both layouts of B (the tiled form
// scales B's tile as it loads it, along k in one layout and across a run in the other).
const OTHER_FORM_CONFIGS: MatmulOptions[] = [
  { transA: false, transB: false, epilogue: 'bias_relu' },
  { transA: false, transB: true, epilogue: 'bias', kScale: true },
  { transA: true, transB: false, kScale: true },
  { transA: false, transB: false, kScale: true },
  { transA: true, transB: false, epilogue: 'bias' },
  { transA: true, transB: true, epilogue: 'bias_relu' },
];
for (const variant of MATMUL_VARIANTS) {
  if (variant !== 'blocked') for (const c of OTHER_FORM_CONFIGS) VARIANTS.push({ ...c, variant });
}

/**
 * SwiftShader takes 5-10 s of CPU to compile each tiled pipeline (two per Matmul: the vec4 and the
 * scalar-load flavour), so the browser runs the first three tiled configurations, which take every
 * load path (A and Aᵀ, B and Bᵀ, kscale along k and across a run) and every epilogue between them.
 */
function nodeOnlyReason(opts: MatmulOptions): string | undefined {
  if (opts.variant !== 'tiled') return undefined;
  const i = OTHER_FORM_CONFIGS.findIndex((c) => c.transA === opts.transA && c.transB === opts.transB && c.epilogue === opts.epilogue && c.kScale === opts.kScale);
  return i >= 3 ? 'tiled form: SwiftShader compiles each pipeline in 5-10 s; the first three tiled configurations cover its load paths there' : undefined;
}

/** Whether the matmul form runs here (else: that forcing it fails clearly). */
function matmulFormRunsHere(gpu: Gpu, variant: MatmulVariant, opts: MatmulOptions = { variant }): Promise<boolean> {
  return formRunsHere(gpu, MATMUL_FORMS, variant, () => Matmul.create(gpu, opts));
}

const variantChecks: KernelCheck[] = VARIANTS.map((opts, vi) =>
  gpuCheck(describeOpts(opts), async (gpu, s) => {
    if (!(await matmulFormRunsHere(gpu, opts.variant!, opts))) return;
    const mm = await Matmul.create(gpu, opts);
    assertSame(mm.variant, opts.variant, 'the forced variant');
    const shapes = shapesFor(opts.variant!, gpu);
    if (opts.variant === 'tiled') {
      const vec4 = shapes.filter((sh) => tiledVec4Fits(sh, !!opts.transA, !!opts.transB)).length;
      assert(vec4 > 0 && vec4 < shapes.length, 'tiled shapes', `${vec4} of ${shapes.length} take the vec4 flavour; both flavours must run`);
    }
    for (const [si, shape] of shapes.entries()) {
      const { got, ref, tol } = await runCase(gpu, s, mm, { opts, shape, seed: 1000 * vi + si });
      const { m, n, k } = shape;
      assertClose(got.subarray(0, m * n), ref, tol, `${describeOpts(opts)} ${m}x${n}x${k}`);
      assertSame(got[m * n], GUARD, `guard after C (${m}x${n}x${k})`);
    }
  }, nodeOnlyReason(opts)),
);

async function checkClamp(gpu: Gpu, s: Scratch, variant: MatmulVariant): Promise<void> {
  const opts: MatmulOptions = { epilogue: 'bias_relu', variant };
  const mm = await Matmul.create(gpu, opts);
  const shape = { m: 40, n: 50, k: 30 };
  const { got, ref } = await runCase(gpu, s, mm, { opts, shape, seed: 7 });
  let zeros = 0;
  for (let i = 0; i < ref.length; i++) {
    if (ref[i] === 0) {
      assertSame(got[i], 0, `${variant}: element ${i} (reference clamped to 0)`);
      zeros++;
    } else assert(got[i] > 0, `${variant}: element ${i} (reference ${ref[i]} > 0)`, `got ${got[i]}, expected > 0`);
  }
  // Random signs: roughly half the outputs are clamped, so both branches were exercised.
  assert(zeros > ref.length / 4, 'clamped outputs', `${zeros} of ${ref.length}, expected more than a quarter`);
  assert(zeros < (3 * ref.length) / 4, 'clamped outputs', `${zeros} of ${ref.length}, expected fewer than three quarters`);
}

async function checkOffsets(gpu: Gpu, s: Scratch, variant: MatmulVariant, shape: Shape): Promise<void> {
  const opts: MatmulOptions = { transA: true, epilogue: 'bias', kScale: true, variant };
  const mm = await Matmul.create(gpu, opts);
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
    const buffer = s.upload(label, whole);
    return { buffer, offset: OFF, size: data.byteLength };
  };
  const ra = embed('a', a);
  const rb = embed('b', b);
  const rbias = embed('bias', bias);
  const rscale = embed('kscale', kscale);
  const rc = embed('c', new Float32Array(m * n), GUARD);
  const dispatch = mm.plan(ra, rb, rc, shape, { bias: rbias, kscale: rscale }, 'offset');
  runDispatches(gpu, [dispatch]);
  const whole = await gpu.readF32(rc.buffer);
  dispatch.destroy();
  s.release();
  const ref = matmulRef(a, b, shape, { transA: true, bias, kscale });
  const where = `${variant} ${m}x${n}x${k}`;
  assertClose(whole.subarray(pad, pad + m * n), ref, tolerance(k, maxAbs(a) * maxAbs(b) * 2), `${where}: C at offset`);
  for (let i = 0; i < pad; i++) assertSame(whole[i], GUARD, `${where}: element ${i} before C`);
  for (let i = pad + m * n; i < pad + m * n + 37; i++) assertSame(whole[i], GUARD, `${where}: element ${i} after C`);
}

export const matmulChecks: CheckGroup = {
  group: 'matmul',
  checks: [
    ...variantChecks,

    gpuCheck('bias_relu clamps negative sums to exactly zero and keeps positive ones (every form)', async (gpu, s) => {
      for (const variant of MATMUL_VARIANTS) if (await matmulFormRunsHere(gpu, variant)) await checkClamp(gpu, s, variant);
    }),

    gpuCheck('reads and writes bindings at a 256-byte offset inside larger buffers (every form)', async (gpu, s) => {
      // 19x23x29 takes the tiled form's scalar-load flavour, 20x24x28 its vec4 one.
      for (const variant of MATMUL_VARIANTS) {
        if (!(await matmulFormRunsHere(gpu, variant))) continue;
        for (const shape of [{ m: 19, n: 23, k: 29 }, { m: 20, n: 24, k: 28 }]) await checkOffsets(gpu, s, variant, shape);
      }
    }),

    gpuCheck('one planned dispatch can be recorded again after its inputs change', async (gpu, s) => {
      const mm = await Matmul.create(gpu, { transB: true, variant: 'blocked' });
      const shape = { m: 9, n: 11, k: 13 };
      const rng = new Rng(5);
      const a = rng.normals(shape.m * shape.k);
      const b1 = rng.normals(shape.k * shape.n);
      const b2 = rng.normals(shape.k * shape.n);
      const ba = s.upload('a', a);
      const bb = s.upload('b', b1);
      const bc = s.buffer('c', shape.m * shape.n * 4);
      const d = mm.plan(ba, bb, bc, shape);
      const tol = tolerance(shape.k, maxAbs(a) * Math.max(maxAbs(b1), maxAbs(b2)));
      runDispatches(gpu, [d]);
      assertClose(await gpu.readF32(bc, shape.m * shape.n), matmulRef(a, b1, shape, { transB: true }), tol, 'first recording');
      gpu.write(bb, b2);
      runDispatches(gpu, [d]);
      assertClose(await gpu.readF32(bc, shape.m * shape.n), matmulRef(a, b2, shape, { transB: true }), tol, 'second recording, new b');
      d.destroy();
    }),

    gpuCheck('plan() rejects missing or unexpected extras, bad shapes and short buffers', async (gpu, s) => {
      const plain = await Matmul.create(gpu, { variant: 'blocked' });
      const biased = await Matmul.create(gpu, { epilogue: 'bias_relu', variant: 'blocked' });
      const scaled = await Matmul.create(gpu, { kScale: true, variant: 'blocked' });
      await assertRejects(() => Matmul.create(gpu, { variant: 'fast' as MatmulVariant }), /unknown variant "fast"/, 'an unknown variant');
      const buf = s.buffer('x', 4096);
      const small = s.buffer('small', 16);
      const shape = { m: 4, n: 4, k: 4 };
      assertThrows(() => biased.plan(buf, buf, buf, shape), /needs a bias/, 'bias_relu without a bias');
      assertThrows(() => plain.plan(buf, buf, buf, shape, { bias: buf }), /epilogue is 'none'/, 'a bias for the plain epilogue');
      assertThrows(() => scaled.plan(buf, buf, buf, shape), /kScale needs/, 'kScale without kscale');
      assertThrows(() => plain.plan(buf, buf, buf, shape, { kscale: buf }), /without kScale/, 'kscale without kScale');
      for (const bad of [0, -3, 2.5, NaN]) {
        assertThrows(() => plain.plan(buf, buf, buf, { ...shape, k: bad }), /k must be a positive integer/, `k = ${bad}`);
      }
      assertThrows(() => plain.plan(buf, small, buf, { m: 4, n: 4, k: 4 }), /b holds 16 bytes .* needs 64/, 'short b');
      assertThrows(() => plain.plan(buf, buf, { buffer: buf, offset: 128 }, shape), /offset 128/, 'c at an unaligned offset');
      assertThrows(() => biased.plan(buf, buf, buf, { m: 4, n: 8, k: 4 }, { bias: small }), /bias holds 16 bytes/, 'short bias');
    }),
  
    gpuCheck('the start-up measurement times every candidate, names the fastest and frees its buffers', async (gpu) => {
      const candidates = matmulCandidates(gpu);
      await assertMeasurement(gpu, () => measureMatmul(gpu, candidates), candidates);
    }),

    {
      name: 'variant choice: override, cached entry, measurement, first entry kept, auto measures again',
      async run() {
        let calls = 0;
        const measured = (variant: string): (() => Promise<Measurement>) => async () => {
          calls++;
          return { variant, shapes: 'test', totalMs: 1, candidates: [{ variant, compileMs: 1, ms: 1 }] };
        };
        const store = memoryChoiceStore();
        const all = ['blocked', 'scalar', 'tiled'];
        const fresh = (overrides = '') => new KernelChoices('adapter', parseKernelOverrides(overrides, 'test'), 'test', store);
        const first = fresh();
        assertSame(await first.choose('matmul', all, ['blocked', 'scalar'], 'src', measured('scalar')), 'scalar', 'measured');
        assertSame(await first.choose('matmul', all, ['blocked', 'scalar'], 'src', measured('blocked')), 'scalar', 'asked again on one Gpu');
        assertSame(calls, 1, 'measurements after two asks');
        assertSame(await fresh().choose('matmul', all, ['blocked', 'scalar'], 'src', measured('blocked')), 'scalar', 'a later Gpu reads the cache');
        assertSame(calls, 1, 'measurements after a cache hit');
        assertSame(await fresh().choose('matmul', all, ['blocked', 'scalar'], 'edited src', measured('blocked')), 'blocked', 'edited sources miss the cache');
        assertSame(await fresh('matmul:tiled').choose('matmul', all, ['blocked', 'scalar'], 'src', measured('blocked')), 'tiled', 'an override may name a non-candidate');
        assertSame(calls, 2, 'measurements after an override');
        assertSame(await fresh('matmul:auto').choose('matmul', all, ['blocked', 'scalar'], 'src', measured('blocked')), 'blocked', 'auto measures again');
        assertSame(await fresh().choose('matmul', all, ['blocked', 'scalar'], 'src', measured('scalar')), 'blocked', 'auto replaced the cached entry');
        await assertRejects(() => fresh('matmul:fast').choose('matmul', all, all, 'src', measured('blocked')), /"matmul:fast" names no variant of matmul/, 'an unknown variant');
        const lines = first.describe().join('\n');
        assert(/matmul: scalar \[measured now; test in/.test(lines), 'describe()', lines);
        assertEqual([...parseKernelOverrides('matmul=scalar, conv2d:auto ,')], [['matmul', 'scalar'], ['conv2d', 'auto']], 'parsed overrides');
        assertThrows(() => parseKernelOverrides('matmul', 'L2RW_KERNELS'), /L2RW_KERNELS: "matmul" is not kernel:variant/, 'a malformed override');
      },
    },
  ],
};
