// Batch normalisation: the op's GPU programs (src/train/ops/batchnorm.ts over the kernels of
// src/kernels/batchnorm.ts), run through hand-made pass contexts, against the float64 reference
// (test/reference/ops/batchnorm.ts) on awkward shapes: one example with H·W > 1, odd sizes, a vector
// input, M = 1, M not a multiple of the workgroup size, and ResNet-32's N=100 C=16 32x32. Every pass:
// training forward (with and without the fused ReLU, with and without the running-statistics update),
// evaluation forward, backward, weight gradients, tangent (input tangent and direction, each alone and
// both). Then the reference itself: its backward and tangent against central finite differences in
// float64, and its evaluation forward against its training forward.
//
// Inputs are bound at an offset inside buffers padded with POISON (reads outside the binding's data
// would show), parameter and state tensors at aligned offsets between POISON, outputs end in a GUARD.
//
// Tolerances. fp32 unit roundoff u = 2^-24. Each per-channel sum of M terms is computed by 256
// invocations adding k = ⌈M/256⌉ terms each in sequence, then an 8-level tree. Its rounding error is a
// random walk of roundings, each at most u times a partial sum: ~u·√k from the sequential part and
// ~u·√8 ≈ 3u from the tree, relative to the sum for same-sign terms and to the terms' 2-norm for
// zero-mean ones: L = u·(√k + 3) (0 for M = 1: a sum of one term is exact). So the batch mean's error is
// ~L·(|μ| + σ) and the variance's relative error ~L; x̂ = (x − μ)·invstd then errs by
// ~L·(|μ|/σ + 1) (the division by σ amplifies the mean's error: test data keep σ_c in [0.5, 2] and
// |μ_c| ≤ 2) plus (L + 2u)·|x̂| (invstd's relative error: half the variance's, and a square root and a
// division). Every tolerance below bounds the terms of its formula this way, times HEADROOM = 4. The
// bounds add worst cases that rarely meet: observed errors (Dawn on lavapipe) are 6-100x below them.
// What a wrong formula would change still shows: eps, M/(M − 1) and the coupling terms S1/M, S2/M
// move the results of the small-M cases, and of the eps = 1e-3 case, by 10-1000x these tolerances.
// At M = 1 (σ = 0, invstd = 1/sqrt(eps)) the forward pass and the weight gradients are exact; the
// backward and tangent passes add A·src and D = −A·S1/M (+ G_β) with |A| ~ 300, so they cancel to
// within u·|A·src|, which the tolerance's 3u·A·(terms) covers.
import type { BufferRef, Gpu } from '../../../src/gpu/gpu';
import { runDispatches, type Dispatch } from '../../../src/kernels/kernel';
import { batchnorm as batchnormOp } from '../../../src/train/ops/batchnorm';
import type { OpAttrs, OpProgram, TensorRefs } from '../../../src/train/ops/op';
import { Rng } from '../../../src/util/rng';
import type { Tolerance } from '../../helpers/compare';
import {
  batchnorm as bnRef,
  batchnormEvalForward,
  batchnormRunningUpdate,
  batchnormStats,
  bnAttrs,
  bnGeometry,
  type BatchnormGeometry,
  type BatchnormSaved,
} from '../../reference/ops/batchnorm';
import type { RefNode } from '../../reference/ops/ref_op';
import { assert, assertClose, assertEqual, assertSame, assertThrows, cpuCheck, gpuCheck, maxAbs, type CheckGroup, type KernelCheck, type Scratch } from './check';

const U = 2 ** -24;
const HEADROOM = 4;
const GUARD = 42;
const STALE = -777;
const POISON = 1e6;

interface Case {
  n: number;
  shape: number[];
  attrs: { momentum?: number; eps?: number };
}

const CASES: Case[] = [
  { n: 1, shape: [3, 5, 4], attrs: {} }, // one example, H·W > 1: M = 20
  { n: 3, shape: [5, 7, 9], attrs: { momentum: 0.25, eps: 1e-3 } }, // M = 189 < 256
  { n: 7, shape: [11], attrs: {} }, // vector input: channels = features, M = N = 7
  { n: 1, shape: [6], attrs: { momentum: 0.5 } }, // M = 1: σ² = 0, x̂ = 0 (exact), the update takes σ² itself
  { n: 5, shape: [4, 13, 11], attrs: {} }, // M = 715: the grid-stride loop ends mid-workgroup
  { n: 100, shape: [16, 32, 32], attrs: { momentum: 0.1 } }, // ResNet-32 stage 1 on CIFAR: M = 102400
];

