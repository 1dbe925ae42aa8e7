// Forward-mode tangent of 2x2 / stride-2 max pooling, from the argmax maxpool_forward recorded.
import raw from '../shaders/maxpool_tangent.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';
import { maxpoolOutputShape, maxpoolSource, maxpoolUniforms, maxpoolUniformValues, type MaxPoolShape } from './maxpool_forward';

const WG = 64;

export const maxpoolTangentDef: KernelDef = {
  name: 'maxpool_tangent',
  source: maxpoolSource(raw),
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: maxpoolUniforms,
};

export class MaxPoolTangent {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<MaxPoolTangent> {
    return new MaxPoolTangent(gpu, await Kernel.load(gpu, maxpoolTangentDef, { WG }));
  }

  /** Overwrites dy [N,C,P,Q] with the input tangent dx [N,C,H,W] at each window's argmax. */
  plan(dx: BufferRef, argmax: BufferRef, dy: BufferRef, shape: MaxPoolShape, label = 'maxpool_tangent'): Dispatch {
    const { N, C, P, Q } = maxpoolOutputShape(shape);
    return this.kernel.plan(label, [dx, argmax, dy], maxpoolUniformValues(shape), workgroupsCapped(this.gpu, N * C * P * Q, WG));
  }
}
