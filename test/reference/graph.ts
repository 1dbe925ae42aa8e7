// float64 reference interpreter of the model graphs of src/train/spec.ts, over whole batches (so that
// ops coupling the examples of a batch are handled exactly), written for clarity, not speed. Every
// node is evaluated by its float64 reference op (./ops/), looked up by op name.
//
// θ (the flat parameter vector): dense, no padding; nodes in resolveModel(spec).nodes order (topological),
// each node's `params` in declaration order (dense and conv2d: weight, then bias).
// A batch tensor is [n * size] example-major; X is the input tensor [n * size(spec.input)].
// Loss per example: softmax cross-entropy f_i = −log softmax(z_i)[y_i] = logsumexp(z_i) − z_i[y_i] on
// the logits z_i (the output node's tensor, [K]). For a coupling model f_i depends on the whole batch.
//
// Signals: `backwardBatch` takes ∂L/∂logits for some scalar L of the logits and returns ∂L/∂θ and the
// signal ∂L/∂t of every tensor t (a tensor read by several nodes sums their contributions).
// Tangents: `tangentBatch` returns d/dt t(θ + tG) at t = 0 for every tensor t (forward mode).
import { INPUT, resolveModel, shapeSize, type ModelSpec, type ResolvedModel, type ResolvedNode } from '../../src/train/spec';
import { refOp } from './ops/index';
import type { Maxpool2Saved } from './ops/maxpool2';

// ---------------------------------------------------------------------------------------------
// Models and θ.

const resolvedCache = new WeakMap<ModelSpec, ResolvedModel>();

/** resolveModel, cached per spec object (specs are treated as immutable). */
export function resolved(spec: ModelSpec): ResolvedModel {
  let m = resolvedCache.get(spec);
  if (!m) {
    m = resolveModel(spec);
    resolvedCache.set(spec, m);
  }
  return m;
}

export interface ParamTensor {
  /** Full name `${node id}.${param name}`. */
  name: string;
  node: string;
  /** Offset of the tensor's first element in θ. */
  offset: number;
  size: number;
  shape: number[];
}

/** Every parameter tensor with its offset in θ, in θ order. */
export function paramOffsets(spec: ModelSpec): ParamTensor[] {
  const out: ParamTensor[] = [];
  let offset = 0;
  for (const node of resolved(spec).nodes) {
    for (const p of node.params) {
      out.push({ name: p.fullName, node: node.id, offset, size: p.size, shape: [...p.shape] });
      offset += p.size;
    }
  }
  return out;
}

/** Length of θ (the sum of all parameter tensor sizes). */
export function thetaLength(spec: ModelSpec): number {
  return paramOffsets(spec).reduce((a, p) => a + p.size, 0);
}

/** Views into a θ-shaped vector of each node's parameter tensors, keyed by node id (declaration order). */
function paramViews(spec: ModelSpec, v: Float64Array): Map<string, Float64Array[]> {
  const m = new Map<string, Float64Array[]>(resolved(spec).nodes.map((n) => [n.id, []]));
  for (const p of paramOffsets(spec)) m.get(p.node)!.push(v.subarray(p.offset, p.offset + p.size));
  return m;
}

function asTheta(spec: ModelSpec, theta: ArrayLike<number>, what = 'θ'): Float64Array {
  const len = thetaLength(spec);
  if (theta.length !== len) throw new Error(`${spec.name}: ${what} has ${theta.length} elements, expected ${len}`);
  return Float64Array.from(theta);
}

/** Per-example input size. */
export function exampleSize(spec: ModelSpec): number {
  return shapeSize(spec.input);
}

/** Number of examples in a flat batch (throws when the length is not a multiple of the example size). */
export function batchSize(X: ArrayLike<number>, spec: ModelSpec): number {
  const d = exampleSize(spec);
  if (X.length % d !== 0) throw new Error(`${spec.name}: batch of ${X.length} values is not a multiple of the example size ${d}`);
  return X.length / d;
}

// ---------------------------------------------------------------------------------------------
// Loss (softmax cross-entropy per example).

export function logSoftmax(z: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let k = 0; k < z.length; k++) mx = Math.max(mx, z[k]);
  let sum = 0;
  for (let k = 0; k < z.length; k++) sum += Math.exp(z[k] - mx);
  const lse = mx + Math.log(sum);
  const out = new Float64Array(z.length);
  for (let k = 0; k < z.length; k++) out[k] = z[k] - lse;
  return out;
}

