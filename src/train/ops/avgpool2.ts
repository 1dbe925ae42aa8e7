// avgpool2: 2x2 windows, stride 2: [C, H, W] -> [C, H/2, W/2], each output the mean of its window
// (the ResNet shortcut's downsampling). H and W must be even. Linear: the tangent is the pooling of
// the input tangent, and the backward gives each input dy/4 of its window (window_mean /
// window_spread with a 2x2 window).
import { WindowMean, type WindowShape } from '../../kernels/window_mean';
import { meanAdjoint, WindowSpread } from '../../kernels/window_spread';
import { imageInput, withoutAttrs, type OpDef } from './op';

export const avgpool2: OpDef<Record<string, never>> = {
  name: 'avgpool2',
  arity: 1,
  couplesExamples: false,
  checkAttrs: withoutAttrs,
  outShape([x], _a, where) {
    const [c, h, w] = imageInput(x, 'avgpool2', where);
    if (h % 2 !== 0 || w % 2 !== 0) throw new Error(`${where}: avgpool2 needs an even height and width, got ${h}x${w}`);
    return [c, h / 2, w / 2];
  },
  async load(gpu, node) {
    const [C, H, W] = node.inShapes[0];
    const window = (n: number): WindowShape => ({ N: n, C, H, W, KH: 2, KW: 2 });
    const [mean, spread] = await Promise.all([WindowMean.create(gpu), WindowSpread.create(gpu)]);
    return {
      forward: (c) => [mean.plan(c.inputs[0], c.output, window(c.n), c.label)],
      backward: (c) => (c.inSignals[0] ? [spread.plan(c.outSignal, c.inSignals[0], meanAdjoint(window(c.n)), c.label)] : []),
      tangent: (c) => (c.inTangents[0] ? [mean.plan(c.inTangents[0], c.outTangent, window(c.n), c.label)] : []),
    };
  },
};
