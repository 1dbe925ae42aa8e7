// Gradient of conv2d with respect to its filter: dw [K,C,R,S] from x [N,C,H,W] and dy [N,K,P,Q],
// optionally weighting example n's contribution by ex_weight[n] (per-example weighted gradients).
import blockedSource from '../shaders/conv2d_backward_filter.wgsl?raw';
import reduceSource from '../shaders/conv2d_backward_filter_reduce.wgsl?raw';
import filterTap from '../shaders/conv2d_filter_tap.wgsl?raw';
import filterIo from '../shaders/conv2d_backward_filter_io.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { Measurement } from '../gpu/kernel_choices';
import { checkFormAvailable, chooseForm, measureForms, type KernelForms } from './forms';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';
import { blockGrid, checkConv2dShape, conv2dOutputShape, pickChannelBlock, conv2dUniforms, conv2dUniformValues, conv2dSource, type Conv2dShape } from './conv2d_forward';
import { registerBlockConv2dBackwardFilter } from './wgsl_template';

// Register block of the blocked form: BK filters x BJ (c,r,s) columns per invocation. CPU ms on
// lavapipe at LeNet's batch of 100 (conv1 dw [20,1,5,5] / conv2 dw [50,20,5,5]), best of 15: 4x4
// 25-27 / 76-96, 5x5 20 / 97-101, 4x8 21-23 / 77-84, 10x4 15-16 / 74, 10x5 12-13 / 48-64, 10x8 7-11 /
// 51-62, 2x5 29-33 / 139-149. Since then the block's loops are written so that they unroll (no 80-long
// loop, no break): 0.8-1.0 of the time before, within the noise of a shared machine. Tried and dropped
// (no gain over this on conv2, A/B medians): the filter block uniform per workgroup (dy loads uniform)
// with 10x8 and 25x8 blocks; one invocation per filter row (c, r) or per channel c with a register
// window along q. (Two filter rows per invocation with that window do pay off: the row path below.)
const BK = 10;
const BJ = 8;
// Row path of the blocked form (stride 1, filter width RBS): RBK filters x RBF filter rows x RBS
// taps per invocation, x loaded through a register window along each row (numbers in the shader).
const RBK = 10;
const RBF = 2;
const RBS = 5;
const WG = 64;
/** The reduce form's block (TK in its shader) and workgroup: 4 filters x 4 columns, 128 invocations. */
const REDUCE_TK = 4;
const REDUCE_TJ = 4;
const REDUCE_WG = 128;

/**
 * The forms of this kernel (chosen per adapter like matmul's, src/gpu/kernel_choices.ts):
 *   blocked  src/shaders/conv2d_backward_filter.wgsl: each invocation owns a 10x8 block of outputs
 *            (10 filters x 2 filter rows x 5 taps on the stride-1 row path) and runs the whole (n,p,q)
 *            reduction; few, long-running invocations, for CPU drivers;
 *   reduce   src/shaders/conv2d_backward_filter_reduce.wgsl: a workgroup per 4x4 block of outputs, its
 *            128 invocations splitting the reduction and adding up in workgroup memory, for GPUs (on
 *            an H200, LeNet's conv1 filter gradient at batch 100 took 16 ms in the blocked form);
 *   scalar   registerBlockConv2dBackwardFilter (src/kernels/wgsl_template.ts), the blocked form's 10x8
 *            block written out in named variables, for adapters that keep arrays in memory
 *            (SwiftShader in Node, LeNet at batch 100 with weights: conv1 364 -> 48 ms, conv2
 *            1259 -> 236 ms against blocked; compile 0.8-1.2 s);
 *   subgroup the written-out block with the filter block taken from the workgroup (10 or 25 filters,
 *            whichever wastes fewer, by 8 columns), each dy value loaded once per subgroup and
 *            broadcast; one subgroup per workgroup (devices with a fixed subgroup size, Gpu.subgroupSize).
 *            Filters with fewer than SUBGROUP_MIN_COLUMNS columns (c, r, s) run the blocked form's
 *            kernel instead, which this form also compiles.
 */
export type Conv2dBackwardFilterVariant = 'blocked' | 'reduce' | 'scalar' | 'subgroup';
export const CONV2D_BACKWARD_FILTER_VARIANTS: readonly Conv2dBackwardFilterVariant[] = ['blocked', 'reduce', 'scalar', 'subgroup'];
/**
 * The subgroup form's filter blocks (one pipeline each; the plan picks the one that wastes fewer
 * filters). 10 rather than 20 for LeNet's conv1 (20 filters): two workgroups, so both cores work.
 */
const SUBGROUP_FILTER_BLOCKS = [10, 25] as const;
/**
 * Below this many filter columns (c, r, s) the subgroup form runs the blocked kernel: with 8 columns
 * per invocation, fewer than a subgroup's worth of invocations would have work. On lavapipe LeNet's
 * conv1 (25 columns, batch 100) took 9.9 ms in the subgroup kernel and 5.1 ms in the blocked one, whose
 * row path loads x through a register window.
 */