export function softmax(z: ArrayLike<number>): Float64Array {
  return logSoftmax(z).map(Math.exp);
}

function checkLabel(y: number, k: number): void {
  if (!Number.isInteger(y) || y < 0 || y >= k) throw new Error(`label ${y} out of range [0, ${k})`);
}

/** f = −log softmax(z)[y]. */
export function crossEntropy(z: ArrayLike<number>, y: number): number {
  checkLabel(y, z.length);
  return -logSoftmax(z)[y];
}

/** ∂f/∂z = softmax(z) − onehot(y). */
export function crossEntropyGrad(z: ArrayLike<number>, y: number): Float64Array {
  checkLabel(y, z.length);
  const d = softmax(z);
  d[y] -= 1;
  return d;
}

function checkLabels(Y: ArrayLike<number>, n: number): void {
  if (Y.length !== n) throw new Error(`${Y.length} labels for ${n} examples`);
}

/** Loss weights; undefined means the mean, 1/n each. */
function lossWeights(n: number, weights?: ArrayLike<number>): ArrayLike<number> {
  if (weights === undefined) return new Float64Array(n).fill(1 / n);
  if (weights.length !== n) throw new Error(`${weights.length} weights for ${n} examples`);
  return weights;
}

// ---------------------------------------------------------------------------------------------
// The three passes.

export interface GraphForward {
  spec: ModelSpec;
  model: ResolvedModel;
  /** Examples in the batch. */
  n: number;
  /** Activation [n * size] of every tensor, keyed by tensor id: INPUT and every node. */
  acts: Map<string, Float64Array>;
  /** What each node's reference op kept for its backward and tangent (e.g. max-pool selections). */
  saved: Map<string, unknown>;
  /** The output node's tensor, [n * K]. */
  logits: Float64Array;
}

/** Forward pass of a batch X [n * size(input)]; n defaults to X.length / size(input). */
export function forwardBatch(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, n?: number): GraphForward {
  const model = resolved(spec);
  const nn = batchSize(X, spec);
  if (n !== undefined && n !== nn) throw new Error(`${spec.name}: batch of ${X.length} values is ${nn} examples, not ${n}`);
  if (nn < 1) throw new Error(`${spec.name}: empty batch`);
  const params = paramViews(spec, asTheta(spec, theta));
  const acts = new Map<string, Float64Array>([[INPUT, Float64Array.from(X)]]);
  const saved = new Map<string, unknown>();
  for (const node of model.nodes) {
    const r = refOp(node.op.name, `${spec.name}, node "${node.id}"`).forward(
      node.inputs.map((i) => acts.get(i)!),
      params.get(node.id)!,
      node,
      nn,
    );
    if (r.out.length !== nn * shapeSize(node.outShape)) {
      throw new Error(`${spec.name}, node "${node.id}": reference ${node.op.name} gave ${r.out.length} values, expected ${nn} x [${node.outShape}]`);
    }
    acts.set(node.id, r.out);
    saved.set(node.id, r.saved);
  }
  return { spec, model, n: nn, acts, saved, logits: acts.get(model.output.id)! };
}

export interface GraphBackward {
  /** ∂L/∂θ, same layout as θ. */
  grad: Float64Array;
  /** ∂L/∂t [n * size] for every tensor t (INPUT and every node), summed over its consumers. */
  signals: Map<string, Float64Array>;
}

