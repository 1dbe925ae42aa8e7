// relu: y = max(x, 0) (derivative 0 at 0). Fused into the producing kernel when that node can apply it
// and nothing else reads the pre-activation (network.ts); otherwise this op's own kernels run.
import { Elementwise } from '../../kernels/elementwise';
import { ReluBackward } from '../../kernels/relu_backward';
import { withoutAttrs, type OpDef } from './op';

export const relu: OpDef<Record<string, never>> = {
  name: 'relu',
  arity: 1,
  couplesExamples: false,
  checkAttrs: withoutAttrs,
  outShape: ([x]) => x,
  async load(gpu, node) {
    const size = node.outShape.reduce((a, b) => a * b, 1);
    const [forward, mask] = await Promise.all([Elementwise.create(gpu, { relu: true }), ReluBackward.create(gpu)]);
    return {
      forward: (c) => [forward.plan(c.inputs[0], null, c.output, c.n * size, c.label)],
      // dx = dy · [y > 0]; y > 0 exactly where x > 0.
      backward: (c) => (c.inSignals[0] ? [mask.plan(c.output, c.outSignal, c.inSignals[0], c.n * size, c.label)] : []),
      tangent: (c) => (c.inTangents[0] ? [mask.plan(c.output, c.inTangents[0], c.outTangent, c.n * size, c.label)] : []),
    };
  },
};
