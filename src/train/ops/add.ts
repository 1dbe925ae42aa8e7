// add: y = a + b (the residual connection), with a following ReLU fused. The backward pass hands the
// output signal to both inputs; the tangent is the sum of the input tangents.
import { Elementwise } from '../../kernels/elementwise';
import { withoutAttrs, sameShape, type OpDef } from './op';

export const add: OpDef<Record<string, never>> = {
  name: 'add',
  arity: 2,
  couplesExamples: false,
  fusesRelu: true,
  checkAttrs: withoutAttrs,
  outShape([a, b], _attrs, where) {
    if (!sameShape(a, b)) throw new Error(`${where}: add needs two inputs of one shape, got [${a}] and [${b}]`);
    return a;
  },
  async load(gpu, node) {
    const size = node.outShape.reduce((x, y) => x * y, 1);
    const [forward, sum, copy] = await Promise.all([
      Elementwise.create(gpu, { add: true, relu: node.fusedRelu }),
      Elementwise.create(gpu, { add: true }),
      Elementwise.create(gpu, {}),
    ]);
    return {
      forward: (c) => [forward.plan(c.inputs[0], c.inputs[1], c.output, c.n * size, c.label)],
      backward: (c) => c.inSignals.flatMap((to, j) => (to ? [copy.plan(c.outSignal, null, to, c.n * size, `${c.label}.in${j}`)] : [])),
      tangent(c) {
        const [ta, tb] = c.inTangents;
        if (ta && tb) return [sum.plan(ta, tb, c.outTangent, c.n * size, c.label)];
        const only = ta ?? tb;
        return only ? [copy.plan(only, null, c.outTangent, c.n * size, c.label)] : [];
      },
    };
  },
};