/** Backprop of a scalar L of the logits, given dLogits = ∂L/∂logits [n * K], through a recorded forward pass. */
export function backwardBatch(spec: ModelSpec, theta: ArrayLike<number>, fwd: GraphForward, dLogits: ArrayLike<number>): GraphBackward {
  const model = fwd.model;
  const n = fwd.n;
  if (dLogits.length !== fwd.logits.length) throw new Error(`${spec.name}: ${dLogits.length} logit signals for ${fwd.logits.length} logits`);
  const th = asTheta(spec, theta);
  const params = paramViews(spec, th);
  const grad = new Float64Array(th.length);
  const gradViews = paramViews(spec, grad);
  const signals = new Map<string, Float64Array>();
  signals.set(INPUT, new Float64Array(n * exampleSize(spec)));
  for (const node of model.nodes) signals.set(node.id, new Float64Array(n * shapeSize(node.outShape)));
  signals.get(model.output.id)!.set(dLogits);
  // Reverse topological order: every consumer of a node has added its part before the node runs.
  for (const node of [...model.nodes].reverse()) {
    const r = refOp(node.op.name, `${spec.name}, node "${node.id}"`).backward(
      node.inputs.map((i) => fwd.acts.get(i)!),
      fwd.acts.get(node.id)!,
      signals.get(node.id)!,
      params.get(node.id)!,
      node,
      n,
      fwd.saved.get(node.id),
    );
    node.inputs.forEach((id, j) => {
      const s = signals.get(id)!;
      const d = r.dInputs[j];
      if (d.length !== s.length) throw new Error(`${spec.name}, node "${node.id}": input signal ${j} has ${d.length} values, expected ${s.length}`);
      for (let k = 0; k < s.length; k++) s[k] += d[k];
    });
    const gv = gradViews.get(node.id)!;
    if (r.dParams.length !== gv.length) throw new Error(`${spec.name}, node "${node.id}": ${r.dParams.length} parameter gradients, expected ${gv.length}`);
    gv.forEach((g, p) => g.set(r.dParams[p]));
  }
  return { grad, signals };
}

/**
 * Forward-mode derivative of every tensor along the θ-direction G: d/dt t(θ + tG) at t = 0, [n * size]
 * per tensor (INPUT's is zero), through a recorded forward pass.
 */
