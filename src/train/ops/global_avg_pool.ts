// global_avg_pool: [C, H, W] -> [C], y_c = mean of plane c (the end of a ResNet, before the dense
// layer). Linear: the tangent is the same mean of the input tangent, and the backward spreads
// dy_c / (H·W) over the plane (window_mean / window_spread with the window the whole plane).
import { WindowMean, type WindowShape } from '../../kernels/window_mean';
import { meanAdjoint, WindowSpread } from '../../kernels/window_spread';
import { imageInput, withoutAttrs, type OpDef } from './op';

export const globalAvgPool: OpDef<Record<string, never>> = {
  name: 'global_avg_pool',
  arity: 1,
  couplesExamples: false,
  checkAttrs: withoutAttrs,
  outShape([x], _a, where) {
    return [imageInput(x, 'global_avg_pool', where)[0]];
  },
  async load(gpu, node) {
    const [C, H, W] = node.inShapes[0];
    const window = (n: number): WindowShape => ({ N: n, C, H, W, KH: H, KW: W });
    const [mean, spread] = await Promise.all([WindowMean.create(gpu), WindowSpread.create(gpu)]);
    return {
      forward: (c) => [mean.plan(c.inputs[0], c.output, window(c.n), c.label)],
      backward: (c) => (c.inSignals[0] ? [spread.plan(c.outSignal, c.inSignals[0], meanAdjoint(window(c.n)), c.label)] : []),
      tangent: (c) => (c.inTangents[0] ? [mean.plan(c.inTangents[0], c.outTangent, window(c.n), c.label)] : []),
    };
  },
};