const caseName = (c: Case) => `N=${c.n} [${c.shape.join(',')}]`;
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Relative rounding level of one per-channel sum of M fp32 terms (see the header). */
const sumLevel = (M: number) => (M === 1 ? 0 : U * (Math.sqrt(Math.ceil(M / 256)) + 3));

// ---- data -------------------------------------------------------------------------------------

interface Data {
  g: BatchnormGeometry;
  node: RefNode;
  attrs: { momentum: number; eps: number };
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  runMean: Float32Array;
  runVar: Float32Array;
  /** A signal (backward) and an input tangent, and a direction (G_γ, G_β). */
  dy: Float32Array;
  dx: Float32Array;
  gGamma: Float32Array;
  gBeta: Float32Array;
}

function data(c: Case): Data {
  const g = bnGeometry(c.shape);
  const rng = new Rng(c.n * 7919 + sizeOf(c.shape));
  const mu = Float64Array.from({ length: g.C }, () => rng.uniform(-2, 2));
  const sigma = Float64Array.from({ length: g.C }, () => rng.uniform(0.5, 2));
  const x = new Float32Array(c.n * g.C * g.HW);
  for (let i = 0; i < c.n; i++) for (let ch = 0; ch < g.C; ch++) for (let p = 0; p < g.HW; p++) x[(i * g.C + ch) * g.HW + p] = mu[ch] + sigma[ch] * rng.normal();
  const attrs = batchnormOp.checkAttrs(c.attrs, caseName(c));
  const signs = () => Float32Array.from({ length: g.C }, () => (rng.next() < 0.3 ? -1 : 1) * rng.uniform(0.5, 1.5));
  return {
    g,
    node: { id: 'bn', attrs, inShapes: [c.shape], outShape: c.shape },
    attrs,
    x,
    gamma: signs(),
    beta: Float32Array.from({ length: g.C }, () => rng.uniform(-1, 1)),
    runMean: Float32Array.from({ length: g.C }, () => rng.uniform(-1, 1)),
    runVar: Float32Array.from({ length: g.C }, () => rng.uniform(0.5, 2)),
    dy: rng.normals(x.length),
    dx: rng.normals(x.length),
    gGamma: rng.normals(g.C),
    gBeta: rng.normals(g.C),
  };
}

// ---- buffers and pass contexts ------------------------------------------------------------------

const PAD_BYTES = 256;

/** `values` at byte offset 256 of a buffer filled with POISON, the binding running on through 64 trailing POISON floats. */
function uploadAtOffset(s: Scratch, label: string, values: Float32Array): BufferRef {
  const pad = PAD_BYTES / 4;
  const all = new Float32Array(pad + values.length + pad).fill(POISON);
  all.set(values, pad);
  return { buffer: s.upload(label, all), offset: PAD_BYTES, size: (values.length + pad) * 4 };
}

/** Two C-float tensors at aligned offsets of one POISON-filled buffer (as the parameter layout puts them). */
class TensorPair {
  readonly buffer: GPUBuffer;
  readonly refs: [BufferRef, BufferRef];
  private readonly offsets: [number, number];
  constructor(s: Scratch, label: string, private readonly C: number, a: Float32Array, b: Float32Array) {
    const align = s.gpu.limits.minStorageBufferOffsetAlignment / 4;
    const stride = Math.ceil(C / align) * align + align;
    this.offsets = [align, align + stride];
    const all = new Float32Array(align + 2 * stride).fill(POISON);
    all.set(a, this.offsets[0]);
    all.set(b, this.offsets[1]);
    this.buffer = s.upload(label, all);
    this.refs = [
      { buffer: this.buffer, offset: this.offsets[0] * 4, size: C * 4 },
      { buffer: this.buffer, offset: this.offsets[1] * 4, size: C * 4 },
    ];
  }

  /** Both tensors; throws if anything outside them changed from POISON. */
  async read(gpu: Gpu, label: string): Promise<[Float32Array, Float32Array]> {
    const all = await gpu.readF32(this.buffer);
    const inside = (i: number) => this.offsets.some((o) => i >= o && i < o + this.C);
    const bad = all.findIndex((v, i) => !inside(i) && v !== POISON);
    assert(bad < 0, `${label}: wrote outside its tensors`, `element ${bad} is ${all[bad]}`);
    return [all.slice(this.offsets[0], this.offsets[0] + this.C), all.slice(this.offsets[1], this.offsets[1] + this.C)];
  }
}

function guarded(s: Scratch, label: string, count: number): GPUBuffer {
  const init = new Float32Array(count + 1).fill(STALE);
  init[count] = GUARD;
  return s.upload(label, init);
}

