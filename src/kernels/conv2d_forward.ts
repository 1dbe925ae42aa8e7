// 2-D convolution forward (NCHW), implicit GEMM with a register block per invocation and an optional
// fused bias / bias+ReLU / ReLU epilogue. Also home of the convolution shape type shared by the backward
// kernels (conv2d_backward_data, conv2d_backward_filter, conv2d_bias_grad).
import raw from '../shaders/conv2d_forward.wgsl?raw';
import forwardIo from '../shaders/conv2d_forward_io.wgsl?raw';
import conv2dParams from '../shaders/conv2d_params.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { Measurement } from '../gpu/kernel_choices';
import type { UniformSpec } from '../gpu/uniforms';
import { checkFormAvailable, chooseForm, formCandidates, measureForms, type KernelForms } from './forms';
import { Kernel, type Dispatch, type KernelDef } from './kernel';
import { registerBlockConv2dForward, TILED_MATMUL, tiledConv2dForward } from './wgsl_template';

/** x [N, C, H, W], w [K, C, R, S]; one stride and one zero-padding for both spatial axes. */
export interface Conv2dShape {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  stride: number;
  pad: number;
}

/** y [N, K, P, Q] with P = floor((H + 2 pad - R) / stride) + 1 and Q likewise. */
export function conv2dOutputShape(shape: Conv2dShape): { N: number; K: number; P: number; Q: number } {
  checkConv2dShape(shape);
  const { N, K, H, W, R, S, stride, pad } = shape;
  return { N, K, P: Math.floor((H + 2 * pad - R) / stride) + 1, Q: Math.floor((W + 2 * pad - S) / stride) + 1 };
}

