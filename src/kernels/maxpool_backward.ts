// Gradient of 2x2 / stride-2 max pooling from the argmax recorded by maxpool_forward.
import raw from '../shaders/maxpool_backward.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';
import { maxpoolOutputShape, maxpoolSource, maxpoolUniforms, maxpoolUniformValues, type MaxPoolShape } from './maxpool_forward';

// A grid-stride loop over pairs of dx rows. CPU ms per dispatch on lavapipe (2 cores, machine shared
// with other jobs; `npm run bench` runs, see BENCHMARKS.md) for LeNet's pool1 / pool2 gradients,
// dx [100,20,24,24] / [100,50,8,8]:
//   one invocation per dx element, one workgroup per 64 elements (18000 / 5000):  34-43 / 10-14
//   one item per row pair, grid-stride over <= 256 workgroups of 64:              2.1-2.2 / 0.9-1.3
const WG = 64;

export const maxpoolBackwardDef: KernelDef = {
  name: 'maxpool_backward',
  source: maxpoolSource(raw),
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
    const items = N * C * Math.ceil(shape.H / 2);
    return this.kernel.plan(label, [dy, argmax, dx], maxpoolUniformValues(shape), workgroupsCapped(this.gpu, items, WG));
  }
}
