// Per-example softmax cross-entropy over row-major [n, k] logits with u32 labels:
//   loss[i] = -log softmax(z_i)[y_i]  (unweighted),  dlogits[i, :] = ex_weight[i] * (softmax(z_i) - onehot(y_i)).
// A label >= k makes that row's loss and dlogits NaN (never an out-of-bounds access), so a corrupted
// label buffer is caught by the NaN check rather than trained on.
import source from '../shaders/softmax_xent.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 64;

export const softmaxXentDef: KernelDef = {
  name: 'softmax_xent',
  source,
  bindings: ['read', 'read', 'read', 'rw', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['k', 'u32'],
    ['beta', 'f32'],
  ],
};

/** The loss of a training phase: cross-entropy, or Reed et al.'s bootstrapping with weight `beta` on the label. */
export type LossSpec = { kind: 'xent' } | { kind: 'bootstrap-soft' | 'bootstrap-hard'; beta: number };

const BOOTSTRAP_CODE = { xent: 0, 'bootstrap-soft': 1, 'bootstrap-hard': 2 } as const;

export class SoftmaxXent {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel, readonly loss: LossSpec) {}

  static async create(gpu: Gpu, loss: LossSpec = { kind: 'xent' }): Promise<SoftmaxXent> {
    if (loss.kind !== 'xent' && !(loss.beta >= 0 && loss.beta <= 1)) throw new Error(`bootstrapping needs beta in [0, 1], got ${loss.beta}`);
    return new SoftmaxXent(gpu, await Kernel.load(gpu, softmaxXentDef, { WG, BOOTSTRAP: BOOTSTRAP_CODE[loss.kind] }), loss);
  }

  /** n rows of k >= 1 classes; loss is [n], dlogits [n, k] (written whole, never accumulated). */
  plan(
    logits: BufferRef,
    labels: BufferRef,
    exWeight: BufferRef,
    loss: BufferRef,
    dlogits: BufferRef,
    n: number,
    k: number,
    label = 'softmax_xent',
  ): Dispatch {
    if (!(k >= 1)) throw new Error(`${label}: softmax over k = ${k} classes (needs k >= 1)`);
    const beta = this.loss.kind === 'xent' ? 1 : this.loss.beta;
    return this.kernel.plan(label, [logits, labels, exWeight, loss, dlogits], { n, k, beta }, workgroups1d(this.gpu, n, WG));
  }
}