export function checkConv2dShape(shape: Conv2dShape): void {
  const { N, C, H, W, K, R, S, stride, pad } = shape;
  for (const [name, v] of Object.entries({ N, C, H, W, K, R, S, stride })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`conv2d shape: ${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`conv2d shape: pad must be a non-negative integer, got ${pad}`);
  if (H + 2 * pad < R || W + 2 * pad < S) {
    throw new Error(`conv2d shape: the ${R}x${S} filter does not fit the padded ${H}x${W} input (pad ${pad})`);
  }
}

/** The `Params` struct every convolution kernel shares (same fields, same order). */
export const conv2dUniforms: UniformSpec = [
  ['N', 'u32'],
  ['C', 'u32'],
  ['H', 'u32'],
  ['W', 'u32'],
  ['K', 'u32'],
  ['R', 'u32'],
  ['S', 'u32'],
  ['P', 'u32'],
  ['Q', 'u32'],
  ['stride', 'u32'],
  ['pad', 'u32'],
];

export function conv2dUniformValues(shape: Conv2dShape): Record<string, number> {
  const { P, Q } = conv2dOutputShape(shape);
  const { N, C, H, W, K, R, S, stride, pad } = shape;
  return { N, C, H, W, K, R, S, P, Q, stride, pad };
}

/**
 * Workgroups for `blocks` position blocks (one per invocation, `wg` per workgroup, along x, folded
 * over z past the device limit) times `uniformBlocks` along y. A kernel that takes its channel block
 * from workgroup_id.y alone gets it, and the loads it indexes, uniform across the workgroup (on
 * lavapipe a larger uniform block paid off where a larger per-lane one did not).
 */
export function blockGrid(gpu: Gpu, blocks: number, wg: number, uniformBlocks: number): [number, number, number] {
  const groups = Math.ceil(blocks / wg);
  const maxDim = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (uniformBlocks > maxDim) throw new Error(`conv2d: ${uniformBlocks} channel blocks exceed the device limit of ${maxDim} workgroups per dimension`);
  if (groups <= maxDim) return [groups, uniformBlocks, 1];
  const z = Math.ceil(groups / maxDim);
  return [Math.ceil(groups / z), uniformBlocks, z];
}

/** Appends the register-block consts a shader declares by name, keeping its own line numbers intact. */
function withBlockConsts(source: string, consts: Record<string, number>): string {
  return `${source}\n${Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;`).join('\n')}\n`;
}

/** A convolution kernel's WGSL: its own source, then the shared shape struct and its block consts. */
export function conv2dSource(source: string, consts: Record<string, number> = {}): string {
  return withBlockConsts(`${source}\n${conv2dParams}`, consts);
}

// Register block: BK output channels x BM output positions per invocation, two channel-block
// sizes compiled and the one that wastes fewer channels on K picked per plan (channels past K are
// computed and dropped). CPU ms per dispatch on lavapipe (2 cores, machine shared with other jobs,
// medians of A/B runs alternating with the previous kernel) at LeNet's batch of 100:
//                                                         conv1 x[100,1,28,28]   conv2 x[100,20,12,12]
//                                                               w[20,1,5,5]            w[50,20,5,5]
//   previous kernel, 10x8, channel block per invocation           18-20                  47-55
//   channel block uniform per workgroup (general path), 10x8         17                     46
//     20x8                                                           14                     43
//     25x8                                                            -                  36-42
//     10x16, 5x16, 25x4: 1.0-2.4x the time of 10x8; 50x4, 50x8: 5-15x (too large to unroll)
//   row path (register window along the row), 10x8                   12                     42
//     25x8                                                        13-16                  36-41
// and, later, the row path side by side in one run (A/B medians of 5 rounds, same buffers):
//     10x8 / 20x8 / 25x8                                          14-16 / 12 / 14         43 / 48 / 45
//     10x12 / 20x12 / 25x12                                       12 / 12 / 15            52 / 77 / 81
//   and on ResNet layers at batch 10 (16->16 32x32, 32->32 16x16, 64->64 8x8, pad 1), 10x8 / 20x8 /
//   25x8: 8.6 / 7.4 / 9.8, 8.2 / 7.1 / 9.3, 7.4 / 7.3 / 7.2.
// so 20x8 where K is a multiple of 20 but not of 25 (LeNet's conv1), 25x8 otherwise (LeNet's conv2),
// and for other K the one that wastes fewer channels. Both cores also stay busier than with the
// previous kernel: conv2 22 ms wall against 48 (BENCHMARKS.md).
const BLOCK_CHANNELS = [20, 25] as const;
const BM = 8;
const WG = 64;

/**
 * The forms of this kernel (chosen per adapter like matmul's, src/gpu/kernel_choices.ts):
 *   blocked  src/shaders/conv2d_forward.wgsl, the block in loop-indexed arrays (lavapipe unrolls them);
 *   scalar   registerBlockConv2dForward (src/kernels/wgsl_template.ts), the block written out in named
 *            variables, for adapters that keep arrays in memory (SwiftShader);
 *   subgroup the same written-out block, each filter tap loaded once per subgroup and broadcast
 *            (devices with a fixed subgroup size, Gpu.subgroupSize: lavapipe);
 *   tiled    tiledConv2dForward (same file): a GEMM through 64x64 workgroup-memory tiles, for GPUs
 *            (not a candidate on CPU drivers, where workgroup memory and barriers are emulated).
 */
export type Conv2dForwardVariant = 'blocked' | 'scalar' | 'subgroup' | 'tiled';
export const CONV2D_FORWARD_VARIANTS: readonly Conv2dForwardVariant[] = ['blocked', 'scalar', 'subgroup', 'tiled'];
/** The channel blocks each form compiles (the plan picks the one that wastes fewest channels; tiled: its tile's 64 rows). */
const VARIANT_BLOCKS: Record<Conv2dForwardVariant, readonly number[]> = { blocked: BLOCK_CHANNELS, scalar: [10], subgroup: BLOCK_CHANNELS, tiled: [TILED_MATMUL.tileM] };

/** The channel block that computes the fewest padded channels for K (the larger one on a tie). */
export function pickChannelBlock(K: number, choices: readonly number[]): number {
  let best = choices[0];
  for (const b of choices) {
    const waste = Math.ceil(K / b) * b - K;
    const bestWaste = Math.ceil(K / best) * best - K;
    if (waste < bestWaste || (waste === bestWaste && b > best)) best = b;
  }
  return best;
}

/** Same test as row_path() in conv2d_forward.wgsl. */
function rowPath(shape: Conv2dShape): boolean {
  return shape.stride === 1;
}

/** The kernel with a BK-channel register block (one pipeline per BK), in the given form (subgroup: for this subgroup size). */
export function conv2dForwardDef(BK: number, variant: Conv2dForwardVariant = 'blocked', subgroupSize: number | null = null): KernelDef {
  const def: KernelDef = {
    name: 'conv2d_forward',
    source: conv2dSource(`${raw}\n${forwardIo}`, { BK, BM }),
    bindings: ['read', 'read', 'read', 'rw', 'uniform'],
    uniforms: conv2dUniforms,
  };
  if (variant === 'blocked') return def;
  if (variant === 'scalar') return { ...def, name: `conv2d_forward_scalar_${BK}x${BM}`, source: conv2dSource(`${registerBlockConv2dForward({ bk: BK, bm: BM })}\n${forwardIo}`), generated: true };
  if (variant === 'tiled') return { ...def, name: 'conv2d_forward_tiled', source: conv2dSource(`${tiledConv2dForward()}\n${forwardIo}`), generated: true };
  if (!subgroupSize) throw new Error("conv2d_forward: the 'subgroup' form needs a device with a fixed subgroup size (Gpu.subgroupSize)");
  const source = conv2dSource(`${registerBlockConv2dForward({ bk: BK, bm: BM, sg: subgroupSize })}\n${forwardIo}`);
  return { ...def, name: `conv2d_forward_subgroup_${BK}x${BM}_sg${subgroupSize}`, source, generated: true, enables: ['subgroups'] };
}

/**
 * LeNet's conv2 on a validation batch of 10 and a ResNet 3x3 layer: both take the stride-1 row path,
 * which carries nearly all the work of both models (a ResNet has two stride-2 layers). The measured
 * choice holds for the row path; the general path goes with it unmeasured.
 */
export const CONV_TUNE_SHAPES: readonly Conv2dShape[] = [
  { N: 10, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 },
  { N: 2, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, stride: 1, pad: 1 },
];

/**
 * Measured once per Gpu and cached per adapter (src/gpu/kernel_choices.ts), with no epilogue. On CPU
 * drivers the tiled form is not a candidate; the subgroup form only where the device runs it.
 */
export const CONV2D_FORWARD_FORMS: KernelForms<Conv2dForwardVariant, Conv2dShape, Conv2dForward, { x: GPUBuffer; w: GPUBuffer; y: GPUBuffer }> = {
  kernel: 'conv2d_forward',
  variants: CONV2D_FORWARD_VARIANTS,
  defs: (v, gpu) => VARIANT_BLOCKS[v].map((bk) => conv2dForwardDef(bk, v, gpu.subgroupSize)),
  available: (v, gpu) => v !== 'subgroup' || gpu.subgroupForms,
  // Workgroup memory and barriers are emulated on CPU drivers: the tiled form is for GPUs.
  cpuCandidates: ['blocked', 'scalar', 'subgroup'],
  tuneShapes: CONV_TUNE_SHAPES,
  describeShape: (s) => `x[${s.N},${s.C},${s.H},${s.W}]*w[${s.K},${s.C},${s.R},${s.S}]/${s.stride}`,
  operands: (s, make) => {
    const { P, Q } = conv2dOutputShape(s);
    return { x: make('tune.conv', s.N * s.C * s.H * s.W, true), w: make('tune.conv', s.K * s.C * s.R * s.S, true), y: make('tune.conv', s.N * s.K * P * Q, false) };
  },
  create: (gpu, variant) => Conv2dForward.create(gpu, { variant }),
  plan: (conv, o, s, label) => conv.plan(o.x, o.w, null, o.y, s, label),
};

export function conv2dForwardCandidates(gpu: Gpu): Conv2dForwardVariant[] {
  return formCandidates(gpu, CONV2D_FORWARD_FORMS);
}

export function chooseConv2dForwardVariant(gpu: Gpu): Promise<Conv2dForwardVariant> {
  return chooseForm(gpu, CONV2D_FORWARD_FORMS);
}

export function measureConv2dForward(gpu: Gpu, candidates?: readonly Conv2dForwardVariant[]): Promise<Measurement> {
  return measureForms(gpu, CONV2D_FORWARD_FORMS, candidates);
}

/** Fused after the reduction: nothing, + bias[k], ReLU(. + bias[k]), or ReLU without a bias (a bias-free convolution before a ReLU). */
export type Conv2dEpilogue = 'none' | 'bias' | 'bias_relu' | 'relu';
// The EPILOGUE override of conv2d_forward.wgsl.
const EPILOGUE_CODE: Record<Conv2dEpilogue, number> = { none: 0, bias: 1, bias_relu: 2, relu: 3 };

/** Whether an epilogue reads the bias buffer. */
function readsBias(epilogue: Conv2dEpilogue): boolean {
  return epilogue === 'bias' || epilogue === 'bias_relu';
}

export interface Conv2dForwardOptions {
  /**
   * Fused after the reduction: nothing, + bias[k], ReLU(. + bias[k]), or ReLU(.) (a bias-free
   * convolution followed by a ReLU). Default 'none'.
   */
  epilogue?: Conv2dEpilogue;
  /** The form to run; default: this adapter's choice (chooseConv2dForwardVariant). */
  variant?: Conv2dForwardVariant;
}

export class Conv2dForward {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernels: ReadonlyMap<number, Kernel>,
    readonly epilogue: Conv2dEpilogue,
    readonly variant: Conv2dForwardVariant,
  ) {}

  static async create(gpu: Gpu, options: Conv2dForwardOptions = {}): Promise<Conv2dForward> {
    const epilogue = options.epilogue ?? 'none';
    if (!(epilogue in EPILOGUE_CODE)) throw new Error(`conv2d_forward: unknown epilogue "${epilogue}"`);
    if (options.variant !== undefined && !CONV2D_FORWARD_VARIANTS.includes(options.variant)) {
      throw new Error(`conv2d_forward: unknown variant "${options.variant}" (expected ${CONV2D_FORWARD_VARIANTS.join(', ')})`);
    }
    const variant = options.variant ?? (await chooseConv2dForwardVariant(gpu));
    checkFormAvailable(gpu, CONV2D_FORWARD_FORMS, variant);
    const blocks = VARIANT_BLOCKS[variant];
    const kernels = await Promise.all(blocks.map((bk) => Kernel.load(gpu, conv2dForwardDef(bk, variant, gpu.subgroupSize), { WG, EPILOGUE: EPILOGUE_CODE[epilogue] })));
    return new Conv2dForward(gpu, new Map(blocks.map((bk, i) => [bk, kernels[i]])), epilogue, variant);
  }

  /**
   * y [N,K,P,Q] = conv(x [N,C,H,W], w [K,C,R,S]) with the epilogue chosen at create(). `bias` [K] is
   * required for the 'bias' and 'bias_relu' epilogues and must be null for 'none' and 'relu'. y must live in a
   * GPUBuffer other than those of x, w and bias (WebGPU rejects a buffer bound both read-only and
   * read_write in one dispatch, even over disjoint ranges).
   */
  plan(x: BufferRef, w: BufferRef, bias: BufferRef | null, y: BufferRef, shape: Conv2dShape, label = 'conv2d_forward'): Dispatch {
    if ((bias !== null) !== readsBias(this.epilogue)) {
      throw new Error(`${label}: epilogue '${this.epilogue}' ${readsBias(this.epilogue) ? 'needs a bias buffer' : 'takes no bias'}`);
    }
    const { N, K, P, Q } = conv2dOutputShape(shape);
    if (this.variant === 'tiled') {
      // One workgroup per 64 x 64 tile: positions along x (folded over z), channels along y.
      const tiles = Math.ceil((N * P * Q) / TILED_MATMUL.tileN);
      return this.kernels.get(TILED_MATMUL.tileM)!.plan(label, [x, w, bias ?? this.gpu.placeholder, y], conv2dUniformValues(shape), blockGrid(this.gpu, tiles, 1, Math.ceil(K / TILED_MATMUL.tileM)));
    }
    const blocks = rowPath(shape) ? N * P * Math.ceil(Q / BM) : Math.ceil((N * P * Q) / BM);
    const bk = pickChannelBlock(K, [...this.kernels.keys()]);
    const kernel = this.kernels.get(bk)!;
    return kernel.plan(label, [x, w, bias ?? this.gpu.placeholder, y], conv2dUniformValues(shape), blockGrid(this.gpu, blocks, WG, Math.ceil(K / bk)));
  }
}
