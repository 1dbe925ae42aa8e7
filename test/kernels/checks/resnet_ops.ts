// The ops the paper's CIFAR ResNet-32 adds (pre-activation units whose shortcut, when a unit changes
// shape, average-pools 2x2 and zero-pads the channels; global average pooling before the dense layer)
// checked here:
//   1. the float64 references of global_avg_pool, avgpool2, pad_channels and bias-free conv2d against
//      central finite differences (backward) and directional ones (tangent), plus the adjoint identity;
//   2. the three ops' GPU programs (kernels window_mean and window_spread, run through the op modules'
//      own forward / backward / tangent, so the shapes they pass are checked too) against those
//      references on awkward shapes, with a guard element past every output and stale pre-filled
//      outputs (an element the kernel skips shows);
//   3. window_spread in its general form (window and channel shift at once), bindings at offsets,
//      and the wrappers' argument checks.
// The convolution kernels at the ResNet-32 shapes are cases of the conv2d group (checks/conv2d.ts).
import type { Gpu } from '../../../src/gpu/gpu';
import { runDispatches } from '../../../src/kernels/kernel';
import { WindowMean } from '../../../src/kernels/window_mean';
import { channelShift, WindowSpread } from '../../../src/kernels/window_spread';
import { avgpool2 } from '../../../src/train/ops/avgpool2';
import { conv2d } from '../../../src/train/ops/conv2d';
import { globalAvgPool } from '../../../src/train/ops/global_avg_pool';
import type { OpAttrs, OpDef } from '../../../src/train/ops/op';
import { padChannels } from '../../../src/train/ops/pad_channels';
import { Rng } from '../../../src/util/rng';
import type { Tolerance } from '../../helpers/compare';
import { avgpool2 as avgpool2Ref } from '../../reference/ops/avgpool2';
import { conv2d as conv2dRef } from '../../reference/ops/conv2d';
import { globalAvgPool as globalAvgPoolRef } from '../../reference/ops/global_avg_pool';
import { padChannels as padChannelsRef } from '../../reference/ops/pad_channels';
import type { RefNode, RefOp } from '../../reference/ops/ref_op';
import { assert, assertClose, assertSame, assertThrows, cpuCheck, gpuCheck, maxAbs, type CheckGroup, type KernelCheck, type Scratch } from './check';

const GUARD = 42;
const STALE = -777; // pre-filled into outputs: an element a kernel skips (or accumulates into) shows

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The node as the resolver builds it, from the op module's own attribute and shape rules. */
function opNode(def: OpDef, raw: OpAttrs, inShape: number[], id: string): RefNode {
  const attrs = def.checkAttrs(raw, id);
  return { id, attrs, inShapes: [inShape], outShape: def.outShape([inShape], attrs, id) };
}

// ---- 1. float64 references against finite differences ------------------------------------------

// Each op is linear in its input (conv2d: in the input and in the weight separately, bilinear
// jointly), so central differences have no truncation error: coordinate-wise ones are exact, and
// for the joint (input, weight) direction the h² term cancels between +h and −h. What remains is
// float64 rounding of L = <c, y> (≲ 10³ terms of O(1): ≲ 1e-13 absolute) divided by 2h = 2e-3, so
// ≲ 1e-10: atol 1e-9 leaves a 10x margin; a wrong index or a dropped term is off by O(0.1–1).
const FD_H = 1e-3;
const FD_TOL: Tolerance = { atol: 1e-9, rtol: 1e-9 };
// <c, tangent(d)> = <backward(c), d> is exact in real arithmetic; float64 rounding of ≲ 10⁴ products
// is ≲ 1e-12 relative to the sum of magnitudes.
const ADJOINT_RTOL = 1e-12;

interface RefCase {
  name: string;
  def: OpDef;
  ref: RefOp;
  attrs: OpAttrs;
  inShape: number[];
  n: number;
}

