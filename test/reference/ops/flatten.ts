// flatten: [C, H, W] -> [C*H*W], the identity on the data (row-major C, H, W order).
import type { RefOp } from './ref_op';

export const flatten: RefOp = {
  forward([x]) {
    return { out: Float64Array.from(x) };
  },
  backward(_inputs, _out, dOut) {
    return { dInputs: [Float64Array.from(dOut)], dParams: [] };
  },
  tangent([x], [dx]) {
    return dx ? Float64Array.from(dx) : new Float64Array(x.length);
  },
};