const SUBGROUP_MIN_COLUMNS = 64;

export const conv2dBackwardFilterDef: KernelDef = {
  name: 'conv2d_backward_filter',
  source: conv2dSource(`${blockedSource}\n${filterIo}\n${filterTap}`, { BK, BJ, RBK, RBF, RBS }),
  bindings: ['read', 'read', 'read', 'rw', 'uniform'],
  uniforms: conv2dUniforms,
};

/**
 * The KernelDef of a form (same bindings and uniforms; the source differs). The subgroup form has one
 * per filter block (`bk`, one of SUBGROUP_FILTER_BLOCKS) and subgroup size.
 */
export function conv2dBackwardFilterFormDef(variant: Conv2dBackwardFilterVariant, subgroupSize: number | null = null, bk: number = SUBGROUP_FILTER_BLOCKS[0]): KernelDef {
  if (variant === 'blocked') return conv2dBackwardFilterDef;
  if (variant === 'reduce') return { ...conv2dBackwardFilterDef, name: 'conv2d_backward_filter_reduce', source: conv2dSource(`${reduceSource}\n${filterIo}\n${filterTap}`) };
  if (variant === 'scalar') {
    return { ...conv2dBackwardFilterDef, name: `conv2d_backward_filter_scalar_${BK}x${BJ}`, source: conv2dSource(`${registerBlockConv2dBackwardFilter({ bk: BK, bj: BJ })}\n${filterIo}\n${filterTap}`), generated: true };
  }
  if (!subgroupSize) throw new Error("conv2d_backward_filter: the 'subgroup' form needs a device with a fixed subgroup size (Gpu.subgroupSize)");
  const source = conv2dSource(`${registerBlockConv2dBackwardFilter({ bk, bj: BJ, sg: subgroupSize })}\n${filterIo}\n${filterTap}`);
  return { ...conv2dBackwardFilterDef, name: `conv2d_backward_filter_subgroup_${bk}x${BJ}_sg${subgroupSize}`, source, generated: true, enables: ['subgroups'] };
}

/** The pipelines of a form: one, or the subgroup form's one per filter block and then the blocked kernel. */
function formDefs(variant: Conv2dBackwardFilterVariant, subgroupSize: number | null): KernelDef[] {
  if (variant !== 'subgroup') return [conv2dBackwardFilterFormDef(variant)];
  return [...SUBGROUP_FILTER_BLOCKS.map((bk) => conv2dBackwardFilterFormDef(variant, subgroupSize, bk)), conv2dBackwardFilterDef];
}

/**
 * LeNet's two filter gradients at a batch of 20: in the training step's proportions (conv2's is 5.5x
 * conv1's work), conv1's a long reduction onto few outputs (the shape that separates the forms on a
 * GPU). Conv1 at the training batch and conv2 at the validation batch, as before, made conv1 weigh most
 * and picked the blocked form on lavapipe, where the subgroup form is 1.7x faster on conv2 at batch 100
 * and 1.2x slower on conv1 (both run on one core: conv1 has 25 filter columns). A batch of 20 costs
 * SwiftShader's start-up no more than that pair did (about 430 and 130 ms per run of its two forms).
 */
export const FILTER_TUNE_SHAPES: readonly Conv2dShape[] = [
  { N: 20, C: 1, H: 28, W: 28, K: 20, R: 5, S: 5, stride: 1, pad: 0 },
  { N: 20, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 },
];

/** Measured once per Gpu and cached per adapter (src/gpu/kernel_choices.ts), unweighted. */
export const CONV2D_BACKWARD_FILTER_FORMS: KernelForms<Conv2dBackwardFilterVariant, Conv2dShape, Conv2dBackwardFilter, { x: GPUBuffer; dy: GPUBuffer; dw: GPUBuffer }> = {
  kernel: 'conv2d_backward_filter',
  variants: CONV2D_BACKWARD_FILTER_VARIANTS,
  defs: (v, gpu) => formDefs(v, gpu.subgroupSize),
  available: (v, gpu) => v !== 'subgroup' || gpu.subgroupForms,
  // On a CPU driver the reduce form lost by 3x or more (lavapipe: 135 ms against 44 ms on these shapes,
  // loaded machine), so only GPUs pay for its measurement.
  cpuCandidates: ['blocked', 'scalar', 'subgroup'],
  tuneShapes: FILTER_TUNE_SHAPES,
  describeShape: (s) => `x[${s.N},${s.C},${s.H},${s.W}]->dw[${s.K},${s.C},${s.R},${s.S}]/${s.stride}`,
  operands: (s, make) => {
    const { P, Q } = conv2dOutputShape(s);
    return { x: make('tune.conv_filter', s.N * s.C * s.H * s.W, true), dy: make('tune.conv_filter', s.N * s.K * P * Q, true), dw: make('tune.conv_filter', s.K * s.C * s.R * s.S, false) };
  },
  create: (gpu, variant) => Conv2dBackwardFilter.create(gpu, { variant }),
  plan: (op, o, s, label) => op.plan(o.x, o.dy, null, o.dw, s, label),
};