const REF_CASES: RefCase[] = [
  { name: 'global_avg_pool [3,4,6], n = 3', def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [3, 4, 6], n: 3 },
  { name: 'global_avg_pool [1,1,1], n = 1', def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [1, 1, 1], n: 1 },
  { name: 'global_avg_pool [5,2,2], n = 1', def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [5, 2, 2], n: 1 },
  { name: 'avgpool2 [3,4,6], n = 3', def: avgpool2, ref: avgpool2Ref, attrs: {}, inShape: [3, 4, 6], n: 3 },
  { name: 'avgpool2 [1,2,2], n = 1', def: avgpool2, ref: avgpool2Ref, attrs: {}, inShape: [1, 2, 2], n: 1 },
  { name: 'pad_channels (1,1) [3,2,3], n = 3', def: padChannels, ref: padChannelsRef, attrs: { before: 1, after: 1 }, inShape: [3, 2, 3], n: 3 },
  { name: 'pad_channels (0,2) [1,2,2], n = 1', def: padChannels, ref: padChannelsRef, attrs: { before: 0, after: 2 }, inShape: [1, 2, 2], n: 1 },
  { name: 'pad_channels (3,0) [2,1,3], n = 2', def: padChannels, ref: padChannelsRef, attrs: { before: 3 }, inShape: [2, 1, 3], n: 2 },
  { name: 'conv2d bias false [3,5,5] k3 s2 p1 -> 4, n = 3', def: conv2d, ref: conv2dRef, attrs: { channels: 4, kernel: 3, stride: 2, pad: 1, bias: false }, inShape: [3, 5, 5], n: 3 },
  { name: 'conv2d bias false [2,4,4] k3 p1 -> 3, n = 1', def: conv2d, ref: conv2dRef, attrs: { channels: 3, kernel: 3, pad: 1, bias: false }, inShape: [2, 4, 4], n: 1 },
];

const f64normals = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const absDot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] * b[i]);
  return s;
};
const along = (v: ArrayLike<number>, d: ArrayLike<number>, t: number) => Float64Array.from(v, (x, j) => x + t * d[j]);

function referenceCheck(c: RefCase, seed: number): KernelCheck {
  return cpuCheck(`float64 reference against finite differences: ${c.name}`, () => {
    const rng = new Rng(seed);
    const node = opNode(c.def, c.attrs, c.inShape, c.name);
    const paramShapes = (c.def.params?.([c.inShape], node.attrs) ?? []).map((p) => p.shape);
    assert(!(c.def === conv2d && node.attrs.bias === false) || paramShapes.length === 1, `${c.name}: a bias-free conv2d declares only its weight`);
    const { n, ref } = c;
    const x = f64normals(rng, n * size(c.inShape));
    const params = paramShapes.map((s) => f64normals(rng, size(s)));
    const outLen = n * size(node.outShape);
    const fwd = ref.forward([x], params, node, n);
    assertSame(fwd.out.length, outLen, 'output length');
    const cOut = f64normals(rng, outLen);
    const L = (xx: Float64Array, ps: Float64Array[]) => dot(cOut, ref.forward([xx], ps, node, n).out);
    const bwd = ref.backward([x], fwd.out, cOut, params, node, n, fwd.saved);
    assertSame(bwd.dParams.length, params.length, 'one gradient per parameter tensor');
    const fdOf = (v: Float64Array, evalAt: (w: Float64Array) => number) =>
      Float64Array.from(v, (_, k) => {
        const up = Float64Array.from(v);
        const down = Float64Array.from(v);
        up[k] += FD_H;
        down[k] -= FD_H;
        return (evalAt(up) - evalAt(down)) / (2 * FD_H);
      });
    assertClose(bwd.dInputs[0], fdOf(x, (xx) => L(xx, params)), FD_TOL, `${c.name}: ∂L/∂x`);
    params.forEach((p, j) => assertClose(bwd.dParams[j], fdOf(p, (pp) => L(x, params.map((q, jj) => (jj === j ? pp : q)))), FD_TOL, `${c.name}: ∂L/∂param${j}`));
    assert(maxAbs(bwd.dInputs[0]) > 1e-3, `${c.name}: the input signal is not trivially zero`);

    // Tangents: along the input, along the parameters (when any), and both.
    const dx = f64normals(rng, x.length);
    const G = params.map((p) => f64normals(rng, p.length));
    const variants: [string, Float64Array | null, Float64Array[] | null][] = [['input', dx, null]];
    if (params.length) variants.push(['parameters', null, G], ['input and parameters', dx, G]);
    for (const [what, d, g] of variants) {
      const t = ref.tangent([x], [d], params, g, node, n, fwd.out, fwd.saved);
      const at = (h: number) => ref.forward([d ? along(x, d, h) : x], params.map((p, j) => (g ? along(p, g[j], h) : p)), node, n).out;
      const plus = at(FD_H);
      const minus = at(-FD_H);
      assertClose(t, Float64Array.from(plus, (v, k) => (v - minus[k]) / (2 * FD_H)), FD_TOL, `${c.name}: tangent along the ${what}`);
      const rhs = (d ? dot(bwd.dInputs[0], d) : 0) + (g ? g.reduce((a, gj, j) => a + dot(bwd.dParams[j], gj), 0) : 0);
      const mag = absDot(cOut, t) + (d ? absDot(bwd.dInputs[0], d) : 0) + (g ? g.reduce((a, gj, j) => a + absDot(bwd.dParams[j], gj), 0) : 0);
      assert(Math.abs(dot(cOut, t) - rhs) <= ADJOINT_RTOL * (1 + mag), `${c.name}: adjoint identity along the ${what}`, `${dot(cOut, t)} vs ${rhs}`);
    }
    // A zero input tangent (null) gives a zero output tangent for the parameter-free ops.
    if (!params.length) assert(ref.tangent([x], [null], [], null, node, n, fwd.out, fwd.saved).every((v) => v === 0), `${c.name}: zero tangent`);
  });
}

