// GPU-side accumulation of per-step statistics (read back only every K steps).
import source from '../shaders/step_stats.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';

/** Slots of the stats buffer written by step_stats.wgsl. */
export const STAT = {
  trainLoss: 0,
  valLoss: 1,
  weightedLoss: 2,
  zeroWeights: 3,
  maxWeight: 4,
  steps: 5,
  nonFinite: 6,
  flaggedWeight: 7,
  /** The first step of the window (1-based) with a non-finite loss or weight; 0: none. */
  firstNonFinite: 8,
  /** What was non-finite at that step: NON_FINITE bits. */
  nonFiniteKinds: 9,
} as const;
export const STAT_COUNT = 10;

/** Bits of STAT.nonFiniteKinds. */
export const NON_FINITE = { trainLoss: 1, weight: 2, valLoss: 4 } as const;

export const stepStatsDef: KernelDef = {
  name: 'step_stats',
  source,
  bindings: ['read', 'read', 'read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['m', 'u32'],
  ],
};

export class StepStats {
  private constructor(private readonly kernel: Kernel) {}

  static async create(gpu: Gpu): Promise<StepStats> {
    return new StepStats(await Kernel.load(gpu, stepStatsDef));
  }

  /** m = 0 when the step has no validation loss (valLoss is then any buffer). */
  plan(io: { trainLoss: BufferRef; w: BufferRef; valLoss: BufferRef; flag: BufferRef; stats: BufferRef }, n: number, m: number, label = 'step_stats'): Dispatch {
    return this.kernel.plan(label, [io.trainLoss, io.w, io.valLoss, io.flag, io.stats], { n, m }, [1]);
  }
}
