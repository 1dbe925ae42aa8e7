// float64 reference of the sequential models described by src/train/spec.ts, written for clarity,
// not speed. One example at a time; batch functions are plain loops over examples.
//
// Parameter layout (the flat vector θ): dense, no padding, in resolveModel order; for each layer with
// parameters, its weight then its bias.
//   conv  weight [K, C, R, S] row-major (index ((k*C + c)*R + r)*S + s), bias [K]
//   dense weight [out, in]    row-major (index o*in + i),                bias [out]
// Activations of one example are [C, H, W] row-major; a dense layer after a spatial layer reads that
// array as is, i.e. flattened in C, H, W order.
//
// Layer semantics:
//   conv     y[k,p,q] = b[k] + Σ_{c,r,s} W[k,c,r,s] · x[c, p*stride - pad + r, q*stride - pad + s]
//            (zero outside the input), then ReLU when `relu`.
//   maxpool2 2x2 windows, stride 2, output floor(H/2) x floor(W/2); the selected element is the first
//            maximum in row-major window order ((0,0), (0,1), (1,0), (1,1)); backward routes the
//            signal to that element only.
//   dense    y[o] = b[o] + Σ_i W[o,i] · a[i], then ReLU when `relu`.
// Loss per example: softmax cross-entropy f = -log softmax(z)[y] = logsumexp(z) - z[y].

import type { LayerSpec, ModelSpec, ResolvedLayer } from '../../src/train/spec';
import { numClasses, resolveModel, size3 } from '../../src/train/spec';

export type Shape3 = [number, number, number];

export interface ParamTensor {
  name: string;
  /** Offset of the tensor's first element in θ. */
  offset: number;
  size: number;
  shape: number[];
}

/** Every parameter tensor with its offset in the dense flat vector θ, in resolveModel order. */
export function paramOffsets(spec: ModelSpec): ParamTensor[] {
  const out: ParamTensor[] = [];
  let offset = 0;
  for (const layer of resolveModel(spec)) {
    for (const p of layer.params) {
      out.push({ name: p.name, offset, size: p.size, shape: [...p.shape] });
      offset += p.size;
    }
  }
  return out;
}

/** Length of θ (the sum of all tensor sizes). */
export function thetaLength(spec: ModelSpec): number {
  return paramOffsets(spec).reduce((a, p) => a + p.size, 0);
}

/** Offsets of a layer's weight and bias in θ, keyed by layer index (layers with parameters only). */
function layerOffsets(spec: ModelSpec): Map<number, { w: number; b: number }> {
  const m = new Map<number, { w: number; b: number }>();
  let offset = 0;
  for (const layer of resolveModel(spec)) {
    if (layer.params.length === 0) continue;
    const [wt, bs] = layer.params;
    m.set(layer.index, { w: offset, b: offset + wt.size });
    offset += wt.size + bs.size;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Single layers (exported so that kernel tests can use them directly).

export interface ConvGeometry {
  inShape: Shape3;
  outChannels: number;
  kernel: number;
  stride: number;
  pad: number;
}

function convOutShape(g: ConvGeometry): Shape3 {
  const [, h, w] = g.inShape;
  return [g.outChannels, Math.floor((h + 2 * g.pad - g.kernel) / g.stride) + 1, Math.floor((w + 2 * g.pad - g.kernel) / g.stride) + 1];
}

/** Convolution (no activation): returns y of shape [K, P, Q]. `weight`/`bias` are read at the given offsets. */
export function convForward(g: ConvGeometry, x: ArrayLike<number>, theta: ArrayLike<number>, wOff: number, bOff: number): Float64Array {
  const [C, H, W] = g.inShape;
  const [K, P, Q] = convOutShape(g);
  const R = g.kernel;
  const y = new Float64Array(K * P * Q);
  for (let k = 0; k < K; k++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        let acc = theta[bOff + k];
        for (let c = 0; c < C; c++) {
          for (let r = 0; r < R; r++) {
            const ih = p * g.stride - g.pad + r;
            if (ih < 0 || ih >= H) continue;
            for (let s = 0; s < R; s++) {
              const iw = q * g.stride - g.pad + s;
              if (iw < 0 || iw >= W) continue;
              acc += theta[wOff + ((k * C + c) * R + r) * R + s] * x[(c * H + ih) * W + iw];
            }
          }
        }
        y[(k * P + p) * Q + q] = acc;
      }
    }
  }
  return y;
}

/**
 * Convolution backward. `dy` is the signal at the convolution's (pre-activation) output. Adds the
 * filter gradient into grad[wOff..] and the bias gradient into grad[bOff..]; returns the signal at
 * the input (backward data).
 */