// ---- 2. the ops' GPU programs against the references ----------------------------------------------

/** A buffer of `count` stale floats and one guard element past them. */
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

/**
 * fp32 window means of L inputs of magnitude ≤ mag: a sequential f32 sum errs by ≤ 2^-24 Σ_k |S_k|
 * (S_k the partial sums), which for random signs is ≈ (2/3) L^1.5 σ 2^-24, so the mean errs by
 * ≈ (2/3) √L σ 2^-24; atol 8 √L mag 2^-24 has ≥ 20x margin (mag ≈ 3–4σ). rtol 2^-22 covers the
 * scale 1/L rounded to f32 and the product's rounding (2 ulp). At L = 1024 (a 32x32 mean) a single
 * dropped or wrong element moves the mean by ~σ/1024 ≈ 1e-3, still 15x the atol (~6e-5).
 */
function meanTol(L: number, mag: number): Tolerance {
  return { atol: 8 * Math.sqrt(L) * mag * 2 ** -24, rtol: 2 ** -22 };
}
/** window_spread computes scale · src in f32: scale = f32(1/L) and the product, 2 ulp; exact for scale 1. */
const SPREAD_TOL: Tolerance = { atol: 0, rtol: 2 ** -22 };
const EXACT: Tolerance = { atol: 0, rtol: 0 };

interface OpCase {
  def: OpDef;
  ref: RefOp;
  attrs: OpAttrs;
  inShape: number[];
  n: number;
}

/** Mean window length and the tolerances of the op's three passes. */
function opTolerances(c: OpCase, mag: number): { forward: Tolerance; backward: Tolerance } {
  const [, H, W] = c.inShape;
  if (c.def === padChannels) return { forward: EXACT, backward: EXACT };
  const L = c.def === avgpool2 ? 4 : H * W;
  // A power-of-two window scales by an exact power of two.
  return { forward: meanTol(L, mag), backward: Number.isInteger(Math.log2(L)) ? EXACT : SPREAD_TOL };
}

const OP_CASES: OpCase[] = [
  // global average pooling: 1x1, 2x2, 8x8 (the ResNet's last maps), 7x5 (1/35 inexact), 32x32
  { def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [3, 2, 2], n: 1 },
  { def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [1, 1, 1], n: 3 },
  { def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [5, 8, 8], n: 3 },
  { def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [7, 7, 5], n: 3 },
  { def: globalAvgPool, ref: globalAvgPoolRef, attrs: {}, inShape: [3, 32, 32], n: 3 },
  // 2x2 average pooling: 2x2, 8x8, 32x32 (the shortcut at 32 -> 16), non-square
  { def: avgpool2, ref: avgpool2Ref, attrs: {}, inShape: [3, 2, 2], n: 1 },
  { def: avgpool2, ref: avgpool2Ref, attrs: {}, inShape: [5, 8, 8], n: 3 },
  { def: avgpool2, ref: avgpool2Ref, attrs: {}, inShape: [3, 32, 32], n: 3 },
  { def: avgpool2, ref: avgpool2Ref, attrs: {}, inShape: [1, 4, 10], n: 1 },
  // channel padding: the ResNet's 16 -> 32 at 16x16 and 32 -> 64 at 8x8, odd counts, one side only
  { def: padChannels, ref: padChannelsRef, attrs: { before: 1, after: 1 }, inShape: [3, 2, 2], n: 1 },
  { def: padChannels, ref: padChannelsRef, attrs: { before: 0, after: 2 }, inShape: [5, 8, 8], n: 3 },
  { def: padChannels, ref: padChannelsRef, attrs: { before: 3 }, inShape: [7, 32, 32], n: 3 },
  { def: padChannels, ref: padChannelsRef, attrs: { before: 8, after: 8 }, inShape: [16, 16, 16], n: 1 },
  { def: padChannels, ref: padChannelsRef, attrs: { before: 16, after: 16 }, inShape: [32, 8, 8], n: 3 },
];

