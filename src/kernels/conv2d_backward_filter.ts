// Gradient of conv2d with respect to its filter: dw [K,C,R,S] from x [N,C,H,W] and dy [N,K,P,Q],
// optionally weighting example n's contribution by ex_weight[n] (per-example weighted gradients).
import raw from '../shaders/conv2d_backward_filter.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';
import { checkConv2dShape, conv2dUniforms, conv2dUniformValues, conv2dSource, type Conv2dShape } from './conv2d_forward';

// Register block: BK filters x BJ (c,r,s) columns per invocation. CPU ms on lavapipe at LeNet's batch
// of 100 (conv1 dw [20,1,5,5] / conv2 dw [50,20,5,5]), best of 15: 4x4 25-27 / 76-96, 5x5 20 / 97-101,
// 4x8 21-23 / 77-84, 10x4 15-16 / 74, 10x5 12-13 / 48-64, 10x8 7-11 / 51-62, 2x5 29-33 / 139-149.
// Since then the block's loops are written so that they unroll (no 80-long loop, no break): 0.8-1.0
// of the time before, within the noise of a shared machine. Tried and dropped (no gain over this on
// conv2, A/B medians): the filter block uniform per workgroup (dy loads uniform) with 10x8 and 25x8
// blocks; one invocation per filter row (c, r) or per channel c with a register window along q.
const BK = 10;
const BJ = 8;
const WG = 64;

export const conv2dBackwardFilterDef: KernelDef = {
  name: 'conv2d_backward_filter',
  source: conv2dSource(raw, { BK, BJ }),
  bindings: ['read', 'read', 'read', 'rw', 'uniform'],
  uniforms: conv2dUniforms,
};

export interface Conv2dBackwardFilterOptions {
  /** Scale example n's contribution by ex_weight[n] (a length-N f32 buffer). Default false. */
  exWeights?: boolean;
}

export class Conv2dBackwardFilter {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernel: Kernel,
    readonly exWeights: boolean,
  ) {}

  static async create(gpu: Gpu, options: Conv2dBackwardFilterOptions = {}): Promise<Conv2dBackwardFilter> {
    const exWeights = options.exWeights ?? false;
    const kernel = await Kernel.load(gpu, conv2dBackwardFilterDef, { WG, EX_WEIGHTS: exWeights ? 1 : 0 });
    return new Conv2dBackwardFilter(gpu, kernel, exWeights);
  }

  /**
   * Overwrites dw [K,C,R,S] (no clear needed). `exWeight` [N] is required when created with exWeights
   * and must be null otherwise; examples with weight exactly 0 are skipped. dw must be in a GPUBuffer other than x's and dy's.
   */
  plan(x: BufferRef, dy: BufferRef, exWeight: BufferRef | null, dw: BufferRef, shape: Conv2dShape, label = 'conv2d_backward_filter'): Dispatch {
    if ((exWeight === null) === this.exWeights) {
      throw new Error(`${label}: ${this.exWeights ? 'this variant needs an ex_weight buffer' : 'created without exWeights, so ex_weight must be null'}`);
    }
    checkConv2dShape(shape);
    const { C, K, R, S } = shape;
    const invocations = Math.ceil((C * R * S) / BJ) * Math.ceil(K / BK);
    return this.kernel.plan(label, [x, dy, exWeight ?? this.gpu.placeholder, dw], conv2dUniformValues(shape), workgroups1d(this.gpu, invocations, WG));
  }
}
