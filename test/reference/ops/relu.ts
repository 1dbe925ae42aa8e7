// relu: y = max(x, 0), elementwise; the derivative is 1 where x > 0 and 0 elsewhere (0 at exactly 0).
import type { RefOp } from './ref_op';

export function reluForward(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** dx = dy where the input x > 0, else 0 (also the tangent: dy = dx where x > 0). */
export function reluBackward(x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
  return dx;
}

export const relu: RefOp = {
  forward([x]) {
    return { out: reluForward(x) };
  },
  backward([x], _out, dOut) {
    return { dInputs: [reluBackward(x, dOut)], dParams: [] };
  },
  tangent([x], [dx]) {
    return dx ? reluBackward(x, dx) : new Float64Array(x.length);
  },
};
