// out[c] = Σ_r w[r] * x[r, c] over a row-major [rows, cols] matrix: bias gradients (rows = batch),
// optionally weighted per example, optionally accumulated into out.
import source from '../shaders/column_sums.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 64;

export interface ColumnSumsOptions {
  /** Weight row r by weights[r] (plan then requires `weights`); otherwise every weight is 1. */
  rowWeights?: boolean;
  /** out[c] += instead of out[c] =. */
  accumulate?: boolean;
}

export const columnSumsDef: KernelDef = {
  name: 'column_sums',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
  ],
};

export class ColumnSums {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel, readonly rowWeights: boolean) {}

  static async create(gpu: Gpu, opts: ColumnSumsOptions = {}): Promise<ColumnSums> {
    const rowWeights = opts.rowWeights ?? false;
    const kernel = await Kernel.load(gpu, columnSumsDef, { WG, ROW_WEIGHTS: rowWeights ? 1 : 0, ACCUMULATE: opts.accumulate ? 1 : 0 });
    return new ColumnSums(gpu, kernel, rowWeights);
  }

  /** out[c] (=|+=) Σ_{r<rows} weights[r] * x[r * cols + c] for c < cols. */
  plan(x: BufferRef, out: BufferRef, rows: number, cols: number, weights?: BufferRef, label = 'column_sums'): Dispatch {
    if (this.rowWeights !== (weights !== undefined)) {
      throw new Error(`${label}: weights must be given exactly when the kernel was created with rowWeights`);
    }
    // Unweighted, the weight binding is never read; x stands in for it (two read bindings may alias).
    return this.kernel.plan(label, [x, weights ?? x, out], { rows, cols }, workgroups1d(this.gpu, cols, WG));
  }
}
