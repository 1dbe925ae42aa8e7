// float64 reference of one Learning-to-Reweight step (Ren et al., ICML 2018, Algorithm 1), computed
// literally with explicit per-example gradients (see /work/shared/notes/l2rw-math.md):
//   s_i = <∇f_i(θ), g>,  g = ∇ (1/m) Σ_j f^v_j(θ)
//   w̃_i = max(s_i, 0),  w = w̃ / (Σ w̃ + δ(Σ w̃))        (α > 0 cancels in the normalisation)
//   grad = Σ_i w_i ∇f_i(θ),  then SGD with momentum and weight decay (PyTorch convention).

// Every function evaluates batches together through the graph interpreter (./graph.ts), so they are
// exact for models with ops that couple the examples of a batch: f_i is then a function of the whole
// batch, ∇f_i is a backward pass of f_i alone through it, and L_g evaluates the validation batch together.

import type { ModelSpec } from '../../src/train/spec';
import type { Rng } from '../../src/util/rng';
import { batchGrad, batchLoss, perExampleGrads, resolved, thetaLength } from './graph';

export { perExampleGrads } from './graph';

export interface SgdOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Decay the tensors named `bias` too (default true, as TrainConfig.decayBiases). */
  decayBiases?: boolean;
}

/**
 * 1 where weight decay applies, 0 where not, in θ order: tensors their op declares without decay
 * (batch norm's γ and β) never decay, biases only with decayBiases.
 */