async function readGuarded(gpu: Gpu, b: GPUBuffer, count: number, label: string): Promise<Float32Array> {
  const all = await gpu.readF32(b, count + 1);
  assertSame(all[count], GUARD, `${label} guard`);
  return all.subarray(0, count);
}

/** The per-plan part of a pass context: aux buffers live as long as the Map (one batch plan). */
function passCtx(s: Scratch, n: number, label: string, aux: Map<string, GPUBuffer>) {
  return {
    n,
    label,
    aux(name: string, floats: number) {
      let b = aux.get(name);
      if (!b) aux.set(name, (b = s.buffer(`${label}.${name}`, floats * 4)));
      return b;
    },
    constant(name: string, values: Float32Array) {
      let b = aux.get(name);
      if (!b) aux.set(name, (b = s.upload(`${label}.${name}`, values)));
      return b;
    },
  };
}

interface GpuSetup {
  d: Data;
  x: BufferRef;
  params: TensorPair;
  paramRefs: TensorRefs;
  state: TensorPair;
  stateRefs: TensorRefs;
  total: number;
}

function setup(s: Scratch, d: Data): GpuSetup {
  const params = new TensorPair(s, 'params', d.g.C, d.gamma, d.beta);
  const state = new TensorPair(s, 'state', d.g.C, d.runMean, d.runVar);
  return {
    d,
    x: uploadAtOffset(s, 'x', d.x),
    params,
    paramRefs: { gamma: params.refs[0], beta: params.refs[1] },
    state,
    stateRefs: { running_mean: state.refs[0], running_var: state.refs[1] },
    total: d.x.length,
  };
}

function load(gpu: Gpu, d: Data, fusedRelu: boolean): Promise<OpProgram> {
  const shape = d.node.inShapes[0];
  return batchnormOp.load(gpu, { inShapes: [shape], outShape: shape, attrs: batchnormOp.checkAttrs(d.node.attrs, 'bn'), fusedRelu });
}

/** Plans a forward pass of the batch into `y` (mode, ReLU and state update as given), in the plan `aux`. */
function forward(s: Scratch, p: OpProgram, g: GpuSetup, y: GPUBuffer, aux: Map<string, GPUBuffer>, o: { relu: boolean; training: boolean; updateState: boolean }): Dispatch[] {
  return p.forward({ ...passCtx(s, g.d.x.length / (g.d.g.C * g.d.g.HW), 'fwd', aux), inputs: [g.x], output: y, params: g.paramRefs, state: g.stateRefs, ...o });
}

const relu = (a: Float64Array) => a.map((v) => Math.max(v, 0));

/**
 * A GPU check whose planned dispatches (their uniform buffers) are freed when it ends: `run` records
 * and submits, `own` only keeps (for dispatches planned but not run).
 */
function bnCheck(name: string, body: (gpu: Gpu, s: Scratch, run: (ds: Dispatch[]) => void, own: (ds: Dispatch[]) => Dispatch[]) => Promise<void>): KernelCheck {
  return gpuCheck(name, async (gpu, s) => {
    const owned: Dispatch[] = [];
    const own = (ds: Dispatch[]) => {
      owned.push(...ds);
      return ds;
    };
    try {
      await body(gpu, s, (ds) => runDispatches(gpu, own(ds)), own);
      await gpu.idle();
    } finally {
      for (const d of owned) d.destroy();
    }
  });
}

// ---- tolerances (see the header) ---------------------------------------------------------------

interface ChannelScales {
  /** |μ_c|·invstd_c + 1: the mean's error, relative to L·σ_c. */
  meanRel: Float64Array;
  /** max |x̂| in channel c. */
  xhatMax: Float64Array;
}

function channelScales(d: Data, s: BatchnormSaved): ChannelScales {
  const { C, HW } = d.g;
  const n = d.x.length / (C * HW);
  const xhatMax = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) xhatMax[c] = Math.max(xhatMax[c], Math.abs((d.x[(i * C + c) * HW + p] - s.mean[c]) * s.invstd[c]));
  }
  return { meanRel: Float64Array.from(s.mean, (m, c) => Math.abs(m) * s.invstd[c] + 1), xhatMax };
}

/** The error of x̂ in channel c at |x̂| = a (see the header). */
function xhatError(L: number, k: ChannelScales, c: number, a: number): number {
  return L * k.meanRel[c] + (L + 2 * U) * a;
}

