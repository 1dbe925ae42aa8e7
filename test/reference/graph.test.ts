// The float64 graph interpreter and its per-op references, checked against central finite differences:
// every op's backward and tangent on awkward shapes, and whole graphs with a skip connection (a tensor
// with two consumers), with and without an op that couples the examples of a batch.
import { describe, expect, it } from 'vitest';
import { skipGraph } from '../helpers/specs';
import { opDef, type OpAttrs } from '../../src/train/ops/op';
import { INPUT, resolveModel, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Rng } from '../../src/util/rng';
import {
  activationPattern,
  backwardBatch,
  batchGrad,
  batchLoss,
  exampleLosses,
  forwardBatch,
  kinkMargins,
  lossSignal,
  lossTangents,
  paramOffsets,
  perExampleGrads,
  tangentBatch,
  thetaLength,
} from './graph';
import { alignments, epsGradFiniteDiff, initParams, validationGrad } from './l2rw';
import { exampleGrad, forward, kinkMargin } from './network';
import { center } from './ops/center';
import { conv2d, convBackward, convGeometry } from './ops/conv2d';
import { REF_OPS, type RefNode } from './ops/index';

// ---------------------------------------------------------------------------------------------
// Tolerances.
//
// Central differences with h = 1e-6. Inside one smooth piece every op is linear in each of its
// arguments separately (conv2d and dense are bilinear in (input, weight)), so a coordinate-wise
// difference of an op has no truncation error at all, and a directional one (tangent checks) has
// h²/6·|third derivative|: at most ~1e-12 · O(10) for the cubic-in-θ graphs below. What remains is
// rounding: the functionals are O(1)–O(10) sums of ≲ 10³ terms, exact to ≲ 1e-13 absolute, which
// divided by 2h is ≲ 5e-8 (typically ~1e-10). So |fd − analytic| ≤ 1e-7 + 1e-6·|analytic|; a wrong
// index, a dropped term or a missed consumer is off by O(|analytic|) ≫ that.
const FD_H = 1e-6;
const FD_TOL = { atol: 1e-7, rtol: 1e-6 };
// Algebraic identities (adjoint of backward and tangent, Σ_i s_i = <∇Σf_i, g>, forward vs reverse
// mode) hold exactly in real arithmetic; in float64 they differ by the rounding of sums of ≲ 10⁴
// products, ≲ 1e-13 relative to the sum of the magnitudes of the terms.
const ID_RTOL = 1e-12;

function expectClose(actual: number, expected: number, tol: { atol: number; rtol: number }, msg: string): void {
  expect(Math.abs(actual - expected), `${msg}: got ${actual}, expected ${expected}`).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(expected));
}

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { atol: number; rtol: number }, msg: string): void {
  expect(actual.length, `${msg}: length`).toBe(expected.length);
  for (let j = 0; j < expected.length; j++) expectClose(actual[j], expected[j], tol, `${msg} [${j}]`);
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

const absDot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] * b[i]);
  return s;
};

const normals = (rng: Rng, n: number): Float64Array => Float64Array.from({ length: n }, () => rng.normal());

/** v + t·d, fresh. */
const along = (v: ArrayLike<number>, d: ArrayLike<number>, t: number): Float64Array => Float64Array.from(v, (x, j) => x + t * d[j]);

/** v with coordinate j moved by t, fresh. */
const bumped = (v: ArrayLike<number>, j: number, t: number): Float64Array => {
  const out = Float64Array.from(v);
  out[j] += t;
  return out;
};

// ---------------------------------------------------------------------------------------------
// Single ops.

interface OpCase {
  name: string;
  op: string;
  inShapes: number[][];
  attrs?: OpAttrs;
  n: number;
  /** How to draw the inputs: 'relu' keeps |x| ≥ 0.05; 'pool' makes every value distinct, 0.01 apart. */
  inputs?: 'normal' | 'relu' | 'pool';
}

