// x *= alpha over n floats, in place. (alpha = 0 keeps NaN and Inf as NaN; use Fill to clear a buffer.)
import source from '../shaders/scale.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const scaleDef: KernelDef = {
  name: 'scale',
  source,
  bindings: ['rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['alpha', 'f32'],
  ],
};

export class Scale {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<Scale> {
    return new Scale(gpu, await Kernel.load(gpu, scaleDef, { WG }));
  }

  plan(x: BufferRef, n: number, alpha: number, label = 'scale'): Dispatch {
    return this.kernel.plan(label, [x], { n, alpha }, workgroups1d(this.gpu, n, WG));
  }
}
