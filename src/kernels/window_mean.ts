// Mean over non-overlapping KH x KW windows (NCHW): the forward and tangent of avgpool2 (2x2) and
// global_avg_pool (the whole H x W plane). See window_mean.wgsl; the adjoint is window_spread.ts.
import raw from '../shaders/window_mean.wgsl?raw';
import { refBuffer, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';

/** x [N, C, H, W] pooled by KH x KW windows with stride = window into y [N, C, H/KH, W/KW]. */
export interface WindowShape {
  N: number;
  C: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
}

/** y's shape [N, C, P, Q]; throws unless every field is a positive integer and the windows tile the plane. */
export function windowOutputShape(shape: WindowShape): { N: number; C: number; P: number; Q: number } {
  const { N, C, H, W, KH, KW } = shape;
  for (const [name, v] of Object.entries({ N, C, H, W, KH, KW })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`window shape: ${name} must be a positive integer, got ${v}`);
  }
  if (H % KH !== 0 || W % KW !== 0) throw new Error(`window shape: ${KH}x${KW} windows do not tile a ${H}x${W} plane`);
  return { N, C, P: H / KH, Q: W / KW };
}

// One item per output row (see the shader); 64 per workgroup, at most 256 workgroups, as the pooling
// kernels (maxpool_forward.ts).
const WG = 64;

export const windowMeanDef: KernelDef = {
  name: 'window_mean',
  source: raw,
  bindings: ['read', 'rw', 'uniform'],
  uniforms: [
    ['planes', 'u32'],
    ['H', 'u32'],
    ['W', 'u32'],
    ['KH', 'u32'],
    ['KW', 'u32'],
    ['scale', 'f32'],
  ],
};

export class WindowMean {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<WindowMean> {
    return new WindowMean(gpu, await Kernel.load(gpu, windowMeanDef, { WG }));
  }

  /** Overwrites y [N,C,H/KH,W/KW] with the window means of x [N,C,H,W]; y in a GPUBuffer other than x's. */
  plan(x: BufferRef, y: BufferRef, shape: WindowShape, label = 'window_mean'): Dispatch {
    const { N, C, P } = windowOutputShape(shape);
    if (refBuffer(x) === refBuffer(y)) throw new Error(`${label}: the output must be in a buffer other than the input's`);
    const { H, W, KH, KW } = shape;
    return this.kernel.plan(label, [x, y], { planes: N * C, H, W, KH, KW, scale: 1 / (KH * KW) }, workgroupsCapped(this.gpu, N * C * P, WG));
  }
}