/** y = γ x̂ + β: |γ| times x̂'s error, plus 2u of |γ x̂| + |β| (the multiply-add). */
function forwardTol(d: Data, s: BatchnormSaved): Tolerance {
  const L = sumLevel(s.M);
  const k = channelScales(d, s);
  let t = 0;
  for (let c = 0; c < d.g.C; c++) {
    const g = Math.abs(d.gamma[c]);
    t = Math.max(t, g * xhatError(L, k, c, k.xhatMax[c]) + 2 * U * (g * k.xhatMax[c] + Math.abs(d.beta[c])));
  }
  return { atol: HEADROOM * t, rtol: 0 };
}

/**
 * The running statistics: momentum times the error of μ (L·(|μ| + σ)) or of the unbiased σ²
 * (L·σ²·M/(M−1)), plus the update's own rounding (2u of the result).
 */
function stateTol(d: Data, s: BatchnormSaved, next: { mean: Float64Array; variance: Float64Array }): [Tolerance, Tolerance] {
  const L = sumLevel(s.M);
  const m = d.attrs.momentum;
  const unbias = s.M > 1 ? s.M / (s.M - 1) : 1;
  const meanScale = Math.max(...Array.from(s.mean, (mu, c) => Math.abs(mu) + Math.sqrt(s.variance[c])));
  return [
    { atol: HEADROOM * (m * L * meanScale + 2 * U * maxAbs(next.mean)), rtol: 0 },
    { atol: HEADROOM * (m * L * maxAbs(s.variance) * unbias + 2 * U * maxAbs(next.variance)), rtol: 0 },
  ];
}

/**
 * out = A·(t − S1/M − x̂·S2/M) + G_γ x̂ + G_β with A = γ·invstd, per channel: A's relative error (that of
 * invstd, L + 2u) times the three terms; the sums' errors δS1 ~ L·‖t‖ and δS2 ~ L·‖t x̂‖ + Σ t·δx̂ (the
 * GPU's own x̂: ≲ L·(|μ|/σ + 1)·|S1| + (L + 2u)·|S2|), divided by M; x̂'s error times |A·S2/M| and
 * |G_γ|; 3u of the apply's own multiply-adds.
 */
function linearTol(d: Data, s: BatchnormSaved, t: Float32Array | null, dir: boolean): Tolerance {
  const { C, HW } = d.g;
  const n = d.x.length / (C * HW);
  const L = sumLevel(s.M);
  const k = channelScales(d, s);
  let worst = 0;
  for (let c = 0; c < C; c++) {
    let s1 = 0;
    let s2 = 0;
    let tMax = 0;
    let n1 = 0;
    let n2 = 0;
    if (t) {
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < HW; p++) {
          const e = (i * C + c) * HW + p;
          const xhat = (d.x[e] - s.mean[c]) * s.invstd[c];
          s1 += t[e];
          s2 += t[e] * xhat;
          tMax = Math.max(tMax, Math.abs(t[e]));
          n1 += t[e] ** 2;
          n2 += (t[e] * xhat) ** 2;
        }
      }
    }
    const A = Math.abs(d.gamma[c]) * s.invstd[c];
    const xm = k.xhatMax[c];
    const terms = tMax + (Math.abs(s1) + xm * Math.abs(s2)) / s.M;
    const dS1 = L * Math.sqrt(n1);
    const dS2 = L * Math.sqrt(n2) + L * k.meanRel[c] * Math.abs(s1) + (L + 2 * U) * Math.abs(s2);
    let e = A * ((L + 2 * U) * terms + (dS1 + xm * dS2) / s.M + (xhatError(L, k, c, xm) * Math.abs(s2)) / s.M + 3 * U * terms);
    if (dir) e += Math.abs(d.gGamma[c]) * xhatError(L, k, c, xm) + 2 * U * (Math.abs(d.gGamma[c]) * xm + Math.abs(d.gBeta[c]));
    worst = Math.max(worst, e);
  }
  return { atol: HEADROOM * worst, rtol: 0 };
}

/** dβ = S1 = Σ dy: L·‖dy_c‖; dγ = S2 = Σ dy·x̂: L·‖dy x̂‖ + Σ dy·δx̂ (as in linearTol). */
function gradTols(d: Data, s: BatchnormSaved, ref: { dGamma: Float64Array; dBeta: Float64Array }): [Tolerance, Tolerance] {
  const { C, HW } = d.g;
  const n = d.x.length / (C * HW);
  const L = sumLevel(s.M);
  const k = channelScales(d, s);
  let tg = 0;
  let tb = 0;
  for (let c = 0; c < C; c++) {
    let n1 = 0;
    let n2 = 0;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < HW; p++) {
        const e = (i * C + c) * HW + p;
        n1 += d.dy[e] ** 2;
        n2 += (d.dy[e] * (d.x[e] - s.mean[c]) * s.invstd[c]) ** 2;
      }
    }
    tb = Math.max(tb, L * Math.sqrt(n1));
    tg = Math.max(tg, L * Math.sqrt(n2) + L * k.meanRel[c] * Math.abs(ref.dBeta[c]) + (L + 2 * U) * Math.abs(ref.dGamma[c]));
  }
  return [
    { atol: HEADROOM * tg, rtol: 0 },
    { atol: HEADROOM * tb, rtol: 0 },
  ];
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

