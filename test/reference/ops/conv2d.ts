// conv2d, attrs {channels K, kernel R, stride (1), pad (0), bias (true)}: input [C, H, W], params
// weight [K, C, R, R] (index ((k*C + c)*R + r)*R + s) and, unless bias is false, bias [K];
//   y[k,p,q] = b[k] + Σ_{c,r,s} W[k,c,r,s] · x[c, p*stride − pad + r, q*stride − pad + s]
// (zero outside the input; b = 0 without a bias); output [K, floor((H + 2pad − R)/stride) + 1, same for W].
import { attr, checkBatch, row, sizeOf, type RefNode, type RefOp } from './ref_op';

export type Shape3 = [number, number, number];

export interface ConvGeometry {
  inShape: Shape3;
  outChannels: number;
  kernel: number;
  stride: number;
  pad: number;
}

export function convOutShape(g: ConvGeometry): Shape3 {
  const [, h, w] = g.inShape;
  return [g.outChannels, Math.floor((h + 2 * g.pad - g.kernel) / g.stride) + 1, Math.floor((w + 2 * g.pad - g.kernel) / g.stride) + 1];
}

/** Whether the node has a bias (attribute `bias`, default true). */
export function convHasBias(node: RefNode): boolean {
  const v = node.attrs.bias ?? true;
  if (typeof v !== 'boolean') throw new Error(`${node.id}: attribute "bias" is ${JSON.stringify(v)}, expected true or false`);
  return v;
}

/** The node's parameters in declaration order: [weight, bias] or [weight]; the bias null when absent. */
function convParams(node: RefNode, params: readonly Float64Array[]): { W: Float64Array; b: Float64Array | null } {
  const hasBias = convHasBias(node);
  if (params.length !== (hasBias ? 2 : 1)) throw new Error(`${node.id}: ${params.length} parameter tensors, expected ${hasBias ? 'weight and bias' : 'weight only (bias: false)'}`);
  return { W: params[0], b: hasBias ? params[1] : null };
}

export function convGeometry(node: RefNode): ConvGeometry {
  const s = node.inShapes[0];
  if (s.length !== 3) throw new Error(`${node.id}: conv2d needs an input [C, H, W], got [${s}]`);
  return { inShape: [s[0], s[1], s[2]], outChannels: attr(node, 'channels'), kernel: attr(node, 'kernel'), stride: attr(node, 'stride', 1), pad: attr(node, 'pad', 0) };
}

/** One example: returns y [K, P, Q]. `b` null: no bias term (used by the tangent's W·dx part). */
export function convForward(g: ConvGeometry, x: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number> | null): Float64Array {
  const [C, H, Wd] = g.inShape;
  const [K, P, Q] = convOutShape(g);
  const R = g.kernel;
  const y = new Float64Array(K * P * Q);
  for (let k = 0; k < K; k++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        let acc = b ? b[k] : 0;
        for (let c = 0; c < C; c++) {
          for (let r = 0; r < R; r++) {
            const ih = p * g.stride - g.pad + r;
            if (ih < 0 || ih >= H) continue;
            for (let s = 0; s < R; s++) {
              const iw = q * g.stride - g.pad + s;
              if (iw < 0 || iw >= Wd) continue;
              acc += W[((k * C + c) * R + r) * R + s] * x[(c * H + ih) * Wd + iw];
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
 * One example's backward, `dy` the signal at the output: adds the filter gradient into dW and the
 * bias gradient into db (when given); returns the signal at the input (backward data).
 */
export function convBackward(
  g: ConvGeometry,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  W: ArrayLike<number>,
  dW: Float64Array | null,
  db: Float64Array | null,
): Float64Array {
  const [C, H, Wd] = g.inShape;
  const [K, P, Q] = convOutShape(g);
  const R = g.kernel;
  const dx = new Float64Array(C * H * Wd);
  for (let k = 0; k < K; k++) {
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < Q; q++) {
        const d = dy[(k * P + p) * Q + q];
        if (db) db[k] += d;
        for (let c = 0; c < C; c++) {
          for (let r = 0; r < R; r++) {
            const ih = p * g.stride - g.pad + r;
            if (ih < 0 || ih >= H) continue;
            for (let s = 0; s < R; s++) {
              const iw = q * g.stride - g.pad + s;
              if (iw < 0 || iw >= Wd) continue;
              const wi = ((k * C + c) * R + r) * R + s;
              const xi = (c * H + ih) * Wd + iw;
              if (dW) dW[wi] += d * x[xi];
              dx[xi] += d * W[wi];
            }
          }
        }
      }
    }
  }
  return dx;
}

export const conv2d: RefOp = {
  forward([x], params, node, n) {
    const g = convGeometry(node);
    const { W, b } = convParams(node, params);
    const inSize = sizeOf(g.inShape);
    const outShape = convOutShape(g);
    if (sizeOf(outShape) !== sizeOf(node.outShape)) throw new Error(`${node.id}: conv output [${outShape}] but the node says [${node.outShape}]`);
    checkBatch(node.id, x, g.inShape, n);
    checkBatch(`${node.id}.weight`, W, [g.outChannels, g.inShape[0], g.kernel, g.kernel], 1);
    if (b) checkBatch(`${node.id}.bias`, b, [g.outChannels], 1);
    const outSize = sizeOf(outShape);
    const out = new Float64Array(n * outSize);
    for (let i = 0; i < n; i++) out.set(convForward(g, row(x, i, inSize), W, b), i * outSize);
    return { out };
  },
  backward([x], _out, dOut, params, node, n) {
    const g = convGeometry(node);
    const { W, b } = convParams(node, params);
    const inSize = sizeOf(g.inShape);
    const outSize = sizeOf(node.outShape);
    const dW = new Float64Array(W.length);
    const db = b ? new Float64Array(b.length) : null;
    const dx = new Float64Array(n * inSize);
    for (let i = 0; i < n; i++) dx.set(convBackward(g, row(x, i, inSize), row(dOut, i, outSize), W, dW, db), i * inSize);
    return { dInputs: [dx], dParams: db ? [dW, db] : [dW] };
  },
  // dy = conv(dx; W) + conv(x; G_W) + G_b (no G_b without a bias).
  tangent([x], [dx], params, G, node, n) {
    const g = convGeometry(node);
    const { W } = convParams(node, params);
    const dir = G ? convParams(node, G) : null;
    const inSize = sizeOf(g.inShape);
    const outSize = sizeOf(node.outShape);
    const t = new Float64Array(n * outSize);
    for (let i = 0; i < n; i++) {
      const ti = row(t, i, outSize);
      if (dx) ti.set(convForward(g, row(dx, i, inSize), W, null));
      if (dir) {
        const y = convForward(g, row(x, i, inSize), dir.W, dir.b);
        for (let o = 0; o < outSize; o++) ti[o] += y[o];
      }
    }
    return t;
  },
};
