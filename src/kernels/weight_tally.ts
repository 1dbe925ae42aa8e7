// Per-example tally of a run's weights (weight_tally.wgsl): for each training example, the sum of
// the weights it got, how often it was drawn, and how often with weight 0, accumulated on the GPU by
// every step (no readback) and read once at the end (Trainer.weightTally).
import source from '../shaders/weight_tally.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type KernelDef } from './kernel';
import type { GatherDispatch } from './gather_batch';

const WG = 64;

/** Floats per example in the tally buffer: Σ weight, draws, zero-weight draws. */
export const TALLY_FIELDS = 3;

export const weightTallyDef: KernelDef = {
  name: 'weight_tally',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['offset', 'u32'],
  ],
};

export class WeightTally {
  private constructor(
    private readonly gpu: Gpu,
    private readonly kernel: Kernel,
  ) {}

  static async create(gpu: Gpu): Promise<WeightTally> {
    return new WeightTally(gpu, await Kernel.load(gpu, weightTallyDef));
  }

  /**
   * Adds the weights `w` [n] of the minibatch indices[offset .. offset + n) to `tally` [examples x 3].
   * Like a gather, setBatch(offset) points it at the step's batch.
   */
  plan(indices: BufferRef, w: BufferRef, tally: BufferRef, n: number, label = 'weight_tally'): GatherDispatch {
    const d = this.kernel.plan(label, [indices, w, tally], { n, offset: 0 }, workgroups1d(this.gpu, n, WG));
    return { ...d, setBatch: (offset: number) => d.setUniforms({ n, offset }) };
  }
}
