// maxpool2: 2x2 windows, stride 2, floor(H/2) x floor(W/2) outputs; the selected element is the first
// maximum in row-major window order. The forward pass keeps the argmax (a per-plan buffer) that the
// backward pass (scatter) and the tangent (gather) route through.
import { MaxPoolBackward } from '../../kernels/maxpool_backward';
import { MaxPoolForward } from '../../kernels/maxpool_forward';
import { MaxPoolTangent } from '../../kernels/maxpool_tangent';
import { imageInput, withoutAttrs, type OpDef } from './op';

export const maxpool2: OpDef<Record<string, never>> = {
  name: 'maxpool2',
  arity: 1,
  couplesExamples: false,
  checkAttrs: withoutAttrs,
  outShape([x], _a, where) {
    const [c, h, w] = imageInput(x, 'maxpool2', where);
    if (h < 2 || w < 2) throw new Error(`${where}: 2x2 pooling needs at least a 2x2 input, got ${h}x${w}`);
    return [c, Math.floor(h / 2), Math.floor(w / 2)];
  },
  async load(gpu, node) {
    const [C, H, W] = node.inShapes[0];
    const outSize = node.outShape.reduce((a, b) => a * b, 1);
    const [forward, backward, tangent] = await Promise.all([MaxPoolForward.create(gpu), MaxPoolBackward.create(gpu), MaxPoolTangent.create(gpu)]);
    const argmax = (c: { n: number; aux(name: string, floats: number): GPUBuffer }) => c.aux('argmax', c.n * outSize);
    return {
      forward: (c) => [forward.plan(c.inputs[0], c.output, argmax(c), { N: c.n, C, H, W }, c.label)],
      backward: (c) => (c.inSignals[0] ? [backward.plan(c.outSignal, argmax(c), c.inSignals[0], { N: c.n, C, H, W }, c.label)] : []),
      tangent: (c) => (c.inTangents[0] ? [tangent.plan(c.inTangents[0], argmax(c), c.outTangent, { N: c.n, C, H, W }, c.label)] : []),
    };
  },
};
