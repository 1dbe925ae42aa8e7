// x = value over n floats (zeroing gradient accumulators, resetting momentum).
import source from '../shaders/fill.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const fillDef: KernelDef = {
  name: 'fill',
  source,
  bindings: ['rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['value', 'f32'],
  ],
};

export class Fill {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<Fill> {
    return new Fill(gpu, await Kernel.load(gpu, fillDef, { WG }));
  }

  plan(x: BufferRef, n: number, value: number, label = 'fill'): Dispatch {
    return this.kernel.plan(label, [x], { n, value }, workgroups1d(this.gpu, n, WG));
  }
}
