// Early stopping on the GPU (keep_best.wgsl): keep a copy of the model with the best evaluation score.
import source from '../shaders/keep_best.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const keepBestDef: KernelDef = {
  name: 'keep_best',
  source,
  bindings: ['read', 'rw', 'read', 'rw', 'uniform'],
  uniforms: [['n', 'u32']],
};

export class KeepBest {
  private constructor(private readonly gpu: Gpu, private readonly copy: Kernel, private readonly record: Kernel) {}

  static async create(gpu: Gpu): Promise<KeepBest> {
    const [copy, record] = await Promise.all([Kernel.load(gpu, keepBestDef, { WG, STAGE: 0 }), Kernel.load(gpu, keepBestDef, { WG, STAGE: 1 })]);
    return new KeepBest(gpu, copy, record);
  }

  /**
   * The dispatches that keep the best model after an evaluation left `score` = [errors, loss]: one
   * copy per (current → best) pair of n floats, then the score update. `bestScore` starts at
   * [+inf, +inf].
   */
  plan(score: BufferRef, bestScore: BufferRef, copies: readonly { current: BufferRef; best: BufferRef; n: number }[], label = 'keep_best'): Dispatch[] {
    return [
      ...copies.map((c, i) => this.copy.plan(`${label}.copy${i}`, [score, bestScore, c.current, c.best], { n: c.n }, workgroupsCapped(this.gpu, c.n, WG))),
      // The score buffer is bound in the copy slots too: the record stage reads no tensor.
      this.record.plan(`${label}.record`, [score, bestScore, score, this.gpu.placeholder], { n: 0 }, [1]),
    ];
  }
}
