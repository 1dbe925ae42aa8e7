// Gradient of conv2d with respect to its input: dx [N,C,H,W] from dy [N,K,P,Q] and w [K,C,R,S].
import raw from '../shaders/conv2d_backward_data.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';
import { blockGrid, checkConv2dShape, conv2dUniforms, conv2dUniformValues, conv2dSource, type Conv2dShape } from './conv2d_forward';

// Register block: BC input channels x BM input positions per invocation. CPU ms on lavapipe for
// LeNet conv2's data gradient at batch 100 (dy [100,50,8,8] -> dx [100,20,12,12]); the machine is
// shared with other jobs, so these are medians of A/B runs alternating with the previous kernel:
//   previous kernel (10x8 positions consecutive in (n,h,w), every tap of the block's range loads
//   and tests its hits, channel block per invocation)                               92-110
//   row path 20x6 / 10x12 / 20x12                                                   81 / 98 / 69
//   20x12 with the window shift and the store loop written so that they unroll        46-53
// (earlier, for the previous kernel, best of 15: 4x4 138-141, 8x8 114-124, 4x8 151-155, 5x8 101-128,
// 4x16 150-190, 10x4 107-119, 10x6 85, 10x8 74-91). BC = 20 is LeNet's channel count and BM = 12 its
// row width; other shapes waste the lanes and channels past the last block.
const BC = 20;
const BM = 12;
const WG = 64;

export const conv2dBackwardDataDef: KernelDef = {
  name: 'conv2d_backward_data',
  source: conv2dSource(raw, { BC, BM }),
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
    // Same test as row_path() in the shader.
    const blocks = shape.stride === 1 ? H * N * Math.ceil(W / BM) : Math.ceil((N * H * W) / BM);
    return this.kernel.plan(label, [dy, w, dx], conv2dUniformValues(shape), blockGrid(this.gpu, blocks, WG, Math.ceil(C / BC)));
  }
}
