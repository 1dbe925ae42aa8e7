// out[r] (u32) = the first column holding the maximum of row r of a row-major [rows, cols] matrix
// (predicted classes). NaNs are skipped unless at column 0.
import source from '../shaders/row_argmax.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 64;

export const rowArgmaxDef: KernelDef = {
  name: 'row_argmax',
  source,
  bindings: ['read', 'rw', 'uniform'],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
  ],
};

export class RowArgmax {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<RowArgmax> {
    return new RowArgmax(gpu, await Kernel.load(gpu, rowArgmaxDef, { WG }));
  }

  plan(x: BufferRef, out: BufferRef, rows: number, cols: number, label = 'row_argmax'): Dispatch {
    return this.kernel.plan(label, [x, out], { rows, cols }, workgroups1d(this.gpu, rows, WG));
  }
}