// ---- GPU checks ---------------------------------------------------------------------------------

function forwardCheck(c: Case): KernelCheck {
  return bnCheck(`${caseName(c)}: training forward (+ReLU), running statistics`, async (gpu, s, run) => {
    const d = data(c);
    const g = setup(s, d);
    const [plain, fused] = await Promise.all([load(gpu, d, false), load(gpu, d, true)]);
    const y = guarded(s, 'y', g.total);
    const yRelu = guarded(s, 'yRelu', g.total);
    // The training batch's pass (updates the state), then a validation-like pass (does not).
    run(forward(s, plain, g, y, new Map(), { relu: false, training: true, updateState: true }));
    const [mean1, var1] = await g.state.read(gpu, 'state');
    run(forward(s, fused, g, yRelu, new Map(), { relu: true, training: true, updateState: false }));
    const [mean2, var2] = await g.state.read(gpu, 'state');

    const ref = bnRef.forward([f64(d.x)], [f64(d.gamma), f64(d.beta)], d.node, c.n);
    const saved = ref.saved as BatchnormSaved;
    const tol = forwardTol(d, saved);
    assertClose(await readGuarded(gpu, y, g.total, 'y'), ref.out, tol, 'y');
    assertClose(await readGuarded(gpu, yRelu, g.total, 'y (ReLU)'), relu(ref.out), tol, 'y (ReLU)');
    const next = batchnormRunningUpdate(d.runMean, d.runVar, saved, d.attrs.momentum);
    const [tm, tv] = stateTol(d, saved, next);
    assertClose(mean1, next.mean, tm, 'running_mean');
    assertClose(var1, next.variance, tv, 'running_var');
    assertEqual(mean2, mean1, 'running_mean after a pass without updateState');
    assertEqual(var2, var1, 'running_var after a pass without updateState');
  });
}

function evalCheck(c: Case): KernelCheck {
  return bnCheck(`${caseName(c)}: evaluation forward (+ReLU)`, async (gpu, s, run) => {
    const d = data(c);
    const g = setup(s, d);
    const [plain, fused] = await Promise.all([load(gpu, d, false), load(gpu, d, true)]);
    const y = guarded(s, 'y', g.total);
    const yRelu = guarded(s, 'yRelu', g.total);
    run([
      ...forward(s, plain, g, y, new Map(), { relu: false, training: false, updateState: false }),
      ...forward(s, fused, g, yRelu, new Map(), { relu: true, training: false, updateState: false }),
    ]);
    const ref = batchnormEvalForward(d.x, d.gamma, d.beta, d.runMean, d.runVar, d.g, c.n, d.attrs.eps);
    // No reductions: y = γ (x − m)·invstd + β in a few roundings of u each; invstd ≤ 1.5 here.
    let scale = 0;
    for (let ch = 0; ch < d.g.C; ch++) {
      const inv = 1 / Math.sqrt(d.runVar[ch] + d.attrs.eps);
      scale = Math.max(scale, Math.abs(d.gamma[ch]) * (maxAbs(d.x) + Math.abs(d.runMean[ch])) * inv + Math.abs(d.beta[ch]));
    }
    const tol = { atol: HEADROOM * 4 * U * scale, rtol: 0 };
    assertClose(await readGuarded(gpu, y, g.total, 'y'), ref, tol, 'y (evaluation)');
    assertClose(await readGuarded(gpu, yRelu, g.total, 'y (ReLU)'), relu(ref), tol, 'y (evaluation, ReLU)');
    const [mean, variance] = await g.state.read(gpu, 'state');
    assertEqual(mean, d.runMean, 'running_mean unchanged by evaluation');
    assertEqual(variance, d.runVar, 'running_var unchanged by evaluation');
  });
}

