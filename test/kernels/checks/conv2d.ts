// conv2d: the float64 references against central finite differences, then the forward (every
// epilogue), data, filter and bias-gradient kernels (plain and per-example weighted) against them,
// the written-out forms of the forward and data-gradient kernels on every case, bindings at offsets,
// and the wrappers' argument checks.
import { isCpuAdapter, type Gpu } from '../../../src/gpu/gpu';
import { CONV2D_BACKWARD_DATA_FORMS, Conv2dBackwardData, type Conv2dBackwardDataVariant } from '../../../src/kernels/conv2d_backward_data';
import { chooseConv2dBackwardFilterVariant, Conv2dBackwardFilter, CONV2D_BACKWARD_FILTER_FORMS, CONV2D_BACKWARD_FILTER_VARIANTS, measureConv2dBackwardFilter } from '../../../src/kernels/conv2d_backward_filter';
import { Conv2dBiasGrad } from '../../../src/kernels/conv2d_bias_grad';
import { CONV2D_FORWARD_FORMS, CONV2D_FORWARD_VARIANTS, Conv2dForward, conv2dOutputShape, type Conv2dEpilogue, type Conv2dForwardVariant, type Conv2dShape } from '../../../src/kernels/conv2d_forward';
import { runDispatches } from '../../../src/kernels/kernel';
import { registerBlockConv2dBackwardFilter } from '../../../src/kernels/wgsl_template';
import { Rng } from '../../../src/util/rng';
import type { Tolerance } from '../../helpers/compare';
import {
  conv2dBackwardDataRef,
  conv2dBackwardFilterRef,
  conv2dBiasGradRef,
  conv2dForwardRef,
  conv2dOutRef,
  type Conv2dShapeRef,
} from '../../reference/conv2d';
import { assert, assertClose, assertEqual, assertMeasurement, assertSame, assertThrows, cpuCheck, formRunsHere, gpuCheck, maxAbs, type CheckGroup, type KernelCheck, type Scratch } from './check';
import { formAvailable } from '../../../src/kernels/forms';

// fp32 sums of L products of magnitude <= mag: rounding grows like sqrt(L) * mag * 2^-23 for random
// signs, so atol = 8 sqrt(L) mag 2^-23 covers outputs that cancel towards 0, and rtol 1e-4 covers the
// rest (every case also passes with both terms 10x tighter, dot lengths up to 4032).
function tol(dotLength: number, mag: number): Tolerance {
  return { atol: 8 * Math.sqrt(dotLength) * mag * 2 ** -23, rtol: 1e-4 };
}

const GUARD = 42;
const STALE = -777; // pre-filled into outputs: a kernel that skips or accumulates into an element shows it

/** An output buffer of `count` stale floats followed by one guard element. */
function output(s: Scratch, label: string, count: number): GPUBuffer {
  const init = new Float32Array(count + 1).fill(STALE);
  init[count] = GUARD;
  return s.upload(label, init);
}

async function readGuarded(gpu: Gpu, buf: GPUBuffer, count: number, what: string): Promise<Float32Array> {
  const got = await gpu.readF32(buf, count + 1);
  assertSame(got[count], GUARD, `${what}: guard element past the end was overwritten`);
  return got.subarray(0, count);
}

/** Example weights in [0, 2) with every third one exactly 0. */
function exampleWeights(rng: Rng, N: number): Float32Array {
  const e = new Float32Array(N);
  for (let n = 0; n < N; n++) e[n] = n % 3 === 1 ? 0 : 2 * rng.next();
  return e;
}

interface Case {
  name: string;
  shape: Conv2dShape;
  epilogues?: Conv2dEpilogue[];
}

