// conv2d: y[k,p,q] = b[k] + Σ_{c,r,s} W[k,c,r,s] x[c, p·stride − pad + r, q·stride − pad + s] per
// example (zero outside the input), any square kernel, stride and padding; W [K, C, R, R]. With
// attribute `bias: false` (default true) there is no b: the node declares only `weight` (the ResNet
// convolutions, followed by batch normalisation). Every pass is one of the convolution kernels
// (implicit GEMMs): forward (+ bias, ReLU fused), backward-data, filter and bias gradients
// (optionally weighted per example), and the tangent conv(x, G_W) + G_b + conv(dx, W).
import { Conv2dBackwardData, CONV2D_BACKWARD_DATA_FORMS } from '../../kernels/conv2d_backward_data';
import { Conv2dBackwardFilter, CONV2D_BACKWARD_FILTER_FORMS } from '../../kernels/conv2d_backward_filter';
import { Conv2dBiasGrad } from '../../kernels/conv2d_bias_grad';
import { Conv2dForward, CONV2D_FORWARD_FORMS, type Conv2dEpilogue, type Conv2dShape } from '../../kernels/conv2d_forward';
import { Elementwise } from '../../kernels/elementwise';
import type { Shape } from '../spec';
import { imageInput, intAttr, noAttrs, type OpAttrs, type OpDef, type ParamDecl } from './op';

type Conv2dAttrs = { channels: number; kernel: number; stride: number; pad: number; bias: boolean };

function convShape(n: number, [C, H, W]: Shape, a: Conv2dAttrs): Conv2dShape {
  return { N: n, C, H, W, K: a.channels, R: a.kernel, S: a.kernel, stride: a.stride, pad: a.pad };
}

function boolAttr(raw: OpAttrs, key: string, where: string, def: boolean): boolean {
  const v = raw[key] ?? def;
  if (typeof v !== 'boolean') throw new Error(`${where}: attribute "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export const conv2d: OpDef<Conv2dAttrs> = {
  name: 'conv2d',
  arity: 1,
  couplesExamples: false,
  fusesRelu: true,
  kernelForms: [CONV2D_FORWARD_FORMS, CONV2D_BACKWARD_DATA_FORMS, CONV2D_BACKWARD_FILTER_FORMS],
  checkAttrs(raw, where) {
    noAttrs(raw, where, ['channels', 'kernel', 'stride', 'pad', 'bias']);
    return {
      channels: intAttr(raw, 'channels', where),
      kernel: intAttr(raw, 'kernel', where),
      stride: intAttr(raw, 'stride', where, { def: 1 }),
      pad: intAttr(raw, 'pad', where, { min: 0, def: 0 }),
      bias: boolAttr(raw, 'bias', where, true),
    };
  },
  outShape([x], a, where) {
    const [, h, w] = imageInput(x, 'conv2d', where);
    const p = Math.floor((h + 2 * a.pad - a.kernel) / a.stride) + 1;
    const q = Math.floor((w + 2 * a.pad - a.kernel) / a.stride) + 1;
    if (p < 1 || q < 1) throw new Error(`${where}: a ${a.kernel}x${a.kernel} kernel with padding ${a.pad} does not fit the ${h}x${w} input`);
    if (a.pad >= a.kernel) throw new Error(`${where}: padding ${a.pad} must be smaller than the kernel ${a.kernel}`);
    return [a.channels, p, q];
  },
  params([x], a) {
    const weight: ParamDecl = { name: 'weight', shape: [a.channels, x[0], a.kernel, a.kernel], init: 'fan_in', decay: true };
    return a.bias ? [weight, { name: 'bias', shape: [a.channels], init: 'zeros', decay: true }] : [weight];
  },
  async load(gpu, node) {
    const { attrs } = node;
    const hasBias = attrs.bias;
    const inShape = node.inShapes[0];
    const outSize = node.outShape.reduce((x, y) => x * y, 1);
    const epilogue: Conv2dEpilogue = hasBias ? (node.fusedRelu ? 'bias_relu' : 'bias') : node.fusedRelu ? 'relu' : 'none';
    const [forward, linear, noBias, backwardData, filterGrad, filterGradWeighted, biasGrad, biasGradWeighted, accumulate] = await Promise.all([
      Conv2dForward.create(gpu, { epilogue }),
      Conv2dForward.create(gpu, { epilogue: hasBias ? 'bias' : 'none' }),
      Conv2dForward.create(gpu, { epilogue: 'none' }),
      Conv2dBackwardData.create(gpu),
      Conv2dBackwardFilter.create(gpu, {}),
      Conv2dBackwardFilter.create(gpu, { exWeights: true }),
      hasBias ? Conv2dBiasGrad.create(gpu, {}) : null,
      hasBias ? Conv2dBiasGrad.create(gpu, { exWeights: true }) : null,
      Elementwise.create(gpu, { accumulate: true }),
    ]);
    return {
      forward: (c) => [forward.plan(c.inputs[0], c.params.weight, hasBias ? c.params.bias : null, c.output, convShape(c.n, inShape, attrs), c.label)],
      backward: (c) => (c.inSignals[0] ? [backwardData.plan(c.outSignal, c.params.weight, c.inSignals[0], convShape(c.n, inShape, attrs), c.label)] : []),
      weightGrads(c) {
        const shape = convShape(c.n, inShape, attrs);
        const out = [(c.exWeight ? filterGradWeighted : filterGrad).plan(c.inputs[0], c.outSignal, c.exWeight, c.grads.weight, shape, `${c.label}.w`)];
        const db = c.exWeight ? biasGradWeighted : biasGrad;
        if (db) out.push(db.plan(c.outSignal, c.exWeight, c.grads.bias, shape, `${c.label}.b`));
        return out;
      },
      tangent(c) {
        const shape = convShape(c.n, inShape, attrs);
        const [dx] = c.inTangents;
        const out = [];
        if (c.direction) out.push(linear.plan(c.inputs[0], c.direction.weight, hasBias ? c.direction.bias : null, c.outTangent, shape, `${c.label}.param`));
        if (dx) {
          if (!c.direction) return [noBias.plan(dx, c.params.weight, null, c.outTangent, shape, `${c.label}.input`)];
          const scratch = c.scratch();
          out.push(noBias.plan(dx, c.params.weight, null, scratch, shape, `${c.label}.input`));
          out.push(accumulate.plan(scratch, null, c.outTangent, c.n * outSize, `${c.label}.sum`));
        }
        return out;
      },
    };
  },
};
