// 2x2 / stride-2 max pooling (NCHW, floor mode) with the in-plane argmax kept for the backward pass.
import raw from '../shaders/maxpool_forward.wgsl?raw';
import maxpoolParams from '../shaders/maxpool_params.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { UniformSpec } from '../gpu/uniforms';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';

/** Input x [N, C, H, W]. */
export interface MaxPoolShape {
  N: number;
  C: number;
  H: number;
  W: number;
}

/** y [N, C, P, Q] with P = floor(H/2), Q = floor(W/2). */
export function maxpoolOutputShape(shape: MaxPoolShape): { N: number; C: number; P: number; Q: number } {
  const { N, C, H, W } = shape;
  for (const [name, v] of Object.entries({ N, C, H, W })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`maxpool shape: ${name} must be a positive integer, got ${v}`);
  }
  if (H < 2 || W < 2) throw new Error(`maxpool shape: a 2x2 window needs H, W >= 2, got ${H}x${W}`);
  return { N, C, P: Math.floor(H / 2), Q: Math.floor(W / 2) };
}

export const maxpoolUniforms: UniformSpec = [
  ['N', 'u32'],
  ['C', 'u32'],
  ['H', 'u32'],
  ['W', 'u32'],
  ['P', 'u32'],
  ['Q', 'u32'],
];

export function maxpoolUniformValues(shape: MaxPoolShape): Record<string, number> {
  const { P, Q } = maxpoolOutputShape(shape);
  return { N: shape.N, C: shape.C, H: shape.H, W: shape.W, P, Q };
}

// One item per output row, grid-stride over <= 256 workgroups of 64. CPU ms per dispatch on
// lavapipe (shared machine; `npm run bench`, see BENCHMARKS.md) for LeNet's pool1 / pool2,
// x [100,20,24,24] / [100,50,8,8]: one invocation per output in 4500 / 1250 workgroups 7-9 / 2-5,
// row items 2.2-2.6 / 0.9-1.1.
const WG = 64;

/** A pooling kernel's WGSL: its own source, then the shape struct both pooling kernels share. */
export function maxpoolSource(source: string): string {
  return `${source}\n${maxpoolParams}`;
}

export const maxpoolForwardDef: KernelDef = {
  name: 'maxpool_forward',
  source: maxpoolSource(raw),
  bindings: ['read', 'rw', 'rw', 'uniform'],
  uniforms: maxpoolUniforms,
};

export class MaxPoolForward {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<MaxPoolForward> {
    return new MaxPoolForward(gpu, await Kernel.load(gpu, maxpoolForwardDef, { WG }));
  }

  /**
   * y [N,C,P,Q] (f32) and argmax [N,C,P,Q] (u32): argmax is the chosen element's index h*W+w within its
   * own input plane; ties keep the first maximum in row-major window order.
   */
  plan(x: BufferRef, y: BufferRef, argmax: BufferRef, shape: MaxPoolShape, label = 'maxpool_forward'): Dispatch {
    const { N, C, P } = maxpoolOutputShape(shape);
    // One item per output row, grid-stride over a capped launch (see maxpool_forward.wgsl).
    return this.kernel.plan(label, [x, y, argmax], maxpoolUniformValues(shape), workgroupsCapped(this.gpu, N * C * P, WG));
  }
}
