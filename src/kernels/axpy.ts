// y += alpha * x over n floats.
import source from '../shaders/axpy.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const axpyDef: KernelDef = {
  name: 'axpy',
  source,
  bindings: ['read', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['alpha', 'f32'],
  ],
};

export class Axpy {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<Axpy> {
    return new Axpy(gpu, await Kernel.load(gpu, axpyDef, { WG }));
  }

  plan(x: BufferRef, y: BufferRef, n: number, alpha: number, label = 'axpy'): Dispatch {
    return this.kernel.plan(label, [x, y], { n, alpha }, workgroups1d(this.gpu, n, WG));
  }
}