function opCaseName(c: OpCase): string {
  const a = Object.entries(c.attrs);
  return `${c.def.name}${a.length ? ` (${a.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''} [${c.inShape}], N=${c.n}`;
}

function opCheck(c: OpCase, seed: number): KernelCheck {
  const name = opCaseName(c);
  return gpuCheck(`${name}: forward, backward and tangent against the float64 reference`, async (gpu, s) => {
    const rng = new Rng(seed);
    const node = opNode(c.def, c.attrs, c.inShape, name);
    const program = await c.def.load(gpu, { inShapes: [c.inShape], outShape: node.outShape, attrs: node.attrs, fusedRelu: false });
    const { n } = c;
    const inLen = n * size(c.inShape);
    const outLen = n * size(node.outShape);
    const x = rng.normals(inLen);
    const dy = rng.normals(outLen);
    const dx = rng.normals(inLen);
    const bx = s.upload('x', x);
    const bdy = s.upload('dy', dy);
    const bdx = s.upload('dx', dx);
    const by = output(s, 'y', outLen);
    const bsig = output(s, 'signal', inLen);
    const btan = output(s, 'tangent', outLen);
    const none = (what: string) => () => {
      throw new Error(`${name}: a linear op asked for ${what}`);
    };
    const base = { n, label: name, aux: none('aux'), constant: none('a constant'), inputs: [bx], params: {} };
    const forward = program.forward({ ...base, output: by, state: {}, relu: false, training: true, updateState: false });
    const backward = program.backward({ ...base, output: by, outSignal: bdy, inSignals: [bsig] });
    const tangent = program.tangent({ ...base, output: by, inTangents: [bdx], direction: null, outTangent: btan, scratch: none('scratch') });
    assertSame(program.weightGrads, undefined, 'no weight gradients');
    assertSame(program.backward({ ...base, output: by, outSignal: bdy, inSignals: [null] }).length, 0, 'no backward dispatch when the input needs no signal');
    assertSame(program.tangent({ ...base, output: by, inTangents: [null], direction: null, outTangent: btan, scratch: none('scratch') }).length, 0, 'no tangent dispatch for a zero input tangent');
    runDispatches(gpu, [...forward, ...backward, ...tangent]);
    try {
      const ref = c.ref;
      const f64 = (a: Float32Array) => Float64Array.from(a);
      const fwd = ref.forward([f64(x)], [], node, n);
      const tol = opTolerances(c, maxAbs(x));
      assertClose(await readGuarded(gpu, by, outLen, 'forward'), fwd.out, tol.forward, `${name} forward`);
      const bwd = ref.backward([f64(x)], fwd.out, f64(dy), [], node, n, fwd.saved);
      assertClose(await readGuarded(gpu, bsig, inLen, 'backward'), bwd.dInputs[0], tol.backward, `${name} backward`);
      const tan = ref.tangent([f64(x)], [f64(dx)], [], null, node, n, fwd.out, fwd.saved);
      assertClose(await readGuarded(gpu, btan, outLen, 'tangent'), tan, opTolerances(c, maxAbs(dx)).forward, `${name} tangent`);
    } finally {
      for (const d of [...forward, ...backward, ...tangent]) d.destroy();
    }
  });
}

// ---- 3. window_spread in general, offsets, argument checks --------------------------------------

const kernelChecks: KernelCheck[] = [
  gpuCheck('window_spread with a 2x2 window and a channel shift at once = pad_channels(avgpool2 backward)', async (gpu, s) => {
    // out [N, Cout, H, W] = pad(spread(src) / 4): src [2, 3, 3, 2] spread to 6x4, shifted by 2 into 6 channels.
    const N = 2;
    const C = 3;
    const rng = new Rng(7);
    const src = rng.normals(N * C * 3 * 2);
    const spreadNode = opNode(avgpool2, {}, [C, 6, 4], 'pool');
    const padNode = opNode(padChannels, { before: 2, after: 1 }, [C, 6, 4], 'pad');
    const unpooled = avgpool2Ref.backward([new Float64Array(N * C * 24)], new Float64Array(src.length), Float64Array.from(src), [], spreadNode, N, undefined).dInputs[0];
    const want = padChannelsRef.forward([unpooled], [], padNode, N).out;
    const out = output(s, 'out', want.length);
    const kernel = await WindowSpread.create(gpu);
    runDispatches(gpu, [kernel.plan(s.upload('src', src), out, { N, Cin: C, Cout: 6, H: 6, W: 4, KH: 2, KW: 2, shift: 2, scale: 0.25 })]);
    assertClose(await readGuarded(gpu, out, want.length, 'spread'), want, EXACT, 'spread + shift');
  }),

  gpuCheck('window_mean and window_spread with bindings at 256-byte offsets', async (gpu, s) => {
    const shape = { N: 3, C: 5, H: 4, W: 6, KH: 2, KW: 3 };
    const rng = new Rng(11);
    const x = rng.normals(3 * 5 * 24);
    const OFF = 64;
    const place = (label: string, d: Float32Array) => {
      const a = new Float32Array(OFF + d.length + 1).fill(1e6);
      a.set(d, OFF);
      a[OFF + d.length] = GUARD;
      return s.upload(label, a);
    };
    const ref = (b: GPUBuffer, count: number) => ({ buffer: b, offset: OFF * 4, size: count * 4 });
    const yLen = 3 * 5 * 2 * 2;
    const bx = place('x', x);
    const by = place('y', new Float32Array(yLen).fill(STALE));
    const bback = place('back', new Float32Array(x.length).fill(STALE));
    const [mean, spread] = await Promise.all([WindowMean.create(gpu), WindowSpread.create(gpu)]);
    runDispatches(gpu, [mean.plan(ref(bx, x.length), ref(by, yLen), shape), spread.plan(ref(by, yLen), ref(bback, x.length), { ...channelShift(3, 5, 5, 4, 6, 0), KH: 2, KW: 3, scale: 2 })]);
    const read = async (b: GPUBuffer, count: number, what: string) => {
      const all = await gpu.readF32(b, OFF + count + 1);
      assertSame(all[OFF - 1], 1e6, `${what}: the element before the binding`);
      assertSame(all[OFF + count], GUARD, `${what}: the guard after the binding`);
      return all.subarray(OFF, OFF + count);
    };
    // float64 window means of the 2x3 windows, then each spread back over its window times 2.
    const want = new Float64Array(yLen);
    for (let plane = 0; plane < 15; plane++) {
      for (let p = 0; p < 2; p++) {
        for (let q = 0; q < 2; q++) {
          let sum = 0;
          for (let r = 0; r < 2; r++) for (let t = 0; t < 3; t++) sum += x[plane * 24 + (2 * p + r) * 6 + 3 * q + t];
          want[(plane * 2 + p) * 2 + q] = sum / 6;
        }
      }
    }
    const y = await read(by, yLen, 'mean');
    assertClose(y, want, meanTol(6, maxAbs(x)), 'mean at offset');
    const back = await read(bback, x.length, 'spread');
    const wantBack = Float64Array.from(x, (_, i) => {
      const plane = Math.floor(i / 24);
      const h = Math.floor((i % 24) / 6);
      const w = i % 6;
      return 2 * y[(plane * 2 + Math.floor(h / 2)) * 2 + Math.floor(w / 3)];
    });
    assertClose(back, wantBack, EXACT, 'spread at offset');
  }),

  gpuCheck('the wrappers reject windows that do not tile the plane, aliased buffers and bad shifts', async (gpu, s) => {
    const b = s.buffer('a', 256);
    const other = s.buffer('b', 256);
    const [mean, spread] = await Promise.all([WindowMean.create(gpu), WindowSpread.create(gpu)]);
    assertThrows(() => mean.plan(b, other, { N: 1, C: 1, H: 5, W: 4, KH: 2, KW: 2 }), /do not tile a 5x4 plane/, 'odd height');
    assertThrows(() => mean.plan(b, other, { N: 0, C: 1, H: 2, W: 2, KH: 2, KW: 2 }), /N must be a positive integer/, 'N = 0');
    assertThrows(() => mean.plan(b, b, { N: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2 }), /buffer other than/, 'aliased mean');
    assertThrows(() => spread.plan(b, b, channelShift(1, 2, 4, 2, 2, 1)), /buffer other than/, 'aliased spread');
    assertThrows(() => spread.plan(b, other, channelShift(1, 2, 4, 2, 2, 0.5)), /shift must be an i32/, 'fractional shift');
    assertThrows(() => spread.plan(b, other, { ...channelShift(1, 2, 4, 3, 2, 0), KH: 2 }), /do not tile/, 'spread window');
    assertThrows(() => spread.plan(b, other, channelShift(1, 0, 4, 2, 2, 0)), /Cin must be a positive integer/, 'Cin = 0');
  }),
];

export const resnetOpsChecks: CheckGroup = {
  group: 'resnet_ops',
  checks: [...REF_CASES.map((c, i) => referenceCheck(c, 300 + i)), ...OP_CASES.map((c, i) => opCheck(c, 400 + i)), ...kernelChecks],
};
