// Evaluation: adds argmax errors and summed cross-entropy of n rows of logits to out[0], out[1].
import source from '../shaders/count_errors.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';

export const countErrorsDef: KernelDef = {
  name: 'count_errors',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['k', 'u32'],
  ],
};

export class CountErrors {
  private constructor(private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<CountErrors> {
    return new CountErrors(await Kernel.load(gpu, countErrorsDef));
  }

  plan(logits: BufferRef, labels: BufferRef, out: BufferRef, n: number, k: number, label = 'count_errors'): Dispatch {
    return this.kernel.plan(label, [logits, labels, out], { n, k }, [1]);
  }
}