const CASES: Case[] = [
  { name: 'N=C=K=1, 7x7, 3x3', shape: { N: 1, C: 1, H: 7, W: 7, K: 1, R: 3, S: 3, stride: 1, pad: 0 } },
  { name: 'pad 1, C=3', shape: { N: 2, C: 3, H: 7, W: 7, K: 4, R: 3, S: 3, stride: 1, pad: 1 }, epilogues: ['bias', 'bias_relu', 'relu'] },
  { name: 'LeNet conv1', shape: { N: 7, C: 1, H: 28, W: 28, K: 20, R: 5, S: 5, stride: 1, pad: 0 }, epilogues: ['bias_relu'] },
  { name: 'LeNet conv2', shape: { N: 7, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 }, epilogues: ['bias_relu'] },
  { name: 'stride 2, pad 1, H!=W', shape: { N: 3, C: 3, H: 9, W: 12, K: 5, R: 3, S: 3, stride: 2, pad: 1 } },
  { name: 'stride 2, pad 2, R!=S, K=33', shape: { N: 2, C: 3, H: 10, W: 7, K: 33, R: 5, S: 3, stride: 2, pad: 2 }, epilogues: ['bias'] },
  { name: 'K=33, C=3, pad 1', shape: { N: 3, C: 3, H: 13, W: 13, K: 33, R: 3, S: 3, stride: 1, pad: 1 } },
  { name: 'stride 3, R=2 S=4, C=5', shape: { N: 2, C: 5, H: 11, W: 9, K: 7, R: 2, S: 4, stride: 3, pad: 0 } },
  { name: '1x1 filter, C=7, K=9', shape: { N: 5, C: 7, H: 3, W: 5, K: 9, R: 1, S: 1, stride: 1, pad: 0 } },
  { name: 'filter = padded input', shape: { N: 2, C: 2, H: 3, W: 4, K: 3, R: 5, S: 6, stride: 1, pad: 1 } },
  { name: '5x5 pad 2, K=23, C=3 (row paths with padding)', shape: { N: 2, C: 3, H: 9, W: 11, K: 23, R: 5, S: 5, stride: 1, pad: 2 } },
  // ResNet-32's convolutions (3x3, pad 1, no bias; 'relu' for a bias-free conv before a ReLU).
  { name: 'ResNet 16->16 32x32', shape: { N: 2, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, stride: 1, pad: 1 }, epilogues: ['relu'] },
  { name: 'ResNet 16->16 32x32 stride 2', shape: { N: 2, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, stride: 2, pad: 1 }, epilogues: ['relu'] },
  { name: 'ResNet 16->32 stride 2', shape: { N: 2, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, stride: 2, pad: 1 } },
  { name: 'ResNet 32->64 stride 2', shape: { N: 2, C: 32, H: 16, W: 16, K: 64, R: 3, S: 3, stride: 2, pad: 1 } },
  { name: 'ResNet 64->64 8x8', shape: { N: 2, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, stride: 1, pad: 1 } },
  // The 'relu' epilogue with the other channel block (BK = 25 is picked for K = 25), both paths.
  { name: 'relu, 3->25 (BK 25)', shape: { N: 3, C: 3, H: 9, W: 9, K: 25, R: 3, S: 3, stride: 1, pad: 1 }, epilogues: ['relu'] },
  { name: 'relu, 3->25 stride 2 (BK 25)', shape: { N: 1, C: 3, H: 9, W: 9, K: 25, R: 3, S: 3, stride: 2, pad: 1 }, epilogues: ['relu'] },
];

function label(sh: Conv2dShape): string {
  return `x[${sh.N},${sh.C},${sh.H},${sh.W}] w[${sh.K},${sh.C},${sh.R},${sh.S}] stride ${sh.stride} pad ${sh.pad}`;
}

// The scalar L = sum_n e[n] sum dy[n] * (conv(x,w)[n] + b) is linear in each of x, w, b, so central
// differences are exact up to float64 rounding of L (~1e-16 |L| / h): 1e-6 relative is ample.
const FD_TOL = { atol: 1e-6, rtol: 1e-6 };
const FD_H = 1e-6;
const FD_SHAPES: Conv2dShapeRef[] = [
  { N: 1, C: 1, H: 7, W: 7, K: 1, R: 3, S: 3, stride: 1, pad: 0 },
  { N: 2, C: 3, H: 7, W: 7, K: 2, R: 3, S: 3, stride: 1, pad: 1 },
  { N: 2, C: 2, H: 9, W: 12, K: 3, R: 3, S: 3, stride: 2, pad: 1 },
  { N: 3, C: 2, H: 10, W: 7, K: 2, R: 5, S: 3, stride: 2, pad: 2 },
  { N: 2, C: 2, H: 11, W: 9, K: 2, R: 2, S: 4, stride: 3, pad: 0 },
];

