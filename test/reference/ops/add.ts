// add: two inputs of the same shape, y = a + b.
import type { RefOp } from './ref_op';

export const add: RefOp = {
  forward([a, b], _params, node) {
    if (a.length !== b.length) throw new Error(`${node.id}: add of ${a.length} and ${b.length} values`);
    return { out: Float64Array.from(a, (v, j) => v + b[j]) };
  },
  backward(_inputs, _out, dOut) {
    return { dInputs: [Float64Array.from(dOut), Float64Array.from(dOut)], dParams: [] };
  },
  tangent([a], [da, db]) {
    const t = new Float64Array(a.length);
    for (const d of [da, db]) if (d) for (let j = 0; j < t.length; j++) t[j] += d[j];
    return t;
  },
};
