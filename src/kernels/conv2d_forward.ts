// 2-D convolution forward (NCHW), implicit GEMM with a register block per invocation and an optional
// fused bias / bias+ReLU epilogue. Also home of the convolution shape type shared by the backward
// kernels (conv2d_backward_data, conv2d_backward_filter, conv2d_bias_grad).
import raw from '../shaders/conv2d_forward.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { UniformSpec } from '../gpu/uniforms';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

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

/** Appends the register-block consts a shader declares by name, keeping its own line numbers intact. */
export function withBlockConsts(source: string, consts: Record<string, number>): string {
  return `${source}\n${Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;`).join('\n')}\n`;
}

// Register block: BK output channels x BM output positions per invocation. Measured on lavapipe
// (2 cores, AVX-512; the machine was shared, so the figures are CPU ms summed over the driver's
// threads, best of 15) at LeNet's batch of 100, conv1 x[100,1,28,28] w[20,1,5,5] / conv2
// x[100,20,12,12] w[50,20,5,5]:
//   1x1 (no blocking) 168 / 363   4x4 29-41 / 83-95    8x4 23-30 / 76-80   4x8 25-31 / 76-80
//   8x8 18-20 / 55-59    10x8 16-22 / 43-56    16x8 20-23 / 45    20x8 15-17 / 39-40    10x12 14-18 / 36-39
// 10x8 is kept: BK = 10 divides LeNet's 20 and 50 channels and BM = 8 its 576- and 64-position planes,
// so no lane is wasted there; 20x8 and 10x12 gain ~15% on conv2 but double the accumulators (which a
// real GPU pays for in occupancy) and waste more on other channel counts.
const BK = 10;
const BM = 8;
const WG = 64;

export const conv2dForwardDef: KernelDef = {
  name: 'conv2d_forward',
  source: withBlockConsts(raw, { BK, BM }),
  bindings: ['read', 'read', 'read', 'rw', 'uniform'],
  uniforms: conv2dUniforms,
};

export type Conv2dEpilogue = 'none' | 'bias' | 'bias_relu';
const EPILOGUE_CODE: Record<Conv2dEpilogue, number> = { none: 0, bias: 1, bias_relu: 2 };

export interface Conv2dForwardOptions {
  /** Fused after the reduction: nothing, + bias[k], or ReLU(. + bias[k]). Default 'none'. */
  epilogue?: Conv2dEpilogue;
}

export class Conv2dForward {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernel: Kernel,
    readonly epilogue: Conv2dEpilogue,
    /** Bound in the bias slot when the epilogue reads no bias (a binding cannot be left empty). */
    private readonly dummy: GPUBuffer,
  ) {}

  static async create(gpu: Gpu, options: Conv2dForwardOptions = {}): Promise<Conv2dForward> {
    const epilogue = options.epilogue ?? 'none';
    if (!(epilogue in EPILOGUE_CODE)) throw new Error(`conv2d_forward: unknown epilogue "${epilogue}"`);
    const kernel = await Kernel.load(gpu, conv2dForwardDef, { WG, EPILOGUE: EPILOGUE_CODE[epilogue] });
    return new Conv2dForward(gpu, kernel, epilogue, gpu.buffer('conv2d_forward.dummy', 16));
  }

  /**
   * y [N,K,P,Q] = conv(x [N,C,H,W], w [K,C,R,S]) with the epilogue chosen at create(). `bias` [K] is
   * required for the 'bias' and 'bias_relu' epilogues and must be null for 'none'. y must live in a
   * GPUBuffer other than those of x, w and bias (WebGPU rejects a buffer bound both read-only and
   * read_write in one dispatch, even over disjoint ranges).
   */
  plan(x: BufferRef, w: BufferRef, bias: BufferRef | null, y: BufferRef, shape: Conv2dShape, label = 'conv2d_forward'): Dispatch {
    if ((bias === null) !== (this.epilogue === 'none')) {
      throw new Error(`${label}: epilogue '${this.epilogue}' ${this.epilogue === 'none' ? 'takes no bias' : 'needs a bias buffer'}`);
    }
    const { N, K, P, Q } = conv2dOutputShape(shape);
    const invocations = Math.ceil((N * P * Q) / BM) * Math.ceil(K / BK);
    return this.kernel.plan(label, [x, w, bias ?? this.dummy, y], conv2dUniformValues(shape), workgroups1d(this.gpu, invocations, WG));
  }
}