function backwardCheck(c: Case): KernelCheck {
  return bnCheck(`${caseName(c)}: backward, weight gradients`, async (gpu, s, run) => {
    const d = data(c);
    const g = setup(s, d);
    const p = await load(gpu, d, true);
    const aux = new Map<string, GPUBuffer>();
    const y = guarded(s, 'y', g.total);
    const dyRef = uploadAtOffset(s, 'dy', d.dy);
    const dx = guarded(s, 'dx', g.total);
    const grads = new TensorPair(s, 'grads', d.g.C, new Float32Array(d.g.C).fill(STALE), new Float32Array(d.g.C).fill(STALE));
    const gradRefs = { gamma: grads.refs[0], beta: grads.refs[1] };
    const bwd = (inSignal: BufferRef | null) => [
      ...p.backward({ ...passCtx(s, c.n, 'bwd', aux), inputs: [g.x], output: y, params: g.paramRefs, outSignal: dyRef, inSignals: [inSignal] }),
      ...p.weightGrads!({ ...passCtx(s, c.n, 'grad', aux), inputs: [g.x], params: g.paramRefs, outSignal: dyRef, grads: gradRefs, exWeight: null }),
    ];
    run([...forward(s, p, g, y, aux, { relu: true, training: true, updateState: true }), ...bwd(dx)]);
    const ref = bnRef.forward([f64(d.x)], [f64(d.gamma), f64(d.beta)], d.node, c.n);
    const saved = ref.saved as BatchnormSaved;
    const back = bnRef.backward([f64(d.x)], ref.out, f64(d.dy), [f64(d.gamma), f64(d.beta)], d.node, c.n, saved);
    const [dGammaRef, dBetaRef] = back.dParams;
    assertClose(await readGuarded(gpu, dx, g.total, 'dx'), back.dInputs[0], linearTol(d, saved, d.dy, false), 'dx');
    const [tg, tb] = gradTols(d, saved, { dGamma: dGammaRef, dBeta: dBetaRef });
    const [dGamma, dBeta] = await grads.read(gpu, 'weight gradients');
    assertClose(dGamma, dGammaRef, tg, 'dγ');
    assertClose(dBeta, dBetaRef, tb, 'dβ');
    // A node reading the graph input needs no input signal: the weight gradients must not depend on it.
    run([...bwd(null)]);
    const [dGamma2, dBeta2] = await grads.read(gpu, 'weight gradients (no input signal)');
    assertEqual(dGamma2, dGamma, 'dγ without an input signal');
    assertEqual(dBeta2, dBeta, 'dβ without an input signal');
  });
}

function tangentCheck(c: Case): KernelCheck {
  return bnCheck(`${caseName(c)}: tangent (input tangent and direction, each alone)`, async (gpu, s, run) => {
    const d = data(c);
    const g = setup(s, d);
    const p = await load(gpu, d, false);
    const aux = new Map<string, GPUBuffer>();
    const y = guarded(s, 'y', g.total);
    const dxRef = uploadAtOffset(s, 'dx', d.dx);
    const G = new TensorPair(s, 'G', d.g.C, d.gGamma, d.gBeta);
    const outs = [0, 1, 2].map((k) => guarded(s, `dy${k}`, g.total));
    const variants: [BufferRef | null, TensorRefs | null, string][] = [
      [dxRef, { gamma: G.refs[0], beta: G.refs[1] }, 'input tangent and direction'],
      [dxRef, null, 'input tangent alone'],
      [null, { gamma: G.refs[0], beta: G.refs[1] }, 'direction alone'],
    ];
    const ds = variants.flatMap(([dx, direction], k) =>
      p.tangent({
        ...passCtx(s, c.n, `tan${k}`, aux),
        inputs: [g.x],
        output: y,
        params: g.paramRefs,
        inTangents: [dx],
        direction,
        outTangent: outs[k],
        scratch: () => {
          throw new Error('batchnorm needs no scratch');
        },
      }),
    );
    run([...forward(s, p, g, y, aux, { relu: false, training: true, updateState: false }), ...ds]);
    const ref = bnRef.forward([f64(d.x)], [f64(d.gamma), f64(d.beta)], d.node, c.n);
    const saved = ref.saved as BatchnormSaved;
    for (const [k, [dx, direction, what]] of variants.entries()) {
      const want = bnRef.tangent([f64(d.x)], [dx ? f64(d.dx) : null], [f64(d.gamma), f64(d.beta)], direction ? [f64(d.gGamma), f64(d.gBeta)] : null, d.node, c.n, ref.out, saved);
      const tol = linearTol(d, saved, dx ? d.dx : null, direction !== null);
      assertClose(await readGuarded(gpu, outs[k], g.total, what), want, tol, `tangent, ${what}`);
    }
  });
}

