// Gradient of conv2d with respect to its input: dx [N,C,H,W] from dy [N,K,P,Q] and w [K,C,R,S].
import raw from '../shaders/conv2d_backward_data.wgsl?raw';
import dataIo from '../shaders/conv2d_backward_data_io.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { Measurement } from '../gpu/kernel_choices';
import { checkFormAvailable, chooseForm, measureForms, type KernelForms } from './forms';
import { Kernel, type Dispatch, type KernelDef } from './kernel';
import { blockGrid, checkConv2dShape, CONV_TUNE_SHAPES, conv2dOutputShape, conv2dUniforms, conv2dUniformValues, conv2dSource, type Conv2dShape } from './conv2d_forward';
import { registerBlockConv2dBackwardData, TILED_MATMUL, tiledConv2dBackwardData } from './wgsl_template';

// Register block: BC input channels x BM input positions per invocation. CPU ms on lavapipe for
// LeNet conv2's data gradient at batch 100 (dy [100,50,8,8] -> dx [100,20,12,12]); the machine is
// shared with other jobs, so these are medians of A/B runs alternating with the previous kernel:
//   previous kernel (10x8 positions consecutive in (n,h,w), every tap of the block's range loads
//   and tests its hits, channel block per invocation)                               92-110
//   row path 20x6 / 10x12 / 20x12                                                   81 / 98 / 69
//   20x12 with the window shift and the store loop written so that they unroll        46-53
// (earlier, for the previous kernel, best of 15: 4x4 138-141, 8x8 114-124, 4x8 151-155, 5x8 101-128,
// 4x16 150-190, 10x4 107-119, 10x6 85, 10x8 74-91). BC = 20 is LeNet's channel count and BM = 12 its
// row width; other shapes waste the lanes and channels past the last block.
const BC = 20;
const BM = 12;
const WG = 64;

/**
 * The forms of this kernel (chosen per adapter like matmul's, src/gpu/kernel_choices.ts):
 *   blocked  src/shaders/conv2d_backward_data.wgsl, the 20x12 block in loop-indexed arrays;
 *   scalar   registerBlockConv2dBackwardData (src/kernels/wgsl_template.ts), a 10x8 block written out
 *            in named variables, for adapters that keep arrays in memory (SwiftShader). Smaller than
 *            blocked's: SwiftShader's compile time grows steeply with the number of named values;
 *   subgroup the written-out block at blocked's 20x12, each filter tap of the channel block loaded
 *            once per subgroup and broadcast (devices with a fixed subgroup size, Gpu.subgroupSize);
 *   tiled    tiledConv2dBackwardData (same file): a GEMM through 64x64 workgroup-memory tiles, for
 *            GPUs (not a candidate on CPU drivers, where workgroup memory and barriers are emulated).
 */
export type Conv2dBackwardDataVariant = 'blocked' | 'scalar' | 'subgroup' | 'tiled';
export const CONV2D_BACKWARD_DATA_VARIANTS: readonly Conv2dBackwardDataVariant[] = ['blocked', 'scalar', 'subgroup', 'tiled'];
/** The register forms' blocks: channels x positions per invocation (the tiled form's are TILED_MATMUL's). */
const BLOCKS: Record<Exclude<Conv2dBackwardDataVariant, 'tiled'>, { bc: number; bm: number }> = { blocked: { bc: BC, bm: BM }, scalar: { bc: 10, bm: 8 }, subgroup: { bc: BC, bm: BM } };

export const conv2dBackwardDataDef: KernelDef = {
  name: 'conv2d_backward_data',
  source: conv2dSource(`${raw}\n${dataIo}`, { BC, BM }),
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: conv2dUniforms,
};

/** The KernelDef of a form (same bindings and uniforms; the source differs; subgroup: for this subgroup size). */
export function conv2dBackwardDataFormDef(variant: Conv2dBackwardDataVariant, subgroupSize: number | null = null): KernelDef {
  if (variant === 'blocked') return conv2dBackwardDataDef;
  if (variant === 'tiled') return { ...conv2dBackwardDataDef, name: 'conv2d_backward_data_tiled', source: conv2dSource(`${tiledConv2dBackwardData()}\n${dataIo}`), generated: true };
  const { bc, bm } = BLOCKS[variant];
  if (variant === 'scalar') {
    return { ...conv2dBackwardDataDef, name: `conv2d_backward_data_scalar_${bc}x${bm}`, source: conv2dSource(`${registerBlockConv2dBackwardData({ bc, bm })}\n${dataIo}`), generated: true };
  }
  if (!subgroupSize) throw new Error("conv2d_backward_data: the 'subgroup' form needs a device with a fixed subgroup size (Gpu.subgroupSize)");
  const source = conv2dSource(`${registerBlockConv2dBackwardData({ bc, bm, sg: subgroupSize })}\n${dataIo}`);
  return { ...conv2dBackwardDataDef, name: `conv2d_backward_data_subgroup_${bc}x${bm}_sg${subgroupSize}`, source, generated: true, enables: ['subgroups'] };
}

