// pad_channels, attrs {before, after} (integers >= 0, default 0, at least one > 0):
// [C, H, W] -> [before + C + after, H, W], the input at channels [before, before + C) and zeros in the
// new ones (the ResNet shortcut's channel growth, option A). Linear: the tangent pads the input
// tangent, and the backward is the slice of the signal for the original channels. All three passes
// are one channel-shift kernel (window_spread with a 1x1 window).
import { channelShift, WindowSpread } from '../../kernels/window_spread';
import { imageInput, intAttr, noAttrs, type OpDef } from './op';

type PadChannelsAttrs = { before: number; after: number };

export const padChannels: OpDef<PadChannelsAttrs> = {
  name: 'pad_channels',
  arity: 1,
  couplesExamples: false,
  checkAttrs(raw, where) {
    noAttrs(raw, where, ['before', 'after']);
    const a = { before: intAttr(raw, 'before', where, { min: 0, def: 0 }), after: intAttr(raw, 'after', where, { min: 0, def: 0 }) };
    if (a.before === 0 && a.after === 0) throw new Error(`${where}: pad_channels needs "before" or "after" > 0 (padding nothing would be the identity)`);
    return a;
  },
  outShape([x], a, where) {
    const [c, h, w] = imageInput(x, 'pad_channels', where);
    return [a.before + c + a.after, h, w];
  },
  async load(gpu, node) {
    const [C, H, W] = node.inShapes[0];
    const { before } = node.attrs;
    const Cout = node.outShape[0];
    const spread = await WindowSpread.create(gpu);
    const pad = (n: number) => channelShift(n, C, Cout, H, W, before);
    return {
      forward: (c) => [spread.plan(c.inputs[0], c.output, pad(c.n), c.label)],
      backward: (c) => (c.inSignals[0] ? [spread.plan(c.outSignal, c.inSignals[0], channelShift(c.n, Cout, C, H, W, -before), c.label)] : []),
      tangent: (c) => (c.inTangents[0] ? [spread.plan(c.inTangents[0], c.outTangent, pad(c.n), c.label)] : []),
    };
  },
};
