// avgpool2: input [C, H, W] with H and W even, output [C, H/2, W/2],
//   y[c,p,q] = (x[c,2p,2q] + x[c,2p,2q+1] + x[c,2p+1,2q] + x[c,2p+1,2q+1]) / 4.
// Linear: backward gives each input element dy/4 of the window it lies in; tangent = the forward
// applied to the input tangent. No parameters.
import { checkBatch, type RefNode, type RefOp } from './ref_op';
import type { Shape3 } from './conv2d';

function inShape3(node: RefNode): Shape3 {
  const s = node.inShapes[0];
  if (s.length !== 3) throw new Error(`${node.id}: avgpool2 needs an input [C, H, W], got [${s}]`);
  if (s[1] % 2 !== 0 || s[2] % 2 !== 0) throw new Error(`${node.id}: avgpool2 needs an even height and width, got ${s[1]}x${s[2]}`);
  return [s[0], s[1], s[2]];
}

function pool(x: ArrayLike<number>, [C, H, W]: Shape3, n: number): Float64Array {
  const P = H / 2;
  const Q = W / 2;
  const y = new Float64Array(n * C * P * Q);
  const at = (i: number, c: number, h: number, w: number) => x[((i * C + c) * H + h) * W + w];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < P; p++) {
        for (let q = 0; q < Q; q++) {
          y[((i * C + c) * P + p) * Q + q] = (at(i, c, 2 * p, 2 * q) + at(i, c, 2 * p, 2 * q + 1) + at(i, c, 2 * p + 1, 2 * q) + at(i, c, 2 * p + 1, 2 * q + 1)) / 4;
        }
      }
    }
  }
  return y;
}

export const avgpool2: RefOp = {
  forward([x], _params, node, n) {
    const shape = inShape3(node);
    checkBatch(node.id, x, shape, n);
    return { out: pool(x, shape, n) };
  },
  backward(_inputs, _out, dOut, _params, node, n) {
    const [C, H, W] = inShape3(node);
    const P = H / 2;
    const Q = W / 2;
    checkBatch(`${node.id} signal`, dOut, [C, P, Q], n);
    // Scatter: input (h, w) lies in window (⌊h/2⌋, ⌊w/2⌋).
    const dx = new Float64Array(n * C * H * W);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < C; c++) {
        for (let h = 0; h < H; h++) {
          for (let w = 0; w < W; w++) dx[((i * C + c) * H + h) * W + w] = dOut[((i * C + c) * P + Math.floor(h / 2)) * Q + Math.floor(w / 2)] / 4;
        }
      }
    }
    return { dInputs: [dx], dParams: [] };
  },
  tangent(_inputs, [dx], _params, _G, node, n) {
    const shape = inShape3(node);
    return dx ? pool(dx, shape, n) : new Float64Array((n * shape[0] * shape[1] * shape[2]) / 4);
  },
};