const referenceChecks: KernelCheck[] = FD_SHAPES.map((sh) =>
  cpuCheck(`float64 references against central finite differences: ${label(sh)}`, () => {
    const h = FD_H;
    const rng = new Rng(sh.H * 100 + sh.W * 10 + sh.stride);
    const { P, Q } = conv2dOutRef(sh);
    const x = Float64Array.from(rng.normals(sh.N * sh.C * sh.H * sh.W));
    const w = Float64Array.from(rng.normals(sh.K * sh.C * sh.R * sh.S));
    const b = Float64Array.from(rng.normals(sh.K));
    const dy = Float64Array.from(rng.normals(sh.N * sh.K * P * Q));
    const e = Float64Array.from({ length: sh.N }, (_, n) => (n === 1 ? 0 : 0.5 + rng.next()));
    const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array, ee: ArrayLike<number> | null) => {
      const y = conv2dForwardRef(xx, ww, bb, sh, 'bias');
      const PQK = sh.K * P * Q;
      let l = 0;
      for (let i = 0; i < y.length; i++) l += (ee ? ee[Math.floor(i / PQK)] : 1) * dy[i] * y[i];
      return l;
    };
    const fd = (v: Float64Array, ee: ArrayLike<number> | null) => {
      const g = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const keep = v[i];
        v[i] = keep + h;
        const up = loss(x, w, b, ee);
        v[i] = keep - h;
        const down = loss(x, w, b, ee);
        v[i] = keep;
        g[i] = (up - down) / (2 * h);
      }
      return g;
    };
    assertClose(conv2dBackwardDataRef(dy, w, sh), fd(x, null), FD_TOL, 'dx');
    assertClose(conv2dBackwardFilterRef(x, dy, sh), fd(w, null), FD_TOL, 'dw');
    assertClose(conv2dBackwardFilterRef(x, dy, sh, e), fd(w, e), FD_TOL, 'dw weighted');
    assertClose(conv2dBiasGradRef(dy, sh), fd(b, null), FD_TOL, 'db');
    assertClose(conv2dBiasGradRef(dy, sh, e), fd(b, e), FD_TOL, 'db weighted');
  }),
);

/** The forward kernel in one form, every epilogue asked for, against the float64 reference. */
async function checkForward(
  gpu: Gpu,
  s: Scratch,
  name: string,
  sh: Conv2dShape,
  epilogues: Conv2dEpilogue[],
  variant: Conv2dForwardVariant,
  inputs: { x: Float32Array; w: Float32Array; bias: Float32Array; bx: GPUBuffer; bw: GPUBuffer; bb: GPUBuffer },
): Promise<void> {
  const { x, w, bias, bx, bw, bb } = inputs;
  const { P, Q } = conv2dOutputShape(sh);
  const ny = sh.N * sh.K * P * Q;
  const crs = sh.C * sh.R * sh.S;
  for (const epi of ['none', ...epilogues] as Conv2dEpilogue[]) {
    const conv = await Conv2dForward.create(gpu, { epilogue: epi, variant });
    assertSame(conv.variant, variant, 'the forced variant');
    const by = output(s, `y.${epi}`, ny);
    const readsBias = epi === 'bias' || epi === 'bias_relu';
    const d = conv.plan(bx, bw, readsBias ? bb : null, by, sh);
    runDispatches(gpu, [d]);
    const got = await readGuarded(gpu, by, ny, `${variant} forward ${epi}`);
    d.destroy();
    const ref = conv2dForwardRef(x, w, readsBias ? bias : null, sh, epi);
    assertClose(got, ref, tol(crs + 1, Math.max(maxAbs(x) * maxAbs(w), maxAbs(bias))), `${variant} forward ${epi} ${name}`);
  }
}

