// flatten: [C, H, W] -> [C·H·W]. Examples are stored row-major, so this is a view: no kernel, the
// interpreter gives the output the input's buffers (activation, signal and tangent).
import { withoutAttrs, type OpDef } from './op';

export const flatten: OpDef<Record<string, never>> = {
  name: 'flatten',
  arity: 1,
  couplesExamples: false,
  view: true,
  checkAttrs: withoutAttrs,
  outShape: ([x]) => [x.reduce((a, b) => a * b, 1)],
  async load() {
    const none = () => [];
    return { forward: none, backward: none, tangent: none };
  },
};
