// Gradient of 2x2 / stride-2 max pooling from the argmax recorded by maxpool_forward.
import source from '../shaders/maxpool_backward.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';
import { maxpoolOutputShape, maxpoolUniforms, maxpoolUniformValues, type MaxPoolShape } from './maxpool_forward';

const WG = 64;

export const maxpoolBackwardDef: KernelDef = {
  name: 'maxpool_backward',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: maxpoolUniforms,
};

export class MaxPoolBackward {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<MaxPoolBackward> {
    return new MaxPoolBackward(gpu, await Kernel.load(gpu, maxpoolBackwardDef, { WG }));
  }

  /** Overwrites every element of dx [N,C,H,W] from dy [N,C,P,Q] and argmax [N,C,P,Q]. */
  plan(dy: BufferRef, argmax: BufferRef, dx: BufferRef, shape: MaxPoolShape, label = 'maxpool_backward'): Dispatch {
    const { N, C } = maxpoolOutputShape(shape);
    return this.kernel.plan(label, [dy, argmax, dx], maxpoolUniformValues(shape), workgroups1d(this.gpu, N * C * shape.H * shape.W, WG));
  }
}
