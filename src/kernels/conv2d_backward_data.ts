// Gradient of conv2d with respect to its input: dx [N,C,H,W] from dy [N,K,P,Q] and w [K,C,R,S].
import raw from '../shaders/conv2d_backward_data.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';
import { checkConv2dShape, conv2dUniforms, conv2dUniformValues, withBlockConsts, type Conv2dShape } from './conv2d_forward';

// Register block: BC input channels x BM input positions per invocation. CPU ms on lavapipe for
// LeNet conv2's data gradient at batch 100 (dy [100,50,8,8] -> dx [100,20,12,12]), best of 15:
// 4x4 138-141, 8x8 114-124, 4x8 151-155, 5x8 101-128, 4x16 150-190,
// 10x4 107-119, 10x6 85, 10x8 74-91. BC = 10 divides the 20 channels it is used for.
const BC = 10;
const BM = 8;
const WG = 64;

export const conv2dBackwardDataDef: KernelDef = {
  name: 'conv2d_backward_data',
  source: withBlockConsts(raw, { BC, BM }),
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: conv2dUniforms,
};

export class Conv2dBackwardData {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<Conv2dBackwardData> {
    return new Conv2dBackwardData(gpu, await Kernel.load(gpu, conv2dBackwardDataDef, { WG }));
  }

  /** Overwrites every element of dx [N,C,H,W] (no clear needed). dx must be in a GPUBuffer other than dy's and w's. */
  plan(dy: BufferRef, w: BufferRef, dx: BufferRef, shape: Conv2dShape, label = 'conv2d_backward_data'): Dispatch {
    checkConv2dShape(shape);
    const { N, C, H, W } = shape;
    const invocations = Math.ceil((N * H * W) / BM) * Math.ceil(C / BC);
    return this.kernel.plan(label, [dy, w, dx], conv2dUniformValues(shape), workgroups1d(this.gpu, invocations, WG));
  }
}