export function convBackward(
  g: ConvGeometry,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  theta: ArrayLike<number>,
  wOff: number,
  bOff: number,
  grad: Float64Array,
): Float64Array {
  const [C, H, W] = g.inShape;
  const [K, P, Q] = convOutShape(g);
  const R = g.kernel;
  const dx = new Float64Array(C * H * W);
  for (let k = 0; k < K; k++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        const d = dy[(k * P + p) * Q + q];
        grad[bOff + k] += d;
        for (let c = 0; c < C; c++) {
          for (let r = 0; r < R; r++) {
            const ih = p * g.stride - g.pad + r;
            if (ih < 0 || ih >= H) continue;
            for (let s = 0; s < R; s++) {
              const iw = q * g.stride - g.pad + s;
              if (iw < 0 || iw >= W) continue;
              const wi = wOff + ((k * C + c) * R + r) * R + s;
              const xi = (c * H + ih) * W + iw;
              grad[wi] += d * x[xi];
              dx[xi] += d * theta[wi];
            }
          }
        }
      }
    }
  }
  return dx;
}

/**
 * 2x2 max pooling, stride 2, floor. Returns the output and, per output element, the flat input index
 * of the selected element (the first maximum in row-major window order).
 */
export function maxpool2Forward(inShape: Shape3, x: ArrayLike<number>): { y: Float64Array; argmax: Int32Array } {
  const [C, H, W] = inShape;
  const P = Math.floor(H / 2);
  const Q = Math.floor(W / 2);
  const y = new Float64Array(C * P * Q);
  const argmax = new Int32Array(C * P * Q);
  for (let c = 0; c < C; c++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        let best = -Infinity;
        let bestIdx = -1;
        for (let r = 0; r < 2; r++) {
          for (let s = 0; s < 2; s++) {
            const idx = (c * H + 2 * p + r) * W + 2 * q + s;
            // Strict '>' keeps the first maximum on ties.
            if (bestIdx < 0 || x[idx] > best) {
              best = x[idx];
              bestIdx = idx;
            }
          }
        }
        const o = (c * P + p) * Q + q;
        y[o] = best;
        argmax[o] = bestIdx;
      }
    }
  }
  return { y, argmax };
}

/** Max-pool backward: each output signal goes to its selected input element. */
export function maxpool2Backward(inShape: Shape3, argmax: Int32Array, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(size3(inShape));
  for (let o = 0; o < argmax.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}

/** Dense layer (no activation): y[o] = b[o] + Σ_i W[o,i] a[i]. */
export function denseForward(inDim: number, outDim: number, a: ArrayLike<number>, theta: ArrayLike<number>, wOff: number, bOff: number): Float64Array {
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let acc = theta[bOff + o];
    for (let i = 0; i < inDim; i++) acc += theta[wOff + o * inDim + i] * a[i];
    y[o] = acc;
  }
  return y;
}

/** Dense backward: adds dW = dy aᵀ and db = dy into grad; returns da = Wᵀ dy. */
export function denseBackward(
  inDim: number,
  outDim: number,
  a: ArrayLike<number>,
  dy: ArrayLike<number>,
  theta: ArrayLike<number>,
  wOff: number,
  bOff: number,
  grad: Float64Array,
): Float64Array {
  const da = new Float64Array(inDim);
  for (let o = 0; o < outDim; o++) {
    const d = dy[o];
    grad[bOff + o] += d;
    for (let i = 0; i < inDim; i++) {
      grad[wOff + o * inDim + i] += d * a[i];
      da[i] += theta[wOff + o * inDim + i] * d;
    }
  }
  return da;
}

export function reluForward(z: ArrayLike<number>): Float64Array {
  const y = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) y[i] = z[i] > 0 ? z[i] : 0;
  return y;
}

/** ReLU backward: the signal passes where the pre-activation is > 0 (derivative 0 at exactly 0). */
export function reluBackward(z: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dz = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) dz[i] = z[i] > 0 ? dy[i] : 0;
  return dz;
}

// ---------------------------------------------------------------------------------------------
// Loss.

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

/** f = -log softmax(z)[y]. */
export function crossEntropy(z: ArrayLike<number>, y: number): number {
  checkLabel(y, z.length);
  return -logSoftmax(z)[y];
}

/** ∂f/∂z = softmax(z) - onehot(y). */
export function crossEntropyGrad(z: ArrayLike<number>, y: number): Float64Array {
  checkLabel(y, z.length);
  const d = softmax(z);
  d[y] -= 1;
  return d;
}

