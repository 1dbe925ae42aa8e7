// One SGD-with-momentum step over a flat parameter buffer, PyTorch convention (torch.optim.SGD with
// dampening 0, no Nesterov, weight decay added to the gradient):
//   v = momentum * v + (g + weightDecay * p);   p = p - lr * v
// v must start at zero (then the first step sets v = g + weightDecay * p, as PyTorch does).
// The hyperparameters are uniforms: change lr between steps with
//   dispatch.setUniforms(SgdMomentum.uniforms(n, { ...hp, lr }))
// which rewrites the dispatch's small uniform buffer and takes effect at the next submit.
import source from '../shaders/sgd_momentum.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { UniformValues } from '../gpu/uniforms';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export interface SgdHyperparams {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export const sgdMomentumDef: KernelDef = {
  name: 'sgd_momentum',
  source,
  bindings: ['rw', 'rw', 'read', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['lr', 'f32'],
    ['momentum', 'f32'],
    ['weight_decay', 'f32'],
  ],
};

export class SgdMomentum {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<SgdMomentum> {
    return new SgdMomentum(gpu, await Kernel.load(gpu, sgdMomentumDef, { WG }));
  }

  /** The uniform values of a step over n parameters (for plan and Dispatch.setUniforms). */
  static uniforms(n: number, hp: SgdHyperparams): UniformValues {
    return { n, lr: hp.lr, momentum: hp.momentum, weight_decay: hp.weightDecay };
  }

  /** p and v are updated in place; g (the gradient) is only read. n must stay the planned size. */
  plan(p: BufferRef, v: BufferRef, g: BufferRef, n: number, hp: SgdHyperparams, label = 'sgd_momentum'): Dispatch {
    return this.kernel.plan(label, [p, v, g], SgdMomentum.uniforms(n, hp), workgroupsCapped(this.gpu, n, WG));
  }
}
