// float64 reference of the models of src/train/spec.ts at the level of one example and of plain
// batches, on top of the graph interpreter (./graph.ts) and the per-op references (./ops/).
//
// Parameter layout (the flat vector θ): dense, no padding; nodes in resolveModel(spec).nodes order,
// each node's parameters in declaration order:
//   conv2d weight [K, C, R, R] row-major (index ((k*C + c)*R + r)*R + s), bias [K]
//   dense  weight [units, D]  row-major (index o*D + i),                 bias [units]
// Activations of one example are [C, H, W] or [D] row-major; flatten reads [C, H, W] as is.
// Loss per example: softmax cross-entropy f = −log softmax(z)[y] = logsumexp(z) − z[y].
//
// The one-example functions (forward, backward, exampleLoss, exampleGrad) are for models whose
// examples are independent; for a model with an op coupling the examples of a batch they throw, and
// the batch functions (which evaluate the whole batch together) are the ones to use.
import { INPUT, shapeSize, type ModelSpec } from '../../src/train/spec';
import {
  backwardBatch,
  batchSize,
  crossEntropy,
  crossEntropyGrad,
  exampleSize,
  forwardBatch,
  kinkMargins,
  resolved,
  type GraphBackward,
  type GraphForward,
} from './graph';

export {
  batchGrad,
  batchLoss,
  batchSize,
  crossEntropy,
  crossEntropyGrad,
  logSoftmax,
  paramOffsets,
  softmax,
  thetaLength,
  type ParamTensor,
} from './graph';
export { convBackward, convForward, convOutShape, type ConvGeometry, type Shape3 } from './ops/conv2d';
export { denseBackward, denseForward } from './ops/dense';
export { maxpool2Backward, maxpool2Forward } from './ops/maxpool2';
export { reluBackward, reluForward } from './ops/relu';

function checkIndependent(spec: ModelSpec, what: string): void {
  if (resolved(spec).couplesExamples) throw new Error(`${spec.name}: ${what} is per example, but the model couples the examples of a batch (use the batch functions)`);
}

// ---------------------------------------------------------------------------------------------
// Whole model, one example.

/** The forward pass of one example: a batch of one (acts holds every tensor, saved the ops' records). */
export type ForwardResult = GraphForward;

/** Forward pass of one example x [size(input)]. */
export function forward(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>): ForwardResult {
  checkIndependent(spec, 'forward');
  if (x.length !== exampleSize(spec)) throw new Error(`${spec.name}: example has ${x.length} values, expected ${exampleSize(spec)}`);
  return forwardBatch(spec, theta, x, 1);
}

export interface BackwardResult extends GraphBackward {
  /** ∂f/∂x (the signal at the example). */
  dInput: Float64Array;
}

/** Backprop of a scalar function of one example's logits with gradient `dLogits`, through a recorded forward pass. */
export function backward(spec: ModelSpec, theta: ArrayLike<number>, fwd: ForwardResult, dLogits: ArrayLike<number>): BackwardResult {
  checkIndependent(spec, 'backward');
  if (fwd.n !== 1) throw new Error(`${spec.name}: backward of one example, but the forward pass has ${fwd.n}`);
  const r = backwardBatch(spec, theta, fwd, dLogits);
  return { ...r, dInput: r.signals.get(INPUT)! };
}

/** f(θ) = −log softmax(Φ(x; θ))[y] for one example. */
export function exampleLoss(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>, y: number): number {
  return crossEntropy(forward(spec, theta, x).logits, y);
}

/** ∇_θ f(θ) for one example, by backprop. */
export function exampleGrad(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>, y: number): Float64Array {
  const fwd = forward(spec, theta, x);
  return backward(spec, theta, fwd, crossEntropyGrad(fwd.logits, y)).grad;
}

// ---------------------------------------------------------------------------------------------
// Batches: X is a flat [n, size(input)] array (row-major per example), Y holds n integer labels.

/** Example i of a flat batch, as float64. */
export function batchExample(X: ArrayLike<number>, i: number, spec: ModelSpec): Float64Array {
  const d = shapeSize(spec.input);
  const n = batchSize(X, spec);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`example ${i} out of range [0, ${n})`);
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) out[j] = X[i * d + j];
  return out;
}

/** Per-example logits of a batch, flat [n, K] (the batch evaluated together). */
export function batchLogits(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>): Float64Array {
  return forwardBatch(spec, theta, X).logits;
}

/** Predicted class per example (argmax of the logits; the first maximum on ties). */
export function predict(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>): Int32Array {
  const n = batchSize(X, spec);
  const K = resolved(spec).classes;
  const logits = batchLogits(spec, theta, X);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (logits[i * K + k] > logits[i * K + best]) best = k;
    out[i] = best;
  }
  return out;
}

/**
 * How far the forward pass of X (one example, or a batch evaluated together) is from a
 * non-differentiable point: the smallest |input| of a relu node, and the smallest gap between a
 * pooling window's maximum and the largest value in that window strictly below it (exact ties are
 * structural and not counted). Infinity where the model has no such node. See graph.kinkMargins.
 */
export function kinkMargin(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>): { relu: number; pool: number } {
  return kinkMargins(forwardBatch(spec, theta, X));
}