function checkLabel(y: number, k: number): void {
  if (!Number.isInteger(y) || y < 0 || y >= k) throw new Error(`label ${y} out of range [0, ${k})`);
}

// ---------------------------------------------------------------------------------------------
// Whole model, one example.

export interface LayerTrace {
  layer: ResolvedLayer;
  /** The layer's input (the previous layer's output, or the example). */
  input: Float64Array;
  /** conv/dense: the output before ReLU; maxpool2: the pooled output. */
  pre: Float64Array;
  /** The layer's output (after ReLU where the layer has one). */
  out: Float64Array;
  /** maxpool2 only: the selected input index per output element. */
  argmax?: Int32Array;
}

export interface ForwardResult {
  logits: Float64Array;
  /** activations[l] = output of layer l (after its ReLU, if any); the last one equals `logits`. */
  activations: Float64Array[];
  /** Full per-layer record (inputs, pre-activations, pool selections), used by backward. */
  trace: LayerTrace[];
}

function checkTheta(spec: ModelSpec, theta: ArrayLike<number>): void {
  const n = thetaLength(spec);
  if (theta.length !== n) throw new Error(`${spec.name}: θ has ${theta.length} elements, expected ${n}`);
}

function convGeometry(layer: ResolvedLayer): ConvGeometry {
  const s = layer.spec as Extract<LayerSpec, { kind: 'conv' }>;
  return { inShape: layer.inShape, outChannels: s.outChannels, kernel: s.kernel, stride: s.stride ?? 1, pad: s.pad ?? 0 };
}

export function forward(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>): ForwardResult {
  checkTheta(spec, theta);
  if (x.length !== size3(spec.input)) throw new Error(`${spec.name}: example has ${x.length} values, expected ${size3(spec.input)}`);
  const offs = layerOffsets(spec);
  const trace: LayerTrace[] = [];
  let a: Float64Array = Float64Array.from(x);
  for (const layer of resolveModel(spec)) {
    const s = layer.spec;
    let pre: Float64Array;
    let out: Float64Array;
    let argmax: Int32Array | undefined;
    if (s.kind === 'conv') {
      const o = offs.get(layer.index)!;
      pre = convForward(convGeometry(layer), a, theta, o.w, o.b);
      out = s.relu ? reluForward(pre) : pre;
    } else if (s.kind === 'maxpool2') {
      ({ y: pre, argmax } = maxpool2Forward(layer.inShape, a));
      out = pre;
    } else {
      const o = offs.get(layer.index)!;
      pre = denseForward(size3(layer.inShape), s.out, a, theta, o.w, o.b);
      out = s.relu ? reluForward(pre) : pre;
    }
    trace.push({ layer, input: a, pre, out, argmax });
    a = out;
  }
  return { logits: a, activations: trace.map((t) => t.out), trace };
}

export interface BackwardResult {
  /** ∂f/∂θ, same layout as θ. */
  grad: Float64Array;
  /** dOut[l] = ∂f/∂(output of layer l, after ReLU). */
  dOut: Float64Array[];
  /** dPre[l] = ∂f/∂(pre-activation of layer l); equals dOut[l] for layers without ReLU and for pooling. */
  dPre: Float64Array[];
  /** ∂f/∂x (the signal at the example). */
  dInput: Float64Array;
}

/** Backprop of a scalar function of the logits with gradient `dLogits`, through a recorded forward pass. */
export function backward(spec: ModelSpec, theta: ArrayLike<number>, fwd: ForwardResult, dLogits: ArrayLike<number>): BackwardResult {
  const offs = layerOffsets(spec);
  const grad = new Float64Array(theta.length);
  const L = fwd.trace.length;
  const dOut: Float64Array[] = new Array(L);
  const dPre: Float64Array[] = new Array(L);
  let d: Float64Array = Float64Array.from(dLogits);
  for (let l = L - 1; l >= 0; l--) {
    const t = fwd.trace[l];
    const s = t.layer.spec;
    dOut[l] = d;
    if (s.kind === 'conv') {
      const o = offs.get(t.layer.index)!;
      dPre[l] = s.relu ? reluBackward(t.pre, d) : d;
      d = convBackward(convGeometry(t.layer), t.input, dPre[l], theta, o.w, o.b, grad);
    } else if (s.kind === 'maxpool2') {
      dPre[l] = d;
      d = maxpool2Backward(t.layer.inShape, t.argmax!, d);
    } else {
      const o = offs.get(t.layer.index)!;
      dPre[l] = s.relu ? reluBackward(t.pre, d) : d;
      d = denseBackward(size3(t.layer.inShape), s.out, t.input, dPre[l], theta, o.w, o.b, grad);
    }
  }
  return { grad, dOut, dPre, dInput: d };
}

