// maxpool2: 2x2 windows, stride 2, input [C, H, W], output [C, floor(H/2), floor(W/2)]. The selected
// element is the first maximum in row-major window order ((0,0), (0,1), (1,0), (1,1)); backward routes
// the signal to that element only, and the tangent reads the input tangent there.
import { row, sizeOf, type RefNode, type RefOp } from './ref_op';
import type { Shape3 } from './conv2d';

/**
 * One example: the output and, per output element, the flat index (within the example) of the
 * selected input element.
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

/** One example's backward: each output signal goes to its selected input element. */
export function maxpool2Backward(inShape: Shape3, argmax: Int32Array, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(sizeOf(inShape));
  for (let o = 0; o < argmax.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}

/** What the forward pass keeps: argmax [n * outSize], each an index within its own example. */
export interface Maxpool2Saved {
  argmax: Int32Array;
}

function inShape3(node: RefNode): Shape3 {
  const s = node.inShapes[0];
  if (s.length !== 3) throw new Error(`${node.id}: maxpool2 needs an input [C, H, W], got [${s}]`);
  return [s[0], s[1], s[2]];
}

export const maxpool2: RefOp = {
  forward([x], _params, node, n) {
    const shape = inShape3(node);
    const inSize = sizeOf(shape);
    const outSize = sizeOf(node.outShape);
    const out = new Float64Array(n * outSize);
    const argmax = new Int32Array(n * outSize);
    for (let i = 0; i < n; i++) {
      const r = maxpool2Forward(shape, row(x, i, inSize));
      if (r.y.length !== outSize) throw new Error(`${node.id}: pooled ${r.y.length} values, the node says [${node.outShape}]`);
      out.set(r.y, i * outSize);
      argmax.set(r.argmax, i * outSize);
    }
    return { out, saved: { argmax } satisfies Maxpool2Saved };
  },
  backward(_inputs, _out, dOut, _params, node, n, saved) {
    const shape = inShape3(node);
    const inSize = sizeOf(shape);
    const outSize = sizeOf(node.outShape);
    const { argmax } = saved as Maxpool2Saved;
    const dx = new Float64Array(n * inSize);
    for (let i = 0; i < n; i++) dx.set(maxpool2Backward(shape, argmax.subarray(i * outSize, (i + 1) * outSize), row(dOut, i, outSize)), i * inSize);
    return { dInputs: [dx], dParams: [] };
  },
  tangent(_inputs, [dx], _params, _G, node, n, _out, saved) {
    const inSize = sizeOf(inShape3(node));
    const outSize = sizeOf(node.outShape);
    const { argmax } = saved as Maxpool2Saved;
    const t = new Float64Array(n * outSize);
    if (!dx) return t;
    for (let i = 0; i < n; i++) for (let o = 0; o < outSize; o++) t[i * outSize + o] = dx[i * inSize + argmax[i * outSize + o]];
    return t;
  },
};
