// batchnorm, attrs {momentum (0.1), eps (1e-5)}: input [C, H, W] (channel c: the N·H·W values of the
// batch) or [D] (D channels, over the N examples); params gamma [C], beta [C]; state running_mean [C],
// running_var [C]. M = N·H·W values per channel.
//   training:   μ_c = (1/M) Σ x, σ²_c = (1/M) Σ (x − μ)², invstd = 1/sqrt(σ² + eps),
//               x̂ = (x − μ)·invstd, y = γ_c x̂ + β_c   (the RefOp's forward; it saves μ, σ², invstd);
//   evaluation: y = γ (x − running_mean)/sqrt(running_var + eps) + β   (batchnormEvalForward);
//   running statistics after a training batch (batchnormRunningUpdate), as PyTorch:
//               mean ← (1 − momentum)·mean + momentum·μ, var ← (1 − momentum)·var + momentum·σ²·M/(M − 1)
//               (σ² itself when M = 1).
//   backward:   S1 = Σ dy, S2 = Σ dy·x̂; dx = γ·invstd·(dy − S1/M − x̂·S2/M); dγ = S2, dβ = S1.
//   tangent:    T1 = Σ dx, T2 = Σ dx·x̂; dy = γ·invstd·(dx − T1/M − x̂·T2/M) + G_γ x̂ + G_β.
// The training forward couples the examples of the batch: its backward and tangent are those of the
// whole batch map (the terms in S1, S2, T1, T2 are the derivatives through μ and σ²).
//
// Importing this module adds `batchnorm` to the reference op table and registers the engine's OpDef
// (src/train/ops/batchnorm.ts) unless an op of that name is registered already, so that resolveModel
// accepts graphs using it.
import { sizeOf, type RefNode, type RefOp } from './ref_op';

export interface BatchnormGeometry {
  C: number;
  /** Values per channel and example (H·W, or 1 for a vector input). */
  HW: number;
}

export interface BatchnormSaved {
  /** Per channel: batch mean μ, biased variance σ² (1/M), 1/sqrt(σ² + eps). */
  mean: Float64Array;
  variance: Float64Array;
  invstd: Float64Array;
  /** Values per channel: N·HW. */
  M: number;
}

export function bnGeometry(shape: readonly number[]): BatchnormGeometry {
  if (shape.length !== 1 && shape.length !== 3) throw new Error(`batchnorm: input [${shape}] is neither [C, H, W] nor [D]`);
  return { C: shape[0], HW: sizeOf(shape.slice(1)) };
}

export function bnAttrs(node: Pick<RefNode, 'attrs'>): { momentum: number; eps: number } {
  const num = (key: string, def: number) => {
    const v = node.attrs[key] ?? def;
    if (typeof v !== 'number') throw new Error(`batchnorm: attribute "${key}" is ${JSON.stringify(v)}`);
    return v;
  };
  return { momentum: num('momentum', 0.1), eps: num('eps', 1e-5) };
}

/** Index of value p (< HW) of example i in channel c, in a batch tensor [n, C, HW]. */
const at = (g: BatchnormGeometry, i: number, c: number, p: number) => (i * g.C + c) * g.HW + p;

/** Per-channel Σ over the batch of f(i, c, p). */
function channelSums(g: BatchnormGeometry, n: number, f: (e: number, c: number) => number): Float64Array {
  const s = new Float64Array(g.C);
  for (let i = 0; i < n; i++) for (let c = 0; c < g.C; c++) for (let p = 0; p < g.HW; p++) s[c] += f(at(g, i, c, p), c);
  return s;
}

/** Elementwise over a batch tensor: out[e] = f(e, c). */
function perElement(g: BatchnormGeometry, n: number, f: (e: number, c: number) => number): Float64Array {
  const out = new Float64Array(n * g.C * g.HW);
  for (let i = 0; i < n; i++) for (let c = 0; c < g.C; c++) for (let p = 0; p < g.HW; p++) out[at(g, i, c, p)] = f(at(g, i, c, p), c);
  return out;
}