/** f(θ) = -log softmax(Φ(x; θ))[y] for one example. */
export function exampleLoss(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>, y: number): number {
  return crossEntropy(forward(spec, theta, x).logits, y);
}

/** ∇_θ f(θ) for one example, by backprop. */
export function exampleGrad(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>, y: number): Float64Array {
  const fwd = forward(spec, theta, x);
  return backward(spec, theta, fwd, crossEntropyGrad(fwd.logits, y)).grad;
}

// ---------------------------------------------------------------------------------------------
// Batches: X is a flat [n, C*H*W] array (row-major per example), Y holds n integer labels.

/** Number of examples in a flat batch (throws when the length is not a multiple of the example size). */
export function batchSize(X: ArrayLike<number>, spec: ModelSpec): number {
  const d = size3(spec.input);
  if (X.length % d !== 0) throw new Error(`${spec.name}: batch of ${X.length} values is not a multiple of the example size ${d}`);
  return X.length / d;
}

/** Example i of a flat [n, C*H*W] batch, as float64. */
export function batchExample(X: Float32Array | Float64Array | ArrayLike<number>, i: number, spec: ModelSpec): Float64Array {
  const d = size3(spec.input);
  const n = batchSize(X, spec);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`example ${i} out of range [0, ${n})`);
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) out[j] = X[i * d + j];
  return out;
}

function batchWeights(n: number, weights?: ArrayLike<number>): ArrayLike<number> {
  if (weights === undefined) return new Float64Array(n).fill(1 / n);
  if (weights.length !== n) throw new Error(`${weights.length} weights for ${n} examples`);
  return weights;
}

function checkLabels(Y: ArrayLike<number>, n: number): void {
  if (Y.length !== n) throw new Error(`${Y.length} labels for ${n} examples`);
}

/** Σ_i w_i f_i(θ); w defaults to 1/n each (the mean loss). */
export function batchLoss(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>, weights?: ArrayLike<number>): number {
  const n = batchSize(X, spec);
  checkLabels(Y, n);
  const w = batchWeights(n, weights);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += w[i] * exampleLoss(spec, theta, batchExample(X, i, spec), Y[i]);
  return sum;
}

/** Σ_i w_i ∇f_i(θ); w defaults to 1/n each. */
export function batchGrad(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>, Y: ArrayLike<number>, weights?: ArrayLike<number>): Float64Array {
  const n = batchSize(X, spec);
  checkLabels(Y, n);
  const w = batchWeights(n, weights);
  const grad = new Float64Array(theta.length);
  for (let i = 0; i < n; i++) {
    const gi = exampleGrad(spec, theta, batchExample(X, i, spec), Y[i]);
    for (let j = 0; j < grad.length; j++) grad[j] += w[i] * gi[j];
  }
  return grad;
}

/** Per-example logits of a batch, flat [n, K]. */
export function batchLogits(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>): Float64Array {
  const n = batchSize(X, spec);
  const K = numClasses(spec);
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) out.set(forward(spec, theta, batchExample(X, i, spec)).logits, i * K);
  return out;
}

/** Predicted class per example (argmax of the logits; the first maximum on ties). */
export function predict(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>): Int32Array {
  const n = batchSize(X, spec);
  const K = numClasses(spec);
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
 * How far one example's forward pass is from a non-differentiable point: the smallest |pre-activation|
 * over ReLU layers, and the smallest gap between a pooling window's maximum and the largest value in
 * that window strictly below it (exact ties are not counted: they are the structural ties of repeated
 * inputs, which a parameter perturbation keeps tied). Infinity where the model has no such layer.
 */
export function kinkMargin(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>): { relu: number; pool: number } {
  const fwd = forward(spec, theta, x);
  let relu = Infinity;
  let pool = Infinity;
  for (const t of fwd.trace) {
    const s = t.layer.spec;
    if ((s.kind === 'conv' || s.kind === 'dense') && s.relu) {
      for (const v of t.pre) relu = Math.min(relu, Math.abs(v));
    } else if (s.kind === 'maxpool2') {
      const [C, H, W] = t.layer.inShape;
      const [, P, Q] = t.layer.outShape;
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < P; p++) {
          for (let q = 0; q < Q; q++) {
            const mx = t.pre[(c * P + p) * Q + q];
            for (let r = 0; r < 2; r++) {
              for (let u = 0; u < 2; u++) {
                const v = t.input[(c * H + 2 * p + r) * W + 2 * q + u];
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