const refusals = bnCheck('evaluation-mode backward and tangent, per-example weights and bad attributes are refused', async (gpu, s, _run, own) => {
  const c = CASES[1];
  const d = data(c);
  const g = setup(s, d);
  const p = await load(gpu, d, false);
  const aux = new Map<string, GPUBuffer>();
  const y = guarded(s, 'y', g.total);
  own(forward(s, p, g, y, aux, { relu: false, training: false, updateState: false }));
  const sig = s.buffer('sig', g.total * 4);
  assertThrows(() => p.backward({ ...passCtx(s, c.n, 'bwd', aux), inputs: [g.x], output: y, params: g.paramRefs, outSignal: sig, inSignals: [null] }), /evaluation mode/, 'eval backward');
  assertThrows(
    () => p.tangent({ ...passCtx(s, c.n, 'tan', aux), inputs: [g.x], output: y, params: g.paramRefs, inTangents: [sig], direction: null, outTangent: s.buffer('t', g.total * 4), scratch: () => sig }),
    /evaluation mode/,
    'eval tangent',
  );
  const trainAux = new Map<string, GPUBuffer>();
  own(forward(s, p, g, y, trainAux, { relu: false, training: true, updateState: false }));
  const grads = new TensorPair(s, 'grads', d.g.C, d.gamma, d.beta);
  assertThrows(
    () => p.weightGrads!({ ...passCtx(s, c.n, 'grad', trainAux), inputs: [g.x], params: g.paramRefs, outSignal: sig, grads: { gamma: grads.refs[0], beta: grads.refs[1] }, exWeight: sig }),
    /couples the examples/,
    'per-example weights',
  );
  assertThrows(() => forward(s, p, g, y, trainAux, { relu: true, training: true, updateState: false }), /loaded without/, 'ReLU the node was not loaded with');
  for (const bad of [{ momentum: 0 }, { momentum: 1.5 }, { eps: 0 }, { eps: -1 }, { eps: 'x' }, { scale: 2 }] as OpAttrs[]) {
    assertThrows(() => batchnormOp.checkAttrs(bad, 'bn'), /attribute/, `attrs ${JSON.stringify(bad)}`);
  }
  assertEqual(batchnormOp.checkAttrs({}, 'bn'), { momentum: 0.1, eps: 1e-5 }, 'default attributes');
  assertThrows(() => batchnormOp.outShape([[2, 3]], { momentum: 0.1, eps: 1e-5 }, 'bn'), /\[C, H, W\] or a vector/, 'a 2-D input');
  // One workgroup per channel: more channels than a dispatch dimension allows are refused at plan time.
  const wide = await batchnormOp.load(gpu, { inShapes: [[70000]], outShape: [70000], attrs: { momentum: 0.1, eps: 1e-5 }, fusedRelu: false });
  assertThrows(
    () => wide.forward({ ...passCtx(s, 1, 'wide', new Map()), inputs: [g.x], output: y, params: g.paramRefs, state: g.stateRefs, relu: false, training: true, updateState: false }),
    /channels exceed/,
    'more channels than workgroups',
  );
});

// ---- the float64 reference against finite differences --------------------------------------------

/** Central differences of a scalar function of a vector, along a direction. */
function directional(f: (v: Float64Array) => number, v: Float64Array, dir: Float64Array, h: number): number {
  const at = (t: number) => f(v.map((x, i) => x + t * dir[i]));
  return (at(h) - at(-h)) / (2 * h);
}

function fdCases(): { n: number; shape: number[]; attrs: Record<string, number> }[] {
  return [
    { n: 3, shape: [2, 3, 4], attrs: { eps: 1e-3 } },
    { n: 4, shape: [3], attrs: {} },
    { n: 1, shape: [2, 2, 3], attrs: {} },
  ];
}