/** Measured once per Gpu and cached per adapter (src/gpu/kernel_choices.ts) on the forward kernel's shapes. */
export const CONV2D_BACKWARD_DATA_FORMS: KernelForms<Conv2dBackwardDataVariant, Conv2dShape, Conv2dBackwardData, { dy: GPUBuffer; w: GPUBuffer; dx: GPUBuffer }> = {
  kernel: 'conv2d_backward_data',
  variants: CONV2D_BACKWARD_DATA_VARIANTS,
  defs: (v, gpu) => [conv2dBackwardDataFormDef(v, gpu.subgroupSize)],
  available: (v, gpu) => v !== 'subgroup' || gpu.subgroupForms,
  // Workgroup memory and barriers are emulated on CPU drivers: the tiled form is for GPUs.
  cpuCandidates: ['blocked', 'scalar', 'subgroup'],
  tuneShapes: CONV_TUNE_SHAPES,
  describeShape: (s) => `dy*w[${s.K},${s.C},${s.R},${s.S}]->dx[${s.N},${s.C},${s.H},${s.W}]/${s.stride}`,
  operands: (s, make) => {
    const { P, Q } = conv2dOutputShape(s);
    return { dy: make('tune.conv', s.N * s.K * P * Q, true), w: make('tune.conv', s.K * s.C * s.R * s.S, true), dx: make('tune.conv', s.N * s.C * s.H * s.W, false) };
  },
  create: (gpu, variant) => Conv2dBackwardData.create(gpu, { variant }),
  plan: (op, o, s, label) => op.plan(o.dy, o.w, o.dx, s, label),
};

export function chooseConv2dBackwardDataVariant(gpu: Gpu): Promise<Conv2dBackwardDataVariant> {
  return chooseForm(gpu, CONV2D_BACKWARD_DATA_FORMS);
}

export function measureConv2dBackwardData(gpu: Gpu, candidates?: readonly Conv2dBackwardDataVariant[]): Promise<Measurement> {
  return measureForms(gpu, CONV2D_BACKWARD_DATA_FORMS, candidates);
}

export interface Conv2dBackwardDataOptions {
  /** The form to run; default: this adapter's choice (chooseConv2dBackwardDataVariant). */
  variant?: Conv2dBackwardDataVariant;
}

export class Conv2dBackwardData {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernel: Kernel,
    readonly variant: Conv2dBackwardDataVariant,
  ) {}

  static async create(gpu: Gpu, options: Conv2dBackwardDataOptions = {}): Promise<Conv2dBackwardData> {
    if (options.variant !== undefined && !CONV2D_BACKWARD_DATA_VARIANTS.includes(options.variant)) {
      throw new Error(`conv2d_backward_data: unknown variant "${options.variant}" (expected ${CONV2D_BACKWARD_DATA_VARIANTS.join(', ')})`);
    }
    const variant = options.variant ?? (await chooseConv2dBackwardDataVariant(gpu));
    checkFormAvailable(gpu, CONV2D_BACKWARD_DATA_FORMS, variant);
    return new Conv2dBackwardData(gpu, await Kernel.load(gpu, conv2dBackwardDataFormDef(variant, gpu.subgroupSize), { WG }), variant);
  }

  /** Overwrites every element of dx [N,C,H,W] (no clear needed). dx must be in a GPUBuffer other than dy's and w's. */
  plan(dy: BufferRef, w: BufferRef, dx: BufferRef, shape: Conv2dShape, label = 'conv2d_backward_data'): Dispatch {
    checkConv2dShape(shape);
    const { N, C, H, W } = shape;
    if (this.variant === 'tiled') {
      // One workgroup per 64 x 64 tile: positions along x (folded over z), channels along y.
      return this.kernel.plan(label, [dy, w, dx], conv2dUniformValues(shape), blockGrid(this.gpu, Math.ceil((N * H * W) / TILED_MATMUL.tileN), 1, Math.ceil(C / TILED_MATMUL.tileM)));
    }
    const { bc, bm } = BLOCKS[this.variant];
    // Same test as row_path() in the shader.
    const blocks = shape.stride === 1 ? H * N * Math.ceil(W / bm) : Math.ceil((N * H * W) / bm);
    return this.kernel.plan(label, [dy, w, dx], conv2dUniformValues(shape), blockGrid(this.gpu, blocks, WG, Math.ceil(C / bc)));
  }
}