/** The data-gradient kernel in one form against the float64 reference. */
async function checkBackwardData(
  gpu: Gpu,
  s: Scratch,
  name: string,
  sh: Conv2dShape,
  variant: Conv2dBackwardDataVariant,
  inputs: { dy: Float32Array; w: Float32Array; bdy: GPUBuffer; bw: GPUBuffer },
): Promise<void> {
  const nx = sh.N * sh.C * sh.H * sh.W;
  const op = await Conv2dBackwardData.create(gpu, { variant });
  assertSame(op.variant, variant, 'the forced variant');
  const bdx = output(s, `dx.${variant}`, nx);
  const d = op.plan(inputs.bdy, inputs.bw, bdx, sh);
  runDispatches(gpu, [d]);
  const got = await readGuarded(gpu, bdx, nx, `${variant} backward data`);
  d.destroy();
  assertClose(got, conv2dBackwardDataRef(inputs.dy, inputs.w, sh), tol(sh.K * sh.R * sh.S, maxAbs(inputs.dy) * maxAbs(inputs.w)), `${variant} backward data ${name}`);
}

// The written-out forms (registerBlockConv2dForward, registerBlockConv2dBackwardData, and their
// subgroup forms where the device runs them) on every case: both paths, every epilogue asked for.
const variantChecks: KernelCheck[] = CASES.map(({ name, shape: sh, epilogues = [] }) =>
  gpuCheck(`scalar and subgroup forward and data gradient: ${name}: ${label(sh)}`, async (gpu, s) => {
    const rng = new Rng(sh.N * 1000 + sh.C * 100 + sh.K);
    const { P, Q } = conv2dOutputShape(sh);
    const x = rng.normals(sh.N * sh.C * sh.H * sh.W);
    const w = rng.normals(sh.K * sh.C * sh.R * sh.S, 0.5);
    const bias = rng.normals(sh.K);
    const dy = rng.normals(sh.N * sh.K * P * Q);
    const bw = s.upload('w', w);
    const forwardInputs = { x, w, bias, bx: s.upload('x', x), bw, bb: s.upload('bias', bias) };
    await checkForward(gpu, s, name, sh, epilogues, 'scalar', forwardInputs);
    if (await formRunsHere(gpu, CONV2D_FORWARD_FORMS, 'subgroup', () => Conv2dForward.create(gpu, { variant: 'subgroup' }))) {
      await checkForward(gpu, s, name, sh, epilogues, 'subgroup', forwardInputs);
    }
    const dataInputs = { dy, w, bdy: s.upload('dy', dy), bw };
    await checkBackwardData(gpu, s, name, sh, 'scalar', dataInputs);
    if (await formRunsHere(gpu, CONV2D_BACKWARD_DATA_FORMS, 'subgroup', () => Conv2dBackwardData.create(gpu, { variant: 'subgroup' }))) {
      await checkBackwardData(gpu, s, name, sh, 'subgroup', dataInputs);
    }
  }),
);

