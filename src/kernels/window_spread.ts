// Spreads each source element over a KH x KW window, scaled, with the channels shifted (zeros where
// the shifted channel is outside the source): the backward of avgpool2 and global_avg_pool (the
// adjoint of window_mean.ts) and all three passes of pad_channels. See window_spread.wgsl.
import raw from '../shaders/window_spread.wgsl?raw';
import { refBuffer, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';
import { windowOutputShape, type WindowShape } from './window_mean';

/**
 * out [N, Cout, H, W] from src [N, Cin, H/KH, W/KW]:
 * out[n,k,h,w] = scale · src[n, k − shift, ⌊h/KH⌋, ⌊w/KW⌋] where 0 ≤ k − shift < Cin, else 0.
 */
export interface SpreadShape {
  N: number;
  Cin: number;
  Cout: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  shift: number;
  scale: number;
}

/** The adjoint of window_mean over `shape`: dx = dy spread over each window, times 1/(KH·KW). */
export function meanAdjoint(shape: WindowShape): SpreadShape {
  const { N, C, H, W, KH, KW } = shape;
  return { N, Cin: C, Cout: C, H, W, KH, KW, shift: 0, scale: 1 / (KH * KW) };
}

/** Channels moved by `shift` (zeros where nothing lands), planes of H x W unchanged, scale 1. */
export function channelShift(N: number, Cin: number, Cout: number, H: number, W: number, shift: number): SpreadShape {
  return { N, Cin, Cout, H, W, KH: 1, KW: 1, shift, scale: 1 };
}

const WG = 64;

export const windowSpreadDef: KernelDef = {
  name: 'window_spread',
  source: raw,
  bindings: ['read', 'rw', 'uniform'],
  uniforms: [
    ['N', 'u32'],
    ['C_in', 'u32'],
    ['C_out', 'u32'],
    ['H', 'u32'],
    ['W', 'u32'],
    ['KH', 'u32'],
    ['KW', 'u32'],
    ['shift', 'i32'],
    ['scale', 'f32'],
  ],
};

export class WindowSpread {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<WindowSpread> {
    return new WindowSpread(gpu, await Kernel.load(gpu, windowSpreadDef, { WG }));
  }

  /** Overwrites all of out [N,Cout,H,W] (see SpreadShape); out in a GPUBuffer other than src's. */
  plan(src: BufferRef, out: BufferRef, shape: SpreadShape, label = 'window_spread'): Dispatch {
    const { N, Cin, Cout, H, W, KH, KW, shift, scale } = shape;
    for (const [name, v] of Object.entries({ Cin, Cout })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${name} must be a positive integer, got ${v}`);
    }
    windowOutputShape({ N, C: Cin, H, W, KH, KW });
    if (!Number.isInteger(shift) || Math.abs(shift) > 2 ** 31 - 1) throw new Error(`${label}: the channel shift must be an i32, got ${shift}`);
    if (!Number.isFinite(scale)) throw new Error(`${label}: the scale must be finite, got ${scale}`);
    if (refBuffer(src) === refBuffer(out)) throw new Error(`${label}: the output must be in a buffer other than the source's`);
    return this.kernel.plan(
      label,
      [src, out],
      { N, C_in: Cin, C_out: Cout, H, W, KH, KW, shift, scale },
      workgroupsCapped(this.gpu, N * Cout * H, WG),
    );
  }
}
