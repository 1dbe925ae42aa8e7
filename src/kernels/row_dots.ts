// out[r] = Σ_c a[r, c] * b[r, c] for row-major [rows, cols] a and b (per-example alignments), or
// out[r] += with `accumulate`.
//
// Two forms, chosen per adapter by a start-up measurement (src/gpu/kernel_choices.ts):
//   row        src/shaders/row_dots.wgsl, one invocation per row. On lavapipe (Mesa 25.0, 2 cores,
//              another job sharing the CPU; best of 7 runs of 10 dispatches in one submit) it beat a
//              workgroup per row: rows=100, cols=11520: 1.2-1.7 ms against 1.9-2.5 ms (workgroups of
//              8-64); rows=100, cols=500: 96 us against 139-346 us.
//   workgroup  src/shaders/row_dots_workgroup.wgsl, a workgroup of 256 per row and a tree reduction:
//              100 invocations cannot fill a GPU (on an H200 the row form took 1.5 ms for LeNet's
//              conv1 alignment, [100, 11520]).
import rowSource from '../shaders/row_dots.wgsl?raw';
import workgroupSource from '../shaders/row_dots_workgroup.wgsl?raw';
import rowDotsIo from '../shaders/row_dots_io.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { Measurement } from '../gpu/kernel_choices';
import { chooseForm, measureForms, type KernelForms } from './forms';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

// Row form: 100 rows make 4 workgroups, enough to keep both lavapipe threads busy.
const ROW_WG = 32;
const WORKGROUP_WG = 256;

export type RowDotsVariant = 'row' | 'workgroup';
export const ROW_DOTS_VARIANTS: readonly RowDotsVariant[] = ['row', 'workgroup'];

export interface RowDotsOptions {
  /** out[r] += instead of out[r] =. */
  accumulate?: boolean;
  /** The form to run; default: this adapter's choice (chooseRowDotsVariant). */
  variant?: RowDotsVariant;
}

export const rowDotsDef: KernelDef = {
  name: 'row_dots',
  source: `${rowSource}\n${rowDotsIo}`,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
  ],
};

/** The KernelDef of a form (same bindings and uniforms; the source differs). */
export function rowDotsFormDef(variant: RowDotsVariant): KernelDef {
  return variant === 'row' ? rowDotsDef : { ...rowDotsDef, name: 'row_dots_workgroup', source: `${workgroupSource}\n${rowDotsIo}` };
}

/** LeNet's alignment shapes: conv2's tangent rows and the dense layer's. */
export const ROW_DOTS_TUNE_SHAPES: readonly { rows: number; cols: number }[] = [
  { rows: 100, cols: 3200 },
  { rows: 100, cols: 500 },
];

/** Measured once per Gpu and cached per adapter (src/gpu/kernel_choices.ts). */
export const ROW_DOTS_FORMS: KernelForms<RowDotsVariant, { rows: number; cols: number }, RowDots, { a: GPUBuffer; b: GPUBuffer; out: GPUBuffer }> = {
  kernel: 'row_dots',
  variants: ROW_DOTS_VARIANTS,
  defs: (v) => [rowDotsFormDef(v)],
  // On a CPU driver the row form wins (lavapipe: 2.8 ms against 7.1 ms on these shapes), so only GPUs
  // pay for the measurement.
  cpuCandidates: ['row'],
  tuneShapes: ROW_DOTS_TUNE_SHAPES,
  describeShape: (s) => `${s.rows}x${s.cols}`,
  operands: (s, make) => ({ a: make('tune.row_dots', s.rows * s.cols, true), b: make('tune.row_dots', s.rows * s.cols, true), out: make('tune.row_dots', s.rows, false) }),
  create: (gpu, variant) => RowDots.create(gpu, { variant }),
  plan: (op, o, s, label) => op.plan(o.a, o.b, o.out, s.rows, s.cols, label),
};

export function chooseRowDotsVariant(gpu: Gpu): Promise<RowDotsVariant> {
  return chooseForm(gpu, ROW_DOTS_FORMS);
}

export function measureRowDots(gpu: Gpu, candidates?: readonly RowDotsVariant[]): Promise<Measurement> {
  return measureForms(gpu, ROW_DOTS_FORMS, candidates);
}

export class RowDots {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernel: Kernel,
    readonly variant: RowDotsVariant,
  ) {}

  static async create(gpu: Gpu, opts: RowDotsOptions = {}): Promise<RowDots> {
    if (opts.variant !== undefined && !ROW_DOTS_VARIANTS.includes(opts.variant)) {
      throw new Error(`row_dots: unknown variant "${opts.variant}" (expected ${ROW_DOTS_VARIANTS.join(', ')})`);
    }
    const variant = opts.variant ?? (await chooseRowDotsVariant(gpu));
    const WG = variant === 'row' ? ROW_WG : WORKGROUP_WG;
    return new RowDots(gpu, await Kernel.load(gpu, rowDotsFormDef(variant), { WG, ACCUMULATE: opts.accumulate ? 1 : 0 }), variant);
  }

  plan(a: BufferRef, b: BufferRef, out: BufferRef, rows: number, cols: number, label = 'row_dots'): Dispatch {
    // The workgroup form reads its row from the workgroup id: one workgroup per row.
    const grid = this.variant === 'row' ? workgroups1d(this.gpu, rows, ROW_WG) : workgroups1d(this.gpu, rows, 1);
    return this.kernel.plan(label, [a, b, out], { rows, cols }, grid);
  }
}
