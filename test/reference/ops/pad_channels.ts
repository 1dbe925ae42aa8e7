// pad_channels, attrs {before, after} (integers >= 0, default 0): input [C, H, W], output
// [before + C + after, H, W] with y[before + c] = x[c] and zeros in the other channels. Linear:
// backward is the slice dy[before .. before + C), tangent = the forward applied to the input tangent.
// No parameters.
import { attr, checkBatch, sizeOf, type RefNode, type RefOp } from './ref_op';

function geometry(node: RefNode): { C: number; plane: number; before: number; after: number } {
  const s = node.inShapes[0];
  if (s.length !== 3) throw new Error(`${node.id}: pad_channels needs an input [C, H, W], got [${s}]`);
  const before = attr(node, 'before', 0);
  const after = attr(node, 'after', 0);
  if (before < 0 || after < 0) throw new Error(`${node.id}: negative channel padding ${before}, ${after}`);
  return { C: s[0], plane: s[1] * s[2], before, after };
}

function pad(x: ArrayLike<number>, node: RefNode, n: number): Float64Array {
  const { C, plane, before, after } = geometry(node);
  const Cout = before + C + after;
  const y = new Float64Array(n * Cout * plane);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < plane; j++) y[(i * Cout + before + c) * plane + j] = x[(i * C + c) * plane + j];
    }
  }
  return y;
}

export const padChannels: RefOp = {
  forward([x], _params, node, n) {
    checkBatch(node.id, x, node.inShapes[0], n);
    return { out: pad(x, node, n) };
  },
  backward(_inputs, _out, dOut, _params, node, n) {
    const { C, plane, before, after } = geometry(node);
    const Cout = before + C + after;
    checkBatch(`${node.id} signal`, dOut, [Cout, plane], n);
    const dx = new Float64Array(n * C * plane);
    for (let i = 0; i < n; i++) dx.set(dOut.subarray((i * Cout + before) * plane, (i * Cout + before + C) * plane), i * C * plane);
    return { dInputs: [dx], dParams: [] };
  },
  tangent(_inputs, [dx], _params, _G, node, n) {
    return dx ? pad(dx, node, n) : new Float64Array(n * sizeOf(node.outShape));
  },
};