/** The node as the resolver would build it, from the registered op's own shape and parameter rules. */
function opNode(c: OpCase): { node: RefNode; paramShapes: number[][] } {
  const def = opDef(c.op, c.name);
  const attrs = def.checkAttrs(c.attrs ?? {}, c.name);
  const outShape = def.outShape(c.inShapes, attrs, c.name);
  const paramShapes = (def.params?.(c.inShapes, attrs) ?? []).map((p) => p.shape);
  return { node: { id: c.name, attrs, inShapes: c.inShapes, outShape }, paramShapes };
}

function drawInputs(c: OpCase, rng: Rng): Float64Array[] {
  return c.inShapes.map((s) => {
    const len = c.n * shapeSize(s);
    if (c.inputs === 'relu') return Float64Array.from({ length: len }, () => (rng.next() < 0.5 ? -1 : 1) * (0.05 + Math.abs(rng.normal())));
    if (c.inputs === 'pool') {
      const perm = rng.shuffle(Array.from({ length: len }, (_, j) => j)) as number[];
      return Float64Array.from(perm, (p) => 0.01 * (p - len / 2));
    }
    return normals(rng, len);
  });
}

const OP_CASES: OpCase[] = [
  { name: 'dense 7 -> 5, n = 1', op: 'dense', inShapes: [[7]], attrs: { units: 5 }, n: 1 },
  { name: 'dense 7 -> 5, n = 3', op: 'dense', inShapes: [[7]], attrs: { units: 5 }, n: 3 },
  { name: 'dense 1 -> 1, n = 3', op: 'dense', inShapes: [[1]], attrs: { units: 1 }, n: 3 },
  { name: 'conv2d [3,7,6] k3 s2 p1 -> 4, n = 3', op: 'conv2d', inShapes: [[3, 7, 6]], attrs: { channels: 4, kernel: 3, stride: 2, pad: 1 }, n: 3 },
  { name: 'conv2d [2,5,5] k2 -> 3, n = 1', op: 'conv2d', inShapes: [[2, 5, 5]], attrs: { channels: 3, kernel: 2 }, n: 1 },
  { name: 'conv2d [1,8,7] k3 s2 -> 2, n = 3', op: 'conv2d', inShapes: [[1, 8, 7]], attrs: { channels: 2, kernel: 3, stride: 2 }, n: 3 },
  { name: 'conv2d [2,3,3] k5 p2 (kernel > input) -> 2, n = 3', op: 'conv2d', inShapes: [[2, 3, 3]], attrs: { channels: 2, kernel: 5, pad: 2 }, n: 3 },
  { name: 'conv2d [3,6,5] k1 s2 -> 1, n = 1', op: 'conv2d', inShapes: [[3, 6, 5]], attrs: { channels: 1, kernel: 1, stride: 2 }, n: 1 },
  { name: 'relu [3,5,3], n = 3', op: 'relu', inShapes: [[3, 5, 3]], n: 3, inputs: 'relu' },
  { name: 'relu [7], n = 1', op: 'relu', inShapes: [[7]], n: 1, inputs: 'relu' },
  { name: 'maxpool2 [2,5,7] (odd: floor), n = 3', op: 'maxpool2', inShapes: [[2, 5, 7]], n: 3, inputs: 'pool' },
  { name: 'maxpool2 [1,2,2], n = 1', op: 'maxpool2', inShapes: [[1, 2, 2]], n: 1, inputs: 'pool' },
  { name: 'flatten [3,2,5], n = 3', op: 'flatten', inShapes: [[3, 2, 5]], n: 3 },
  { name: 'add [4,3,3], n = 3', op: 'add', inShapes: [[4, 3, 3], [4, 3, 3]], n: 3 },
  { name: 'add [5], n = 1', op: 'add', inShapes: [[5], [5]], n: 1 },
  { name: 'center [2,3,3], n = 3', op: 'center', inShapes: [[2, 3, 3]], n: 3 },
  { name: 'center [5], n = 1 (output identically zero)', op: 'center', inShapes: [[5]], n: 1 },
];

