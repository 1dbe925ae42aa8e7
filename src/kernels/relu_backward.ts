// ReLU gradient from the ReLU output: dx = dy * (y > 0), out of place or in place (dx == dy).
import source from '../shaders/relu_backward.wgsl?raw';
import { refBuffer, refOffset, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const reluBackwardDef: KernelDef = {
  name: 'relu_backward',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [['n', 'u32']],
};

export class ReluBackward {
  private constructor(
    private readonly gpu: Gpu,
    private readonly outOfPlace: Kernel,
    private readonly inPlace: Kernel,
  ) {}

  /** Compiles both variants (two tiny pipelines), so plan() can take either form. */
  static async create(gpu: Gpu): Promise<ReluBackward> {
    const [outOfPlace, inPlace] = await Promise.all([
      Kernel.load(gpu, reluBackwardDef, { WG, IN_PLACE: 0 }),
      Kernel.load(gpu, reluBackwardDef, { WG, IN_PLACE: 1 }),
    ]);
    return new ReluBackward(gpu, outOfPlace, inPlace);
  }

  /**
   * dx[i] = dy[i] if y[i] > 0 else 0 for i < n, where y is the ReLU *output*. Passing the same buffer
   * range for dy and dx runs in place (see planInPlace). Any other sharing of one GPUBuffer between dy
   * and dx is rejected: WebGPU forbids a read-only and a read_write binding of the same buffer in one
   * dispatch, even over disjoint ranges.
   */
  plan(y: BufferRef, dy: BufferRef, dx: BufferRef, n: number, label = 'relu_backward'): Dispatch {
    if (refBuffer(dy) === refBuffer(dx)) {
      if (refOffset(dy) === refOffset(dx)) return this.planInPlace(y, dx, n, label);
      throw new Error(`${label}: dy and dx are different ranges of one buffer; use separate buffers or the same range (in place)`);
    }
    return this.outOfPlace.plan(label, [y, dy, dx], { n }, workgroups1d(this.gpu, n, WG));
  }

  /** In place: grad holds dy on entry and dx on exit. */
  planInPlace(y: BufferRef, grad: BufferRef, n: number, label = 'relu_backward_inplace'): Dispatch {
    return this.inPlace.plan(label, [y, this.gpu.placeholder, grad], { n }, workgroups1d(this.gpu, n, WG));
  }
}