// The tiled forms of the forward and data-gradient kernels (GPUs; compiled on a CPU driver only when
// forced) on every case and on one with two channel tiles and a partial position tile. SwiftShader takes seconds to compile each of its
// pipelines (one per epilogue), so the browser runs the cases that take padding, stride 2, R != S and
// two tiles; Node runs them all.
const TILED_BROWSER_CASES = ['stride 2, pad 2, R!=S, K=33', 'two channel tiles, pad 1'];
const tiledChecks: KernelCheck[] = [
  ...CASES,
  { name: 'two channel tiles, pad 1', shape: { N: 2, C: 3, H: 9, W: 7, K: 70, R: 3, S: 3, stride: 1, pad: 1 }, epilogues: ['bias_relu', 'relu'] as Conv2dEpilogue[] },
].map(({ name, shape: sh, epilogues = [] }) =>
  gpuCheck(
    `tiled forward and data gradient: ${name}: ${label(sh)}`,
    async (gpu, s) => {
      const rng = new Rng(sh.N * 1000 + sh.C * 100 + sh.K + 7);
      const x = rng.normals(sh.N * sh.C * sh.H * sh.W);
      const w = rng.normals(sh.K * sh.C * sh.R * sh.S, 0.5);
      const bias = rng.normals(sh.K);
      const bw = s.upload('w', w);
      await checkForward(gpu, s, name, sh, epilogues, 'tiled', { x, w, bias, bx: s.upload('x', x), bw, bb: s.upload('bias', bias) });
      const { P, Q } = conv2dOutputShape(sh);
      const dy = rng.normals(sh.N * sh.K * P * Q);
      await checkBackwardData(gpu, s, name, sh, 'tiled', { dy, w, bdy: s.upload('dy', dy), bw });
    },
    TILED_BROWSER_CASES.includes(name) ? undefined : 'tiled form: SwiftShader compiles each pipeline in seconds; two cases cover its paths there',
  ),
);

const kernelChecks: KernelCheck[] = CASES.map(({ name, shape: sh, epilogues = [] }) =>
  gpuCheck(`${name}: ${label(sh)}`, async (gpu, s) => {
    const rng = new Rng(sh.N * 1000 + sh.C * 100 + sh.K);
    const { P, Q } = conv2dOutputShape(sh);
    assertEqual(conv2dOutRef(sh), { P, Q }, 'output shape against the reference');
    const nx = sh.N * sh.C * sh.H * sh.W;
    const nw = sh.K * sh.C * sh.R * sh.S;
    const ny = sh.N * sh.K * P * Q;
    const x = rng.normals(nx);
    const w = rng.normals(nw, 0.5);
    const bias = rng.normals(sh.K);
    const dy = rng.normals(ny);
    const ex = exampleWeights(rng, sh.N);
    const bx = s.upload('x', x);
    const bw = s.upload('w', w);
    const bb = s.upload('bias', bias);
    const bdy = s.upload('dy', dy);
    const bex = s.upload('ex', ex);

    // forward, every epilogue asked for (today's form; the others in forwardVariantChecks)
    await checkForward(gpu, s, name, sh, epilogues, 'blocked', { x, w, bias, bx, bw, bb });

    // data gradient (today's form; the others in variantChecks)
    await checkBackwardData(gpu, s, name, sh, 'blocked', { dy, w, bdy, bw });

    // filter gradient in every form and bias gradient, plain and per-example weighted
    for (const weighted of [false, true]) {
      const e = weighted ? ex : null;
      const tag = weighted ? 'weighted' : 'plain';
      const eMax = weighted ? maxAbs(ex) : 1;
      for (const variant of CONV2D_BACKWARD_FILTER_VARIANTS) {
        if (!(await formRunsHere(gpu, CONV2D_BACKWARD_FILTER_FORMS, variant, () => Conv2dBackwardFilter.create(gpu, { exWeights: weighted, variant })))) continue;
        const bdw = output(s, `dw.${tag}.${variant}`, nw);
        const filt = await Conv2dBackwardFilter.create(gpu, { exWeights: weighted, variant });
        assertSame(filt.variant, variant, 'the forced variant');
        runDispatches(gpu, [filt.plan(bx, bdy, weighted ? bex : null, bdw, sh)]);
        assertClose(
          await readGuarded(gpu, bdw, nw, `backward filter ${tag} (${variant})`),
          conv2dBackwardFilterRef(x, dy, sh, e),
          tol(sh.N * P * Q, maxAbs(dy) * maxAbs(x) * eMax),
          `${variant} backward filter ${tag} ${name}`,
        );
      }
      const bdb = output(s, `db.${tag}`, sh.K);
      const bgrad = await Conv2dBiasGrad.create(gpu, { exWeights: weighted });
      runDispatches(gpu, [bgrad.plan(bdy, weighted ? bex : null, bdb, sh)]);
      assertClose(await readGuarded(gpu, bdb, sh.K, `bias grad ${tag}`), conv2dBiasGradRef(dy, sh, e), tol(sh.N * P * Q, maxAbs(dy) * eMax), `bias grad ${tag} ${name}`);
    }
  }),
);