describe('reference ops: backward and tangent match central finite differences', () => {
  OP_CASES.forEach((c, caseIndex) => {
    it(c.name, () => {
      const rng = new Rng(100 + caseIndex);
      const { node, paramShapes } = opNode(c);
      const ref = REF_OPS[c.op];
      const n = c.n;
      const outLen = n * shapeSize(node.outShape);
      const inputs = drawInputs(c, rng);
      const params = paramShapes.map((s) => Float64Array.from({ length: shapeSize(s) }, () => 0.5 * rng.normal()));
      const fwd = ref.forward(inputs, params, node, n);
      expect(fwd.out.length).toBe(outLen);
      // The scalar checked: L = <cOut, y(inputs, params)> for a random output weighting.
      const cOut = normals(rng, outLen);
      const L = (ins: Float64Array[], ps: Float64Array[]) => dot(cOut, ref.forward(ins, ps, node, n).out);
      const bwd = ref.backward(inputs, fwd.out, cOut, params, node, n, fwd.saved);
      expect(bwd.dInputs.length).toBe(inputs.length);
      expect(bwd.dParams.length).toBe(params.length);

      // Backward: every input and parameter coordinate.
      inputs.forEach((x, j) => {
        expect(bwd.dInputs[j].length).toBe(x.length);
        for (let k = 0; k < x.length; k++) {
          const fd = (L(inputs.map((v, jj) => (jj === j ? bumped(v, k, FD_H) : v)), params) - L(inputs.map((v, jj) => (jj === j ? bumped(v, k, -FD_H) : v)), params)) / (2 * FD_H);
          expectClose(bwd.dInputs[j][k], fd, FD_TOL, `∂L/∂input${j}`);
        }
      });
      params.forEach((p, j) => {
        expect(bwd.dParams[j].length).toBe(p.length);
        for (let k = 0; k < p.length; k++) {
          const fd = (L(inputs, params.map((v, jj) => (jj === j ? bumped(v, k, FD_H) : v))) - L(inputs, params.map((v, jj) => (jj === j ? bumped(v, k, -FD_H) : v)))) / (2 * FD_H);
          expectClose(bwd.dParams[j][k], fd, FD_TOL, `∂L/∂param${j}`);
        }
      });
      // Not trivially zero (except center of a single example, which is identically zero).
      if (!(c.op === 'center' && n === 1)) expect(bwd.dInputs[0].some((v) => Math.abs(v) > 1e-3)).toBe(true);

      // Tangent along input directions dx and parameter direction G, and with either one left out (null).
      const dxs = inputs.map((x) => normals(rng, x.length));
      const G = params.map((p) => normals(rng, p.length));
      const variants: { label: string; dx: (Float64Array | null)[]; G: Float64Array[] | null }[] = [
        { label: 'inputs and parameters', dx: dxs, G: params.length ? G : null },
        { label: 'inputs only', dx: dxs, G: null },
      ];
      if (params.length) variants.push({ label: 'parameters only', dx: dxs.map(() => null), G });
      if (inputs.length > 1) variants.push({ label: 'second input only', dx: dxs.map((d, j) => (j === 1 ? d : null)), G: null });
      for (const v of variants) {
        const t = ref.tangent(inputs, v.dx, params, v.G, node, n, fwd.out, fwd.saved);
        expect(t.length).toBe(outLen);
        const at = (s: number) =>
          ref.forward(
            inputs.map((x, j) => (v.dx[j] ? along(x, v.dx[j]!, s) : x)),
            params.map((p, j) => (v.G ? along(p, v.G[j], s) : p)),
            node,
            n,
          ).out;
        const plus = at(FD_H);
        const minus = at(-FD_H);
        expectAllClose(t, Float64Array.from(plus, (y, k) => (y - minus[k]) / (2 * FD_H)), FD_TOL, `tangent (${v.label})`);
        // Adjoint identity: <cOut, tangent> = Σ_j <∂L/∂input_j, dx_j> + <∂L/∂θ, G>.
        let rhs = 0;
        let mag = absDot(cOut, t);
        v.dx.forEach((d, j) => {
          if (d) {
            rhs += dot(bwd.dInputs[j], d);
            mag += absDot(bwd.dInputs[j], d);
          }
        });
        v.G?.forEach((g, j) => {
          rhs += dot(bwd.dParams[j], g);
          mag += absDot(bwd.dParams[j], g);
        });
        expect(Math.abs(dot(cOut, t) - rhs), `adjoint identity (${v.label})`).toBeLessThanOrEqual(ID_RTOL * (1 + mag));
      }
    });
  });

  it('conv2d stride and padding follow y[k,p,q] = b[k] + Σ W[k,c,r,s]·x[c, p·stride − pad + r, q·stride − pad + s]', () => {
    // A one-hot filter W[k=1, c=1, r=2, s=0] = 1 copies x[1, 2p − 1 + 2, 2q − 1 + 0] (zero outside).
    const { node, paramShapes } = opNode({ name: 'conv delta', op: 'conv2d', inShapes: [[2, 5, 6]], attrs: { channels: 2, kernel: 3, stride: 2, pad: 1 }, n: 1 });
    expect(node.outShape).toEqual([2, 3, 3]);
    expect(paramShapes).toEqual([[2, 2, 3, 3], [2]]);
    const x = Float64Array.from({ length: 60 }, (_, j) => j + 1); // x[c,h,w] = 30c + 6h + w + 1
    const W = new Float64Array(36);
    W[((1 * 2 + 1) * 3 + 2) * 3 + 0] = 1;
    const b = Float64Array.from([0, 0.5]);
    const y = conv2d.forward([x], [W, b], node, 1).out;
    for (let p = 0; p < 3; p++) {
      for (let q = 0; q < 3; q++) {
        const h = 2 * p - 1 + 2;
        const w = 2 * q - 1;
        const expected = (h >= 0 && h < 5 && w >= 0 && w < 6 ? x[30 + 6 * h + w] : 0) + 0.5;
        expect(y[9 + 3 * p + q]).toBe(expected);
        expect(y[3 * p + q]).toBe(0);
      }
    }
  });

  it('center subtracts the batch mean per feature, and with it every example depends on the others', () => {
    const { node } = opNode({ name: 'center', op: 'center', inShapes: [[2, 2]], n: 3 });
    const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(Array.from(center.forward([x], [], node, 3).out)).toEqual([-4, -4, -4, -4, 0, 0, 0, 0, 4, 4, 4, 4]);
    expect(opDef('center', 'test').couplesExamples).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Graphs with a skip connection.

const SKIP = skipGraph(false);
const SKIP_CENTER = skipGraph(true);

interface Point {
  theta: Float64Array;
  X: Float64Array;
  Y: Int32Array;
}

/** A deterministic (θ, X, Y) whose forward pass of the whole batch is ≥ 1e-3 away from every kink (every extra batch too). */
function smoothPoint(spec: ModelSpec, seed: number, n: number, extra: number[] = []): Point & { extras: Point[] } {
  const d = shapeSize(spec.input);
  const K = resolveModel(spec).classes;
  for (let attempt = 0; attempt < 500; attempt++) {
    const rng = new Rng(seed * 1000 + attempt);
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const batches = [n, ...extra].map((m) => ({ theta, X: normals(rng, m * d), Y: Int32Array.from({ length: m }, () => rng.int(K)) }));
    if (
      batches.every((b) => {
        const k = kinkMargins(forwardBatch(spec, theta, b.X));
        return k.relu >= 1e-3 && k.pool >= 1e-3;
      })
    ) {
      return { ...batches[0], extras: batches.slice(1) };
    }
  }
  throw new Error(`${spec.name}: no point away from kinks found`);
}

describe('graph with a skip connection (a tensor with two consumers)', () => {
  const n = 3;

  it('resolves as described: A feeds B and the add', () => {
    const m = resolveModel(SKIP);
    expect(m.nodes.map((x) => x.id)).toEqual(['convA', 'A', 'B', 'sum', 'r2', 'pool', 'flat', 'logits']);
    expect(m.node('A').consumers).toEqual(['B', 'sum']);
    expect(m.couplesExamples).toBe(false);
    expect(thetaLength(SKIP)).toBe(57 + 84 + 4 * 27 + 4);
  });

  it('forward: the add sums its inputs, and examples are independent (a batch equals its examples alone)', () => {
    const p = smoothPoint(SKIP, 1, n);
    const fwd = forwardBatch(SKIP, p.theta, p.X);
    const A = fwd.acts.get('A')!;
    const B = fwd.acts.get('B')!;
    expect(Array.from(fwd.acts.get('sum')!)).toEqual(Array.from(A, (a, j) => a + B[j]));
    const d = shapeSize(SKIP.input);
    for (let i = 0; i < n; i++) {
      const alone = forwardBatch(SKIP, p.theta, p.X.subarray(i * d, (i + 1) * d), 1);
      expect(Array.from(alone.logits)).toEqual(Array.from(fwd.logits.subarray(i * 4, (i + 1) * 4)));
    }
  });

  it('backward: θ-gradient and input signal of Σ_i c_i f_i match finite differences (all coordinates)', () => {
    const p = smoothPoint(SKIP, 2, n);
    const rng = new Rng(2);
    const c = Float64Array.from({ length: n }, () => rng.uniform(0.2, 1.5));
    const fwd = forwardBatch(SKIP, p.theta, p.X);
    const bwd = backwardBatch(SKIP, p.theta, fwd, lossSignal(fwd, p.Y, c));
    const pattern = activationPattern(fwd);
    const loss = (theta: Float64Array, X: Float64Array) => {
      const f = forwardBatch(SKIP, theta, X);
      expect(activationPattern(f), 'the perturbed point left the smooth piece').toBe(pattern);
      return dot(c, exampleLosses(SKIP, theta, X, p.Y));
    };
    for (let j = 0; j < p.theta.length; j++) {
      const fd = (loss(bumped(p.theta, j, FD_H), p.X) - loss(bumped(p.theta, j, -FD_H), p.X)) / (2 * FD_H);
      expectClose(bwd.grad[j], fd, FD_TOL, `∂L/∂θ[${j}]`);
    }
    const dX = bwd.signals.get(INPUT)!;
    for (let j = 0; j < p.X.length; j++) {
      const fd = (loss(p.theta, bumped(p.X, j, FD_H)) - loss(p.theta, bumped(p.X, j, -FD_H))) / (2 * FD_H);
      expectClose(dX[j], fd, FD_TOL, `∂L/∂X[${j}]`);
    }
    // batchGrad with the same weights is the same backward pass.
    expect(Array.from(batchGrad(SKIP, p.theta, p.X, p.Y, c))).toEqual(Array.from(bwd.grad));
    expect(bwd.grad.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    // A's signal is the sum of its two consumers' contributions: the add passes its signal through,
    // and B's backward data adds conv_Bᵀ(signal at B).
    const B = resolveModel(SKIP).node('B');
    const geom = convGeometry(B);
    const wB = paramOffsets(SKIP).find((t) => t.name === 'B.weight')!;
    expect(wB.shape).toEqual([3, 3, 3, 3]);
    const WB = p.theta.subarray(wB.offset, wB.offset + wB.size);
    const sigA = bwd.signals.get('A')!;
    const sigSum = bwd.signals.get('sum')!;
    const sigB = bwd.signals.get('B')!;
    const size = 3 * 7 * 7;
    for (let i = 0; i < n; i++) {
      const fromB = convBackward(geom, fwd.acts.get('A')!.subarray(i * size, (i + 1) * size), sigB.subarray(i * size, (i + 1) * size), WB, null, null);
      for (let k = 0; k < size; k++) expectClose(sigA[i * size + k], sigSum[i * size + k] + fromB[k], { atol: 1e-15, rtol: 1e-13 }, 'signal at A');
    }
    expect(sigSum.some((v) => Math.abs(v) > 1e-3) && sigB.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it('tangent: every tensor matches (t(θ + hG) − t(θ − hG)) / 2h, and the losses too', () => {
    const p = smoothPoint(SKIP, 3, n);
    const G = normals(new Rng(3), p.theta.length);
    const fwd = forwardBatch(SKIP, p.theta, p.X);
    const tan = tangentBatch(SKIP, p.theta, fwd, G);
    const plus = forwardBatch(SKIP, along(p.theta, G, FD_H), p.X);
    const minus = forwardBatch(SKIP, along(p.theta, G, -FD_H), p.X);
    expect(activationPattern(plus)).toBe(activationPattern(fwd));
    expect(activationPattern(minus)).toBe(activationPattern(fwd));
    expect([...tan.keys()].sort()).toEqual([INPUT, ...resolveModel(SKIP).nodes.map((x) => x.id)].sort());
    expect(tan.get(INPUT)!.every((v) => v === 0)).toBe(true);
    for (const [id, t] of tan) {
      const a = plus.acts.get(id)!;
      const b = minus.acts.get(id)!;
      expectAllClose(t, Float64Array.from(a, (v, k) => (v - b[k]) / (2 * FD_H)), FD_TOL, `tangent of ${id}`);
    }
    const lt = lossTangents(SKIP, p.theta, p.X, p.Y, G);
    const fp = exampleLosses(SKIP, along(p.theta, G, FD_H), p.X, p.Y);
    const fm = exampleLosses(SKIP, along(p.theta, G, -FD_H), p.X, p.Y);
    expectAllClose(lt, Float64Array.from(fp, (v, i) => (v - fm[i]) / (2 * FD_H)), FD_TOL, 'd f_i / dt');
  });

  it('alignments: forward mode s_i = d/dt f_i(θ + tg) equals <∇f_i, g>, and Σ_i s_i = <∇ Σ_i f_i, g>', () => {
    const p = smoothPoint(SKIP, 4, n, [2]);
    const val = p.extras[0];
    const g = validationGrad(SKIP, p.theta, val.X, val.Y);
    const grads = perExampleGrads(SKIP, p.theta, p.X, p.Y);
    const s = Float64Array.from(grads, (gi) => dot(gi, g));
    const sTan = lossTangents(SKIP, p.theta, p.X, p.Y, g);
    s.forEach((si, i) => expect(Math.abs(sTan[i] - si), `s_${i}`).toBeLessThanOrEqual(ID_RTOL * (1 + absDot(grads[i], g))));
    expect(Array.from(alignments(SKIP, p.theta, p.X, p.Y, val.X, val.Y))).toEqual(Array.from(s));
    const sumGrad = batchGrad(SKIP, p.theta, p.X, p.Y, new Float64Array(n).fill(1));
    const mag = grads.reduce((a, gi) => a + absDot(gi, g), 0);
    expect(Math.abs(s.reduce((a, b) => a + b, 0) - dot(sumGrad, g))).toBeLessThanOrEqual(ID_RTOL * (1 + mag));
    expect(s.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });
});

describe('the skip graph with center (examples coupled through the batch mean)', () => {
  const n = 3;

  it('resolves as coupled; per-example functions refuse it', () => {
    const m = resolveModel(SKIP_CENTER);
    expect(m.couplesExamples).toBe(true);
    expect(m.node('A').consumers).toEqual(['B', 'sum']);
    expect(thetaLength(SKIP_CENTER)).toBe(thetaLength(SKIP));
    const p = smoothPoint(SKIP_CENTER, 7, 2);
    const x = p.X.subarray(0, shapeSize(SKIP_CENTER.input));
    expect(() => forward(SKIP_CENTER, p.theta, x)).toThrow(/couples the examples/);
    expect(() => exampleGrad(SKIP_CENTER, p.theta, x, 0)).toThrow(/couples the examples/);
    // The batch-level kink margin is the one of the batch's own forward pass.
    expect(kinkMargin(SKIP_CENTER, p.theta, p.X)).toEqual(kinkMargins(forwardBatch(SKIP_CENTER, p.theta, p.X)));
  });

  it('per-example gradients ∇f_i (f_i evaluated on the whole batch) match finite differences', () => {
    const p = smoothPoint(SKIP_CENTER, 5, n);
    const fwd = forwardBatch(SKIP_CENTER, p.theta, p.X);
    const pattern = activationPattern(fwd);
    const losses = (theta: Float64Array, X: Float64Array) => {
      expect(activationPattern(forwardBatch(SKIP_CENTER, theta, X)), 'the perturbed point left the smooth piece').toBe(pattern);
      return exampleLosses(SKIP_CENTER, theta, X, p.Y);
    };
    const grads = perExampleGrads(SKIP_CENTER, p.theta, p.X, p.Y);
    for (let j = 0; j < p.theta.length; j++) {
      const fp = losses(bumped(p.theta, j, FD_H), p.X);
      const fm = losses(bumped(p.theta, j, -FD_H), p.X);
      for (let i = 0; i < n; i++) expectClose(grads[i][j], (fp[i] - fm[i]) / (2 * FD_H), FD_TOL, `∂f_${i}/∂θ[${j}]`);
    }
    // The coupling is real: f_0's signal reaches the other examples' inputs, and matches finite differences there.
    const e0 = Float64Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0));
    const dX = backwardBatch(SKIP_CENTER, p.theta, fwd, lossSignal(fwd, p.Y, e0)).signals.get(INPUT)!;
    const d = shapeSize(SKIP_CENTER.input);
    expect(dX.subarray(d).some((v) => Math.abs(v) > 1e-3)).toBe(true);
    for (let j = 0; j < p.X.length; j += 5) {
      const fd = (losses(p.theta, bumped(p.X, j, FD_H))[0] - losses(p.theta, bumped(p.X, j, -FD_H))[0]) / (2 * FD_H);
      expectClose(dX[j], fd, FD_TOL, `∂f_0/∂X[${j}]`);
    }
    // Σ_i ∇f_i is the gradient of the unweighted sum (one backward pass).
    const sum = batchGrad(SKIP_CENTER, p.theta, p.X, p.Y, new Float64Array(n).fill(1));
    sum.forEach((v, j) => expectClose(grads.reduce((a, gi) => a + gi[j], 0), v, { atol: 1e-14, rtol: 1e-12 }, `Σ_i ∇f_i [${j}]`));
  });

  // Finite differences of h(ε) = L_g(θ − α Σ ε_i ∇f_i) with τ = 1e-5, α = 0.5, as in l2rw.test.ts:
  // truncation (ατ)²/6·|∇f_i|³·|L_g'''| ≈ 1e-11·O(10), rounding ~1e-16·|L_g|/2τ ≈ 1e-11.
  it('the ε-gradient finite difference of L_val(θ − α Σ ε_i ∇f_i) is −α<∇f_i, g>; forward mode agrees', () => {
    const alpha = 0.5;
    const tau = 1e-5;
    const p = smoothPoint(SKIP_CENTER, 6, 4, [3]);
    const val = p.extras[0];
    const grads = perExampleGrads(SKIP_CENTER, p.theta, p.X, p.Y);
    // The lookahead points stay in the validation batch's smooth piece.
    const base = activationPattern(forwardBatch(SKIP_CENTER, p.theta, val.X));
    for (const gi of grads) {
      for (const sign of [1, -1]) expect(activationPattern(forwardBatch(SKIP_CENTER, along(p.theta, gi, -sign * alpha * tau), val.X))).toBe(base);
    }
    const s = alignments(SKIP_CENTER, p.theta, p.X, p.Y, val.X, val.Y);
    const fd = epsGradFiniteDiff(SKIP_CENTER, p.theta, p.X, p.Y, val.X, val.Y, alpha, tau);
    s.forEach((si, i) => expectClose(fd[i], -alpha * si, { atol: 1e-9, rtol: 1e-6 }, `∂h/∂ε_${i}`));
    expect(s.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    // Forward mode along g gives the same s_i, also with the coupling; and Σ_i s_i = <∇Σ_i f_i, g>.
    const g = validationGrad(SKIP_CENTER, p.theta, val.X, val.Y);
    expect(Math.abs(batchLoss(SKIP_CENTER, p.theta, val.X, val.Y) - exampleLosses(SKIP_CENTER, p.theta, val.X, val.Y).reduce((a, b) => a + b, 0) / 3)).toBeLessThan(1e-15);
    const sTan = lossTangents(SKIP_CENTER, p.theta, p.X, p.Y, g);
    s.forEach((si, i) => expect(Math.abs(sTan[i] - si), `s_${i}`).toBeLessThanOrEqual(ID_RTOL * (1 + absDot(grads[i], g))));
    const sumGrad = batchGrad(SKIP_CENTER, p.theta, p.X, p.Y, new Float64Array(4).fill(1));
    const mag = grads.reduce((a, gi) => a + absDot(gi, g), 0);
    expect(Math.abs(s.reduce((a, b) => a + b, 0) - dot(sumGrad, g))).toBeLessThanOrEqual(ID_RTOL * (1 + mag));
  });
});
