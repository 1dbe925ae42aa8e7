// Gradient of a convolution's bias: db [K] = sum over n, p, q of (ex_weight[n] *) dy [N,K,P,Q].
import raw from '../shaders/conv2d_bias_grad.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';
import { conv2dSource, conv2dUniforms, conv2dUniformValues, type Conv2dShape } from './conv2d_forward';

const WG = 64;

export const conv2dBiasGradDef: KernelDef = {
  name: 'conv2d_bias_grad',
  source: conv2dSource(raw),
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: conv2dUniforms,
};

export interface Conv2dBiasGradOptions {
  /** Scale example n's contribution by ex_weight[n] (a length-N f32 buffer). Default false. */
  exWeights?: boolean;
}

export class Conv2dBiasGrad {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernel: Kernel,
    readonly exWeights: boolean,
  ) {}

  static async create(gpu: Gpu, options: Conv2dBiasGradOptions = {}): Promise<Conv2dBiasGrad> {
    const exWeights = options.exWeights ?? false;
    const kernel = await Kernel.load(gpu, conv2dBiasGradDef, { WG, EX_WEIGHTS: exWeights ? 1 : 0 });
    return new Conv2dBiasGrad(gpu, kernel, exWeights);
  }

  /**
   * Overwrites db [K]. Only N, K and the output size matter in `shape` (the conv's own shape is
   * accepted as is). `exWeight` [N] is required when created with exWeights and null otherwise.
   */
  plan(dy: BufferRef, exWeight: BufferRef | null, db: BufferRef, shape: Conv2dShape, label = 'conv2d_bias_grad'): Dispatch {
    if ((exWeight === null) === this.exWeights) {
      throw new Error(`${label}: ${this.exWeights ? 'this variant needs an ex_weight buffer' : 'created without exWeights, so ex_weight must be null'}`);
    }
    return this.kernel.plan(label, [dy, exWeight ?? this.gpu.placeholder, db], conv2dUniformValues(shape), [shape.K, 1, 1]);
  }
}
