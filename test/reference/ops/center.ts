// center (test only): couples the examples of a batch. One input of any shape, no parameters;
//   y_i = x_i − (1/n) Σ_j x_j        per feature, over the n examples of the batch.
// The map x ↦ y is linear and symmetric (I − 11ᵀ/n on every feature), so forward, backward (its
// transpose) and tangent are the same centring map.
//
// Importing this module adds `center` to the reference op table and, unless an op of that name is
// registered already, registers a minimal OpDef so that resolveModel accepts graphs using it (its
// `load` throws: it has no GPU program). A GPU test that registers its own `center` must do so before
// this module is evaluated (registerOp refuses a second, different OpDef of the same name).
import { noAttrs, registerOp, registeredOps, type OpDef } from '../../../src/train/ops/op';
import { REF_OPS } from './index';
import { sizeOf, type RefOp } from './ref_op';

/** y_i = x_i − mean_j x_j per feature, for a batch [n * size]. */
export function centerBatch(x: ArrayLike<number>, n: number, size: number): Float64Array {
  if (x.length !== n * size) throw new Error(`center: ${x.length} values for ${n} examples of ${size}`);
  const y = new Float64Array(n * size);
  for (let f = 0; f < size; f++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * size + f];
    mean /= n;
    for (let i = 0; i < n; i++) y[i * size + f] = x[i * size + f] - mean;
  }
  return y;
}

export const center: RefOp = {
  forward([x], _params, node, n) {
    return { out: centerBatch(x, n, sizeOf(node.inShapes[0])) };
  },
  backward(_inputs, _out, dOut, _params, node, n) {
    return { dInputs: [centerBatch(dOut, n, sizeOf(node.inShapes[0]))], dParams: [] };
  },
  tangent([x], [dx], _params, _G, node, n) {
    return dx ? centerBatch(dx, n, sizeOf(node.inShapes[0])) : new Float64Array(x.length);
  },
};

REF_OPS.center = center;

/** The resolver's view of `center`: arity 1, couples examples, no parameters, output shape = input shape. */
export const centerOpDef: OpDef = {
  name: 'center',
  arity: 1,
  couplesExamples: true,
  checkAttrs(raw, where) {
    noAttrs(raw, where);
    return raw;
  },
  outShape: ([s]) => [...s],
  load() {
    throw new Error('center: the float64 reference OpDef has no GPU program (register a GPU `center` op before importing test/reference/ops/center.ts)');
  },
};

if (!registeredOps().includes('center')) registerOp(centerOpDef);