export function decayMask(spec: ModelSpec, decayBiases = true): Float64Array {
  const mask = new Float64Array(thetaLength(spec));
  let off = 0;
  for (const node of resolved(spec).nodes) {
    for (const p of node.params) {
      mask.fill(p.decay && (decayBiases || p.name !== 'bias') ? 1 : 0, off, off + p.size);
      off += p.size;
    }
  }
  return mask;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`dot of lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** g = ∇ (1/m) Σ_j f^v_j(θ), the clean validation gradient. */
export function validationGrad(spec: ModelSpec, theta: ArrayLike<number>, Xg: ArrayLike<number>, yg: ArrayLike<number>): Float64Array {
  return batchGrad(spec, theta, Xg, yg);
}

/** s_i = <∇f_i(θ), g> from literal per-example gradients. */
export function alignments(
  spec: ModelSpec,
  theta: ArrayLike<number>,
  Xf: ArrayLike<number>,
  yf: ArrayLike<number>,
  Xg: ArrayLike<number>,
  yg: ArrayLike<number>,
): Float64Array {
  const g = validationGrad(spec, theta, Xg, yg);
  return Float64Array.from(perExampleGrads(spec, theta, Xf, yf), (gi) => dot(gi, g));
}

/**
 * Central finite differences of h(ε) = L_g(θ − α Σ_i ε_i ∇f_i(θ)) at ε = 0:
 * (h(τ e_i) − h(−τ e_i)) / 2τ ≈ ∂h/∂ε_i = −α s_i.
 */
export function epsGradFiniteDiff(
  spec: ModelSpec,
  theta: ArrayLike<number>,
  Xf: ArrayLike<number>,
  yf: ArrayLike<number>,
  Xg: ArrayLike<number>,
  yg: ArrayLike<number>,
  alpha: number,
  tau: number,
): Float64Array {
  const grads = perExampleGrads(spec, theta, Xf, yf);
  const h = (i: number, eps: number): number => {
    const lookahead = Float64Array.from(theta, (t, j) => t - alpha * eps * grads[i][j]);
    return batchLoss(spec, lookahead, Xg, yg);
  };
  return Float64Array.from(grads, (_, i) => (h(i, tau) - h(i, -tau)) / (2 * tau));
}

/** w̃ = max(s, 0); w = w̃ / (Σ w̃ + δ(Σ w̃)) with δ(x) = 1 iff x == 0. */
export function l2rwWeights(s: ArrayLike<number>): Float64Array {
  const wt = Float64Array.from(s, (v) => (v > 0 ? v : 0));
  let sum = 0;
  for (const v of wt) sum += v;
  const denom = sum + (sum === 0 ? 1 : 0);
  return wt.map((v) => v / denom);
}

/**
 * PyTorch SGD: v = μ v + (g + wd θ); θ = θ − lr v, with wd applied where `decay` is 1 (every parameter
 * when omitted). Returns new arrays; the inputs are not modified.
 */
export function sgdMomentumStep(
  theta: ArrayLike<number>,
  velocity: ArrayLike<number>,
  grad: ArrayLike<number>,
  opts: SgdOptions,
  decay?: ArrayLike<number>,
): { theta: Float64Array; velocity: Float64Array } {
  if (velocity.length !== theta.length || grad.length !== theta.length || (decay && decay.length !== theta.length)) {
    throw new Error(`lengths differ: θ ${theta.length}, v ${velocity.length}, grad ${grad.length}, decay ${decay?.length}`);
  }
  const v = Float64Array.from(velocity, (vj, j) => opts.momentum * vj + (grad[j] + opts.weightDecay * (decay ? decay[j] : 1) * theta[j]));
  const t = Float64Array.from(theta, (tj, j) => tj - opts.lr * v[j]);
  return { theta: t, velocity: v };
}

/** Σ_i w_i ∇f_i, accumulated from zero (so exactly zero when every w_i is 0). */
function weightedSum(grads: Float64Array[], w: ArrayLike<number>, len: number): Float64Array {
  const out = new Float64Array(len);
  grads.forEach((gi, i) => {
    for (let j = 0; j < len; j++) out[j] += w[i] * gi[j];
  });
  return out;
}

export interface L2rwStepResult {
  s: Float64Array;
  w: Float64Array;
  grad: Float64Array;
  theta: Float64Array;
  velocity: Float64Array;
}

/** One step of Algorithm 1: alignments, weights, weighted training gradient, SGD-with-momentum update. */
export function l2rwStep(
  spec: ModelSpec,
  theta: ArrayLike<number>,
  velocity: ArrayLike<number>,
  Xf: ArrayLike<number>,
  yf: ArrayLike<number>,
  Xg: ArrayLike<number>,
  yg: ArrayLike<number>,
  opts: SgdOptions,
): L2rwStepResult {
  const grads = perExampleGrads(spec, theta, Xf, yf);
  const g = validationGrad(spec, theta, Xg, yg);
  const s = Float64Array.from(grads, (gi) => dot(gi, g));
  const w = l2rwWeights(s);
  const grad = weightedSum(grads, w, theta.length);
  return { s, w, grad, ...sgdMomentumStep(theta, velocity, grad, opts, decayMask(spec, opts.decayBiases)) };
}

/** A plain step: w_i = 1/n, grad = (1/n) Σ_i ∇f_i, then the same optimiser. */
export function plainStep(
  spec: ModelSpec,
  theta: ArrayLike<number>,
  velocity: ArrayLike<number>,
  Xf: ArrayLike<number>,
  yf: ArrayLike<number>,
  opts: SgdOptions,
): { w: Float64Array; grad: Float64Array; theta: Float64Array; velocity: Float64Array } {
  const grads = perExampleGrads(spec, theta, Xf, yf);
  const w = new Float64Array(grads.length).fill(1 / grads.length);
  const grad = weightedSum(grads, w, theta.length);
  return { w, grad, ...sgdMomentumStep(theta, velocity, grad, opts, decayMask(spec, opts.decayBiases)) };
}

/**
 * Reference initialisation for tests: every parameter declared with init 'fan_in' is He-normal
 * (std sqrt(2 / fan_in), fan_in = size / shape[0]: C·R·R for conv2d, D for dense), whatever follows it;
 * 'zeros' tensors (biases) are N(0, biasStd²) (zero by default); 'ones' tensors are 1. Only for
 * getting random θ in tests (the engine initialises on its own).
 */
export function initParams(spec: ModelSpec, rng: Rng, opts: { biasStd?: number } = {}): Float64Array {
  const biasStd = opts.biasStd ?? 0;
  const theta = new Float64Array(thetaLength(spec));
  let off = 0;
  for (const node of resolved(spec).nodes) {
    for (const p of node.params) {
      const t = theta.subarray(off, off + p.size);
      if (p.init === 'fan_in') {
        const std = Math.sqrt(2 / (p.size / p.shape[0]));
        for (let j = 0; j < p.size; j++) t[j] = rng.normal() * std;
      } else if (p.init === 'zeros') {
        if (biasStd !== 0) for (let j = 0; j < p.size; j++) t[j] = rng.normal() * biasStd;
      } else {
        t.fill(1);
      }
      off += p.size;
    }
  }
  return theta;
}