const referenceChecks: KernelCheck[] = fdCases().flatMap(({ n, shape, attrs }) => {
  const name = `N=${n} [${shape.join(',')}]`;
  const node: RefNode = { id: 'bn', attrs: batchnormOp.checkAttrs(attrs, 'bn'), inShapes: [shape], outShape: shape };
  const rng = new Rng(n * 31 + sizeOf(shape));
  const g = bnGeometry(shape);
  const size = n * g.C * g.HW;
  const x = Float64Array.from({ length: size }, (_, e) => rng.normal() * (1 + ((e / g.HW) % g.C)) + 0.5);
  const gamma = Float64Array.from({ length: g.C }, () => rng.uniform(0.5, 1.5));
  const beta = Float64Array.from({ length: g.C }, () => rng.uniform(-1, 1));
  const r = Float64Array.from({ length: size }, () => rng.normal());
  // Central differences in float64 with h = 1e-5: truncation ~h²·|f'''| ~ 1e-10, rounding ~1e-16/h ~
  // 1e-11, against derivatives of order 1: 1e-8 absolute is 100x above both.
  const fdTol = { atol: 1e-8, rtol: 1e-7 };
  const h = 1e-5;
  // L(x, γ, β) = Σ r·y, whose gradient the backward pass gives with dy = r.
  const loss = (xx: Float64Array, gg: Float64Array, bb: Float64Array) => {
    const y = bnRef.forward([xx], [gg, bb], node, n).out;
    return y.reduce((a, v, i) => a + v * r[i], 0);
  };
  const unit = (len: number, i: number) => Float64Array.from({ length: len }, (_, j) => (j === i ? 1 : 0));
  return [
    cpuCheck(`reference ${name}: backward vs central differences`, () => {
      const fwd = bnRef.forward([x], [gamma, beta], node, n);
      const back = bnRef.backward([x], fwd.out, r, [gamma, beta], node, n, fwd.saved);
      const fdX = Float64Array.from({ length: size }, (_, i) => directional((v) => loss(v, gamma, beta), x, unit(size, i), h));
      const fdG = Float64Array.from({ length: g.C }, (_, i) => directional((v) => loss(x, v, beta), gamma, unit(g.C, i), h));
      const fdB = Float64Array.from({ length: g.C }, (_, i) => directional((v) => loss(x, gamma, v), beta, unit(g.C, i), h));
      assertClose(back.dInputs[0], fdX, fdTol, 'dx');
      assertClose(back.dParams[0], fdG, fdTol, 'dγ');
      assertClose(back.dParams[1], fdB, fdTol, 'dβ');
      // Σ over a channel of dx is 0 (the mean is subtracted), a sanity check on the coupling terms.
      for (let c = 0; c < g.C; c++) {
        let sum = 0;
        for (let i = 0; i < n; i++) for (let p = 0; p < g.HW; p++) sum += back.dInputs[0][(i * g.C + c) * g.HW + p];
        assert(Math.abs(sum) < 1e-12, `Σ dx over channel ${c}`, `${sum}`);
      }
    }),
    cpuCheck(`reference ${name}: tangent vs central differences`, () => {
      const fwd = bnRef.forward([x], [gamma, beta], node, n);
      const dx = Float64Array.from({ length: size }, () => rng.normal());
      const gG = Float64Array.from({ length: g.C }, () => rng.normal());
      const gB = Float64Array.from({ length: g.C }, () => rng.normal());
      const along = (t: number) => bnRef.forward([x.map((v, i) => v + t * dx[i])], [gamma.map((v, i) => v + t * gG[i]), beta.map((v, i) => v + t * gB[i])], node, n).out;
      const [up, down] = [along(h), along(-h)];
      const fd = up.map((v, i) => (v - down[i]) / (2 * h));
      assertClose(bnRef.tangent([x], [dx], [gamma, beta], [gG, gB], node, n, fwd.out, fwd.saved), fd, fdTol, 'tangent');
      // The tangent along dx alone is the transpose of the backward map: ⟨r, J dx⟩ = ⟨Jᵀ r, dx⟩.
      const jdx = bnRef.tangent([x], [dx], [gamma, beta], null, node, n, fwd.out, fwd.saved);
      const jtr = bnRef.backward([x], fwd.out, r, [gamma, beta], node, n, fwd.saved).dInputs[0];
      const lhs = jdx.reduce((a, v, i) => a + v * r[i], 0);
      const rhs = jtr.reduce((a, v, i) => a + v * dx[i], 0);
      assert(Math.abs(lhs - rhs) <= 1e-12 * (1 + Math.abs(lhs)), 'tangent and backward are transposes', `${lhs} vs ${rhs}`);
    }),
    cpuCheck(`reference ${name}: evaluation forward with the batch statistics as running statistics equals the training forward`, () => {
      const fwd = bnRef.forward([x], [gamma, beta], node, n);
      const st = batchnormStats(x, g, n, bnAttrs(node).eps);
      const ev = batchnormEvalForward(x, gamma, beta, st.mean, st.variance, g, n, bnAttrs(node).eps);
      assertClose(ev, fwd.out, { atol: 1e-13, rtol: 1e-13 }, 'evaluation vs training forward');
    }),
  ];
});

export const batchnormChecks: CheckGroup = {
  group: 'batchnorm',
  checks: [...referenceChecks, ...CASES.flatMap((c) => [forwardCheck(c), evalCheck(c), backwardCheck(c), tangentCheck(c)]), refusals],
};
