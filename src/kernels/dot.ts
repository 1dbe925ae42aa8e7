// out[0] = Σ x[i] * y[i] over n floats (or out[0] += with `accumulate`): the same single-workgroup
// grid-stride scheme as reduce_sum.ts (see the measurements there), sharing its workgroup_sum.
import source from '../shaders/dot.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';
import { REDUCE_WG, type ReduceOptions } from './reduce_sum';

export const dotDef: KernelDef = {
  name: 'dot',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [['n', 'u32']],
};

export class Dot {
  private constructor(private readonly kernel: Kernel) {}

  static async create(gpu: Gpu, opts: ReduceOptions = {}): Promise<Dot> {
    return new Dot(await Kernel.load(gpu, dotDef, { WG: REDUCE_WG, ACCUMULATE: opts.accumulate ? 1 : 0 }));
  }

  /** out[0] = Σ_{i<n} x[i] * y[i]; x and y may be the same buffer (a squared norm). */
  plan(x: BufferRef, y: BufferRef, out: BufferRef, n: number, label = 'dot'): Dispatch {
    return this.kernel.plan(label, [x, y, out], { n }, [1]);
  }
}