export function chooseConv2dBackwardFilterVariant(gpu: Gpu): Promise<Conv2dBackwardFilterVariant> {
  return chooseForm(gpu, CONV2D_BACKWARD_FILTER_FORMS);
}

export function measureConv2dBackwardFilter(gpu: Gpu, candidates?: readonly Conv2dBackwardFilterVariant[]): Promise<Measurement> {
  return measureForms(gpu, CONV2D_BACKWARD_FILTER_FORMS, candidates);
}

export interface Conv2dBackwardFilterOptions {
  /** Scale example n's contribution by ex_weight[n] (a length-N f32 buffer). Default false. */
  exWeights?: boolean;
  /** The form to run; default: this adapter's choice (chooseConv2dBackwardFilterVariant). */
  variant?: Conv2dBackwardFilterVariant;
}

export class Conv2dBackwardFilter {
  private constructor(
    private readonly gpu: Gpu,
    /** The form's pipelines; the subgroup form's in SUBGROUP_FILTER_BLOCKS order, then the blocked kernel. */
    private readonly kernels: readonly Kernel[],
    readonly exWeights: boolean,
    readonly variant: Conv2dBackwardFilterVariant,
  ) {}

  static async create(gpu: Gpu, options: Conv2dBackwardFilterOptions = {}): Promise<Conv2dBackwardFilter> {
    if (options.variant !== undefined && !CONV2D_BACKWARD_FILTER_VARIANTS.includes(options.variant)) {
      throw new Error(`conv2d_backward_filter: unknown variant "${options.variant}" (expected ${CONV2D_BACKWARD_FILTER_VARIANTS.join(', ')})`);
    }
    const exWeights = options.exWeights ?? false;
    const variant = options.variant ?? (await chooseConv2dBackwardFilterVariant(gpu));
    checkFormAvailable(gpu, CONV2D_BACKWARD_FILTER_FORMS, variant);
    // The subgroup kernels run one subgroup per workgroup: more, smaller workgroups to spread over the
    // cores (LeNet's conv2 has 63 column blocks per filter block).
    const wg = (def: KernelDef) => (variant === 'reduce' ? REDUCE_WG : def.enables?.includes('subgroups') ? gpu.subgroupSize! : WG);
    const kernels = await Promise.all(formDefs(variant, gpu.subgroupSize).map((def) => Kernel.load(gpu, def, { WG: wg(def), EX_WEIGHTS: exWeights ? 1 : 0 })));
    return new Conv2dBackwardFilter(gpu, kernels, exWeights, variant);
  }

  /**
   * Overwrites dw [K,C,R,S] (no clear needed). `exWeight` [N] is required when created with exWeights
   * and must be null otherwise; examples with weight exactly 0 are skipped. dw must be in a GPUBuffer other than x's and dy's.
   */
  plan(x: BufferRef, dy: BufferRef, exWeight: BufferRef | null, dw: BufferRef, shape: Conv2dShape, label = 'conv2d_backward_filter'): Dispatch {
    if ((exWeight === null) === this.exWeights) {
      throw new Error(`${label}: ${this.exWeights ? 'created with exWeights, so it needs an ex_weight buffer' : 'created without exWeights, so ex_weight must be null'}`);
    }
    checkConv2dShape(shape);
    const { C, K, R, S } = shape;
    const bindings = [x, dy, exWeight ?? this.gpu.placeholder, dw];
    const uniforms = conv2dUniformValues(shape);
    if (this.variant === 'reduce') {
      // One workgroup per block (the shader reads its block from the workgroup id alone).
      const blocks = Math.ceil((C * R * S) / REDUCE_TJ) * Math.ceil(K / REDUCE_TK);
      return this.kernels[0].plan(label, bindings, uniforms, workgroups1d(this.gpu, blocks, 1));
    }
    if (this.variant === 'subgroup' && C * R * S >= SUBGROUP_MIN_COLUMNS) {
      // Column blocks along x, filter blocks along y (the shader's k0 = workgroup_id.y * bk).
      const bk = pickChannelBlock(K, SUBGROUP_FILTER_BLOCKS);
      const kernel = this.kernels[SUBGROUP_FILTER_BLOCKS.indexOf(bk as (typeof SUBGROUP_FILTER_BLOCKS)[number])];
      return kernel.plan(label, bindings, uniforms, blockGrid(this.gpu, Math.ceil((C * R * S) / BJ), this.gpu.subgroupSize!, Math.ceil(K / bk)));
    }
    // The blocked kernel (the subgroup form's last one, for small filters), or the scalar one. Same
    // test as filter_row_path() in the blocked shader.
    const blocked = this.variant === 'blocked' || this.variant === 'subgroup';
    const invocations = blocked && shape.stride === 1 && S === RBS ? Math.ceil((C * R) / RBF) * Math.ceil(K / RBK) : Math.ceil((C * R * S) / BJ) * Math.ceil(K / BK);
    return this.kernels[this.kernels.length - 1].plan(label, bindings, uniforms, workgroups1d(this.gpu, invocations, WG));
  }
}