export function tangentBatch(spec: ModelSpec, theta: ArrayLike<number>, fwd: GraphForward, G: ArrayLike<number>): Map<string, Float64Array> {
  const model = fwd.model;
  const n = fwd.n;
  const params = paramViews(spec, asTheta(spec, theta));
  const dir = paramViews(spec, asTheta(spec, G, 'the direction G'));
  const tan = new Map<string, Float64Array | null>([[INPUT, null]]);
  for (const node of model.nodes) {
    const p = dir.get(node.id)!;
    const t = refOp(node.op.name, `${spec.name}, node "${node.id}"`).tangent(
      node.inputs.map((i) => fwd.acts.get(i)!),
      node.inputs.map((i) => tan.get(i)!),
      params.get(node.id)!,
      p.length ? p : null,
      node,
      n,
      fwd.acts.get(node.id)!,
      fwd.saved.get(node.id),
    );
    if (t.length !== n * shapeSize(node.outShape)) throw new Error(`${spec.name}, node "${node.id}": tangent has ${t.length} values`);
    tan.set(node.id, t);
  }
  const out = new Map<string, Float64Array>();
  for (const [id, t] of tan) out.set(id, t ?? new Float64Array(fwd.acts.get(id)!.length));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Losses and gradients of a batch.

/** Logits row i of a forward pass. */
export function logitsRow(fwd: GraphForward, i: number): Float64Array {
  const K = fwd.model.classes;
  return fwd.logits.subarray(i * K, (i + 1) * K);
}

/** f_i for every example of a recorded forward pass. */
export function lossesOf(fwd: GraphForward, Y: ArrayLike<number>): Float64Array {
  checkLabels(Y, fwd.n);
  return Float64Array.from({ length: fwd.n }, (_, i) => crossEntropy(logitsRow(fwd, i), Y[i]));
}

/** ∂(Σ_i w_i f_i)/∂logits [n * K]: row i is w_i (softmax(z_i) − onehot(y_i)). */
export function lossSignal(fwd: GraphForward, Y: ArrayLike<number>, weights: ArrayLike<number>): Float64Array {
  checkLabels(Y, fwd.n);
  if (weights.length !== fwd.n) throw new Error(`${weights.length} weights for ${fwd.n} examples`);
  const K = fwd.model.classes;
  const d = new Float64Array(fwd.n * K);
  for (let i = 0; i < fwd.n; i++) {
    checkLabel(Y[i], K);
    if (weights[i] === 0) continue; // exactly zero rows (no 0 · NaN)
    const g = crossEntropyGrad(logitsRow(fwd, i), Y[i]);
    for (let k = 0; k < K; k++) d[i * K + k] = weights[i] * g[k];
  }
  return d;
}

/** f_i(θ) for every example of the batch (evaluated on the whole batch). */
export function exampleLosses(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>): Float64Array {
  return lossesOf(forwardBatch(spec, theta, X), Y);
}

/** Σ_i w_i f_i(θ); w defaults to 1/n each (the mean loss). */
export function batchLoss(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>, weights?: ArrayLike<number>): number {
  const f = exampleLosses(spec, theta, X, Y);
  const w = lossWeights(f.length, weights);
  let sum = 0;
  for (let i = 0; i < f.length; i++) sum += w[i] * f[i];
  return sum;
}

/** ∇_θ Σ_i w_i f_i(θ), by one backward pass of the batch; w defaults to 1/n each. */
export function batchGrad(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>, weights?: ArrayLike<number>): Float64Array {
  const fwd = forwardBatch(spec, theta, X);
  checkLabels(Y, fwd.n);
  return backwardBatch(spec, theta, fwd, lossSignal(fwd, Y, lossWeights(fwd.n, weights))).grad;
}

/**
 * Literal per-example gradients ∇_θ f_i(θ): for each i, a backward pass of f_i alone (the unit logit
 * signal on row i, zero elsewhere) through the whole batch, so they are exact for coupling ops too.
 */
export function perExampleGrads(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>): Float64Array[] {
  const fwd = forwardBatch(spec, theta, X);
  checkLabels(Y, fwd.n);
  return Array.from({ length: fwd.n }, (_, i) => {
    const e = new Float64Array(fwd.n);
    e[i] = 1;
    return backwardBatch(spec, theta, fwd, lossSignal(fwd, Y, e)).grad;
  });
}

/** d/dt f_i(θ + tG) at t = 0 for every example, by forward mode: (softmax(z_i) − onehot(y_i)) · dz_i. */
export function lossTangents(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>, G: ArrayLike<number>): Float64Array {
  const fwd = forwardBatch(spec, theta, X);
  checkLabels(Y, fwd.n);
  const dz = tangentBatch(spec, theta, fwd, G).get(fwd.model.output.id)!;
  const K = fwd.model.classes;
  return Float64Array.from({ length: fwd.n }, (_, i) => {
    const g = crossEntropyGrad(logitsRow(fwd, i), Y[i]);
    let s = 0;
    for (let k = 0; k < K; k++) s += g[k] * dz[i * K + k];
    return s;
  });
}

// ---------------------------------------------------------------------------------------------
// Kinks (for choosing test points where finite differences are valid).

function poolNodes(fwd: GraphForward): ResolvedNode[] {
  return fwd.model.nodes.filter((n) => n.op.name === 'maxpool2');
}

/**
 * The non-smooth choices of a forward pass, as a string: every relu node's input sign mask and every
 * maxpool2 node's selections. Two points with the same pattern lie in the same smooth piece.
 */
export function activationPattern(fwd: GraphForward): string {
  const parts: string[] = [];
  for (const node of fwd.model.nodes) {
    if (node.op.name === 'relu') parts.push(Array.from(fwd.acts.get(node.inputs[0])!, (v) => (v > 0 ? '1' : '0')).join(''));
    else if (node.op.name === 'maxpool2') parts.push(Array.from((fwd.saved.get(node.id) as Maxpool2Saved).argmax).join(','));
  }
  return parts.join('|');
}

/**
 * How far a forward pass is from a non-differentiable point: the smallest |input| of any relu node,
 * and the smallest gap between a pooling window's maximum and the largest value in that window strictly
 * below it (exact ties are not counted: they are the structural ties of repeated inputs, which a
 * parameter perturbation keeps tied). Infinity where the model has no such node.
 */
export function kinkMargins(fwd: GraphForward): { relu: number; pool: number } {
  let relu = Infinity;
  let pool = Infinity;
  for (const node of fwd.model.nodes) {
    if (node.op.name === 'relu') for (const v of fwd.acts.get(node.inputs[0])!) relu = Math.min(relu, Math.abs(v));
  }
  for (const node of poolNodes(fwd)) {
    const x = fwd.acts.get(node.inputs[0])!;
    const y = fwd.acts.get(node.id)!;
    const [C, H, W] = node.inShapes[0];
    const [, P, Q] = node.outShape;
    for (let i = 0; i < fwd.n; i++) {
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < P; p++) {
          for (let q = 0; q < Q; q++) {
            const mx = y[((i * C + c) * P + p) * Q + q];
            for (let r = 0; r < 2; r++) {
              for (let u = 0; u < 2; u++) {
                const v = x[((i * C + c) * H + 2 * p + r) * W + 2 * q + u];
                if (v < mx) pool = Math.min(pool, mx - v);
              }
            }
          }
        }
      }
    }
  }
  return { relu, pool };
}
