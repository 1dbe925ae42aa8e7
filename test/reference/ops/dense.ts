// dense, attrs {units}: input [D] (rank 1), params weight [units, D] (row-major, index o*D + i) and
// bias [units]; y[o] = bias[o] + Σ_i W[o,i] a[i]. Examples are independent.
import { checkBatch, row, sizeOf, type RefNode, type RefOp } from './ref_op';

/** One example: y[o] = b[o] + Σ_i W[o,i] a[i]. `b` null: no bias term. */
export function denseForward(inDim: number, outDim: number, a: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number> | null): Float64Array {
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let acc = b ? b[o] : 0;
    for (let i = 0; i < inDim; i++) acc += W[o * inDim + i] * a[i];
    y[o] = acc;
  }
  return y;
}

/** One example: adds dW += dy aᵀ and db += dy (when given); returns da = Wᵀ dy. */
export function denseBackward(
  inDim: number,
  outDim: number,
  a: ArrayLike<number>,
  dy: ArrayLike<number>,
  W: ArrayLike<number>,
  dW: Float64Array | null,
  db: Float64Array | null,
): Float64Array {
  const da = new Float64Array(inDim);
  for (let o = 0; o < outDim; o++) {
    const d = dy[o];
    if (db) db[o] += d;
    for (let i = 0; i < inDim; i++) {
      if (dW) dW[o * inDim + i] += d * a[i];
      da[i] += W[o * inDim + i] * d;
    }
  }
  return da;
}

function dims(node: RefNode): { D: number; U: number } {
  if (node.inShapes[0].length !== 1) throw new Error(`${node.id}: dense needs a rank-1 input [D], got [${node.inShapes[0]}]`);
  return { D: node.inShapes[0][0], U: sizeOf(node.outShape) };
}

export const dense: RefOp = {
  forward([a], [W, b], node, n) {
    const { D, U } = dims(node);
    checkBatch(node.id, a, [D], n);
    checkBatch(`${node.id}.weight`, W, [U, D], 1);
    const out = new Float64Array(n * U);
    for (let i = 0; i < n; i++) out.set(denseForward(D, U, row(a, i, D), W, b), i * U);
    return { out };
  },
  backward([a], _out, dOut, [W], node, n) {
    const { D, U } = dims(node);
    const dW = new Float64Array(U * D);
    const db = new Float64Array(U);
    const da = new Float64Array(n * D);
    for (let i = 0; i < n; i++) da.set(denseBackward(D, U, row(a, i, D), row(dOut, i, U), W, dW, db), i * D);
    return { dInputs: [da], dParams: [dW, db] };
  },
  // dy = W da + G_W a + G_b.
  tangent([a], [da], [W], G, node, n) {
    const { D, U } = dims(node);
    const t = new Float64Array(n * U);
    for (let i = 0; i < n; i++) {
      const ti = row(t, i, U);
      if (da) ti.set(denseForward(D, U, row(da, i, D), W, null));
      if (G) {
        const g = denseForward(D, U, row(a, i, D), G[0], G[1]);
        for (let o = 0; o < U; o++) ti[o] += g[o];
      }
    }
    return t;
  },
};