/** The filter-gradient forms this device runs. */
function filterForms(gpu: Gpu) {
  return CONV2D_BACKWARD_FILTER_VARIANTS.filter((v) => formAvailable(gpu, CONV2D_BACKWARD_FILTER_FORMS, v));
}

export const conv2dChecks: CheckGroup = {
  group: 'conv2d',
  checks: [
    ...referenceChecks,
    ...kernelChecks,
    ...variantChecks,
    ...tiledChecks,

    gpuCheck('filter gradient: the measurement times every form, names the fastest and frees its buffers; a CPU driver never measures or picks reduce', async (gpu) => {
      await assertMeasurement(gpu, () => measureConv2dBackwardFilter(gpu), filterForms(gpu));
      const chosen = await chooseConv2dBackwardFilterVariant(gpu);
      assert(CONV2D_BACKWARD_FILTER_VARIANTS.includes(chosen), 'a form', chosen);
      if (isCpuAdapter(gpu.adapter)) assert(chosen !== 'reduce', 'a CPU driver does not run the reduce form', chosen);
    }, "times LeNet's conv1 filter gradient at batch 100 several times, seconds on SwiftShader; every form is checked there above"),

    cpuCheck('the written-out filter-gradient block rejects sizes it cannot hold', () => {
      assertThrows(() => registerBlockConv2dBackwardFilter({ bk: 10, bj: 6 }), /bj must be a positive integer multiple of 4, got 6/, 'bj = 6');
      assertThrows(() => registerBlockConv2dBackwardFilter({ bk: 0, bj: 8 }), /bk must be a positive integer, got 0/, 'bk = 0');
      const src = registerBlockConv2dBackwardFilter({ bk: 3, bj: 4 });
      assert(src.includes('acc_2_0') && !src.includes('acc_3_0') && !src.includes('acc_0_1'), 'a 3x4 block names acc_0_0 .. acc_2_0 only');
    }),

    gpuCheck("the 'relu' epilogue takes no bias", async (gpu, s) => {
      const b = s.buffer('tmp', 64);
      const sh: Conv2dShape = { N: 1, C: 1, H: 4, W: 4, K: 1, R: 3, S: 3, stride: 1, pad: 0 };
      const relu = await Conv2dForward.create(gpu, { epilogue: 'relu', variant: 'blocked' });
      assertThrows(() => relu.plan(b, b, b, s.buffer('y', 64), sh), /takes no bias/, 'a bias for the relu epilogue');
    }),

    gpuCheck('bindings at 256-byte offsets, dy with infinities in a zero-weight example', async (gpu, s) => {
      const sh: Conv2dShape = { N: 3, C: 2, H: 6, W: 5, K: 5, R: 3, S: 2, stride: 1, pad: 1 };
      const rng = new Rng(99);
      const { P, Q } = conv2dOutputShape(sh);
      const nx = sh.N * sh.C * sh.H * sh.W;
      const nw = sh.K * sh.C * sh.R * sh.S;
      const ny = sh.N * sh.K * P * Q;
      const x = rng.normals(nx);
      const w = rng.normals(nw);
      const dy = rng.normals(ny);
      const ex = Float32Array.from([0.7, 0, 1.3]);
      dy.fill(Infinity, sh.K * P * Q, 2 * sh.K * P * Q); // all of example 1, whose weight is 0
      // Each tensor sits 64 floats (256 bytes) into its buffer, behind distinct junk.
      const OFF = 64;
      const place = (l: string, d: Float32Array) => {
        const a = new Float32Array(OFF + d.length + 1).fill(1e6);
        a.set(d, OFF);
        a[OFF + d.length] = GUARD;
        return s.upload(l, a);
      };
      const ref = (b: GPUBuffer, n: number) => ({ buffer: b, offset: OFF * 4, size: n * 4 });
      const bx = place('x', x);
      const bw = place('w', w);
      const bdy = place('dy', dy);
      const bex = place('ex', ex);
      const forwardForms = CONV2D_FORWARD_VARIANTS.filter((v) => formAvailable(gpu, CONV2D_FORWARD_FORMS, v));
      const ys = forwardForms.map((v) => place(`y.${v}`, new Float32Array(ny).fill(STALE)));
      const dws = filterForms(gpu).map((v) => place(`dw.${v}`, new Float32Array(nw).fill(STALE)));
      const bdb = place('db', new Float32Array(sh.K).fill(STALE));
      const filts = await Promise.all(filterForms(gpu).map((variant) => Conv2dBackwardFilter.create(gpu, { exWeights: true, variant })));
      const bgrad = await Conv2dBiasGrad.create(gpu, { exWeights: true });
      const convs = await Promise.all(forwardForms.map((variant) => Conv2dForward.create(gpu, { variant })));
      const dispatches = [
        ...convs.map((conv, i) => conv.plan(ref(bx, nx), ref(bw, nw), null, ref(ys[i], ny), sh)),
        ...filts.map((filt, i) => filt.plan(ref(bx, nx), ref(bdy, ny), ref(bex, 3), ref(dws[i], nw), sh)),
        bgrad.plan(ref(bdy, ny), ref(bex, 3), ref(bdb, sh.K), sh),
      ];
      runDispatches(gpu, dispatches);
      const read = async (b: GPUBuffer, n: number, what: string) => {
        const all = await gpu.readF32(b, OFF + n + 1);
        assertSame(all[OFF - 1], 1e6, `${what}: the element before the binding`);
        assertSame(all[OFF + n], GUARD, `${what}: the guard after the binding`);
        return all.subarray(OFF, OFF + n);
      };
      const npq = sh.N * P * Q;
      for (const [i, v] of forwardForms.entries()) {
        assertClose(await read(ys[i], ny, `y (${v})`), conv2dForwardRef(x, w, null, sh), tol(sh.C * sh.R * sh.S, maxAbs(x) * maxAbs(w)), `${v} forward at offset`);
      }
      const finite = dy.map((v) => (Number.isFinite(v) ? v : 0));
      for (const [i, v] of filterForms(gpu).entries()) {
        assertClose(await read(dws[i], nw, `dw (${v})`), conv2dBackwardFilterRef(x, dy, sh, ex), tol(npq, maxAbs(finite) * maxAbs(x) * 1.3), `${v} dw at offset`);
      }
      assertClose(await read(bdb, sh.K, 'db'), conv2dBiasGradRef(dy, sh, ex), tol(npq, maxAbs(finite) * 1.3), 'db at offset');
      for (const d of dispatches) d.destroy();
    }),

    gpuCheck('rejects a bias for the plain epilogue and a missing ex_weight buffer', async (gpu, s) => {
      const sh: Conv2dShape = { N: 1, C: 1, H: 4, W: 4, K: 1, R: 3, S: 3, stride: 1, pad: 0 };
      const b = s.buffer('tmp', 64);
      assertThrows(() => conv2dOutputShape({ ...sh, R: 5 }), /does not fit/, 'a filter larger than the padded input');
      assertThrows(() => conv2dOutputShape({ ...sh, stride: 0 }), /stride/, 'stride 0');
      const plain = await Conv2dForward.create(gpu, { variant: 'blocked' });
      assertThrows(() => plain.plan(b, b, b, b, sh), /takes no bias/, 'a bias for the plain epilogue');
      const fused = await Conv2dForward.create(gpu, { epilogue: 'bias_relu', variant: 'blocked' });
      assertThrows(() => fused.plan(b, b, null, b, sh), /needs a bias/, 'bias_relu without a bias');
      for (const variant of filterForms(gpu)) {
        const filt = await Conv2dBackwardFilter.create(gpu, { exWeights: true, variant });
        assertThrows(() => filt.plan(b, b, null, b, sh), /ex_weight/, `exWeights without ex_weight (${variant})`);
      }
    }),
  ],
};