/** Batch statistics of x [n, C, HW] (two passes: mean, then the mean square deviation). */
export function batchnormStats(x: ArrayLike<number>, g: BatchnormGeometry, n: number, eps: number): BatchnormSaved {
  if (x.length !== n * g.C * g.HW) throw new Error(`batchnorm: ${x.length} values for ${n} x [${g.C}, ${g.HW}]`);
  const M = n * g.HW;
  const mean = channelSums(g, n, (e) => x[e]).map((s) => s / M);
  const variance = channelSums(g, n, (e, c) => (x[e] - mean[c]) ** 2).map((s) => s / M);
  return { mean, variance, invstd: variance.map((v) => 1 / Math.sqrt(v + eps)), M };
}

/** x̂ = (x − μ)·invstd. */
function normalised(x: ArrayLike<number>, g: BatchnormGeometry, n: number, s: BatchnormSaved): Float64Array {
  return perElement(g, n, (e, c) => (x[e] - s.mean[c]) * s.invstd[c]);
}

/** Evaluation mode: y = γ (x − running_mean)/sqrt(running_var + eps) + β (ReLU after when `relu`). */
export function batchnormEvalForward(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  g: BatchnormGeometry,
  n: number,
  eps: number,
): Float64Array {
  return perElement(g, n, (e, c) => (gamma[c] * (x[e] - runningMean[c])) / Math.sqrt(runningVar[c] + eps) + beta[c]);
}

/** The running statistics after a training batch with statistics `s` (PyTorch's update). */
export function batchnormRunningUpdate(
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  s: BatchnormSaved,
  momentum: number,
): { mean: Float64Array; variance: Float64Array } {
  const unbiased = (v: number) => (s.M > 1 ? (v * s.M) / (s.M - 1) : v);
  return {
    mean: Float64Array.from(runningMean, (r, c) => (1 - momentum) * r + momentum * s.mean[c]),
    variance: Float64Array.from(runningVar, (r, c) => (1 - momentum) * r + momentum * unbiased(s.variance[c])),
  };
}

/**
 * γ·invstd·(t − Σt/M − x̂·Σ(t·x̂)/M): the backward map of dy and the tangent map of dx (the Jacobian of
 * the training-mode normalisation is symmetric in this form). Also returns the two sums.
 */
function centredProjection(t: ArrayLike<number>, xhat: Float64Array, gamma: ArrayLike<number>, g: BatchnormGeometry, n: number, s: BatchnormSaved) {
  const s1 = channelSums(g, n, (e) => t[e]);
  const s2 = channelSums(g, n, (e) => t[e] * xhat[e]);
  const out = perElement(g, n, (e, c) => gamma[c] * s.invstd[c] * (t[e] - s1[c] / s.M - (xhat[e] * s2[c]) / s.M));
  return { out, s1, s2 };
}

export const batchnorm: RefOp = {
  forward([x], [gamma, beta], node, n) {
    const g = bnGeometry(node.inShapes[0]);
    const saved = batchnormStats(x, g, n, bnAttrs(node).eps);
    const xhat = normalised(x, g, n, saved);
    return { out: perElement(g, n, (e, c) => gamma[c] * xhat[e] + beta[c]), saved };
  },
  backward([x], _out, dOut, [gamma], node, n, saved) {
    const g = bnGeometry(node.inShapes[0]);
    const s = saved as BatchnormSaved;
    const { out, s1, s2 } = centredProjection(dOut, normalised(x, g, n, s), gamma, g, n, s);
    return { dInputs: [out], dParams: [s2, s1] };
  },
  tangent([x], [dx], [gamma], G, node, n, _out, saved) {
    const g = bnGeometry(node.inShapes[0]);
    const s = saved as BatchnormSaved;
    const xhat = normalised(x, g, n, s);
    const t = dx ? centredProjection(dx, xhat, gamma, g, n, s).out : new Float64Array(x.length);
    if (G) {
      const [gGamma, gBeta] = G;
      const d = perElement(g, n, (e, c) => gGamma[c] * xhat[e] + gBeta[c]);
      for (let e = 0; e < t.length; e++) t[e] += d[e];
    }
    return t;
  },
};
