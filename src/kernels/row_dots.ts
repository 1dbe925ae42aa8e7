// out[r] = Σ_c a[r, c] * b[r, c] for row-major [rows, cols] a and b (per-example alignments), or
// out[r] += with `accumulate`.
//
// One invocation per row. A workgroup per row (invocations striding along the row, then a tree
// reduction) was measured against it on lavapipe (Mesa 25.0, 2 cores, another job sharing the CPU;
// best of 7 runs of 10 dispatches in one submit):
//   rows=100, cols=11520: per row 1.2-1.7 ms (workgroups of 16-64);  workgroup per row 1.9-2.5 ms (8-64)
//   rows=100, cols=500:   per row 96 us;                             workgroup per row 139-346 us
// so the per-row form stays. (On a discrete GPU the workgroup-per-row form would win by far, since
// 100 threads cannot fill it; revisit if that becomes a target.)
import source from '../shaders/row_dots.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

// 100 rows make 4 workgroups: enough to keep both lavapipe threads busy.
const WG = 32;

export interface RowDotsOptions {
  /** out[r] += instead of out[r] =. */
  accumulate?: boolean;
}

export const rowDotsDef: KernelDef = {
  name: 'row_dots',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
  ],
};

export class RowDots {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu, opts: RowDotsOptions = {}): Promise<RowDots> {
    return new RowDots(gpu, await Kernel.load(gpu, rowDotsDef, { WG, ACCUMULATE: opts.accumulate ? 1 : 0 }));
  }

  plan(a: BufferRef, b: BufferRef, out: BufferRef, rows: number, cols: number, label = 'row_dots'): Dispatch {
    return this.kernel.plan(label, [a, b, out], { rows, cols }, workgroups1d(this.gpu, rows, WG));
  }
}
