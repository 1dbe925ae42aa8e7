// global_avg_pool: input [C, H, W], output [C], y[c] = (1/(H·W)) Σ_{h,w} x[c,h,w]. Linear: backward
// dx[c,h,w] = dy[c]/(H·W), tangent = the forward applied to the input tangent. No parameters.
import { checkBatch, type RefNode, type RefOp } from './ref_op';
import type { Shape3 } from './conv2d';

function inShape3(node: RefNode): Shape3 {
  const s = node.inShapes[0];
  if (s.length !== 3) throw new Error(`${node.id}: global_avg_pool needs an input [C, H, W], got [${s}]`);
  return [s[0], s[1], s[2]];
}

/** y [n * C]: the mean of every plane of x [n * C * H * W]. */
function planeMeans(x: ArrayLike<number>, [C, H, W]: Shape3, n: number): Float64Array {
  const y = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) sum += x[((i * C + c) * H + h) * W + w];
      y[i * C + c] = sum / (H * W);
    }
  }
  return y;
}

export const globalAvgPool: RefOp = {
  forward([x], _params, node, n) {
    const shape = inShape3(node);
    checkBatch(node.id, x, shape, n);
    return { out: planeMeans(x, shape, n) };
  },
  backward(_inputs, _out, dOut, _params, node, n) {
    const [C, H, W] = inShape3(node);
    checkBatch(`${node.id} signal`, dOut, [C], n);
    const dx = new Float64Array(n * C * H * W);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < C; c++) {
        for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) dx[((i * C + c) * H + h) * W + w] = dOut[i * C + c] / (H * W);
      }
    }
    return { dInputs: [dx], dParams: [] };
  },
  tangent(_inputs, [dx], _params, _G, node, n) {
    const shape = inShape3(node);
    return dx ? planeMeans(dx, shape, n) : new Float64Array(n * shape[0]);
  },
};

