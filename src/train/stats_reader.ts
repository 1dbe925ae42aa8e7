// Reads the GPU-accumulated step statistics without stalling the queue: at a logging step the step's
// own command buffer copies the stats into a MAP_READ staging buffer (and clears them); mapAsync is
// started after that submit and awaited by whoever wants the numbers, later. A small ring of staging
// buffers lets several logging points be in flight.
import type { Gpu } from '../gpu/gpu';
import { NON_FINITE, STAT, STAT_COUNT } from '../kernels/step_stats';

export interface StepStatsSnapshot {
  /** Training step (1-based) at which the snapshot was taken. */
  step: number;
  steps: number;
  /** Mean losses per step; NaN when the window saw non-finite losses or weights (nonFinite > 0). */
  trainLoss: number;
  valLoss: number;
  weightedLoss: number;
  /** Mean number of zero-weight examples per step. */
  zeroWeights: number;
  maxWeight: number;
  nonFinite: number;
  /** Mean weight per step given to flagged (e.g. mislabelled) examples. */
  flaggedWeight: number;
  /** The first step (1-based, as `step`) of the window with a non-finite value; 0: none. */
  firstNonFinite: number;
  /** What was non-finite at that step (NON_FINITE bits; nonFiniteQuantity names them). */
  nonFiniteKinds: number;
}

/** "training loss", "example weights and validation loss": the quantities of NON_FINITE bits. */
export function nonFiniteQuantity(kinds: number): string {
  const names = [
    [NON_FINITE.trainLoss, 'training loss'],
    [NON_FINITE.weight, 'example weights'],
    [NON_FINITE.valLoss, 'validation loss'],
  ] as const;
  const found = names.filter(([bit]) => kinds & bit).map(([, name]) => name);
  return found.length ? found.join(' and ') : 'losses or weights';
}

export class StatsReader {
  private readonly ring: GPUBuffer[];

  get staging(): readonly GPUBuffer[] {
    return this.ring;
  }
  private readonly busy: (Promise<StepStatsSnapshot> | null)[];
  private next = 0;

  constructor(private readonly gpu: Gpu, readonly stats: GPUBuffer, depth = 3) {
    this.ring = Array.from({ length: depth }, (_, i) =>
      gpu.buffer(`stats.staging${i}`, STAT_COUNT * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    );
    this.busy = this.ring.map(() => null);
  }

  /** Waits (only if every staging buffer is still in flight) and returns the slot to copy into. */
  async reserve(): Promise<number> {
    const slot = this.next;
    const pending = this.busy[slot];
    if (pending) await pending;
    return slot;
  }

  /** Records the copy-and-clear into the step's encoder (outside any compute pass). */
  record(encoder: GPUCommandEncoder, slot: number): void {
    encoder.copyBufferToBuffer(this.stats, 0, this.ring[slot], 0, STAT_COUNT * 4);
    encoder.clearBuffer(this.stats);
  }

  /** Call right after the submit that contains record(slot): starts the asynchronous map. */
  collect(slot: number, step: number): Promise<StepStatsSnapshot> {
    const buf = this.ring[slot];
    this.gpu.counters.readbacks++;
    const p = buf.mapAsync(GPUMapMode.READ).then(
      () => {
        const v = new Float32Array(buf.getMappedRange().slice(0));
        buf.unmap();
        this.busy[slot] = null;
        return snapshot(v, step);
      },
      async (e: unknown) => {
        this.busy[slot] = null;
        // A lost device rejects the map with a bare AbortError: report the loss and its reason instead.
        throw await this.gpu.failure(e);
      },
    );
    this.busy[slot] = p;
    this.next = (slot + 1) % this.ring.length;
    return p;
  }
}

/** The snapshot of statistics `v` (STAT slots) accumulated over the steps up to `step` (1-based). */
export function snapshot(v: Float32Array, step: number): StepStatsSnapshot {
  const steps = Math.max(1, v[STAT.steps]);
  // The GPU sums only finite values and counts the others: with any non-finite value in the window
  // the sums are no mean loss at all, so they read NaN rather than a misleading (often 0) number.
  const mean = (sum: number) => (v[STAT.nonFinite] > 0 ? NaN : sum / steps);
  return {
    step,
    steps: v[STAT.steps],
    trainLoss: mean(v[STAT.trainLoss]),
    valLoss: mean(v[STAT.valLoss]),
    weightedLoss: mean(v[STAT.weightedLoss]),
    zeroWeights: v[STAT.zeroWeights] / steps,
    maxWeight: v[STAT.maxWeight],
    nonFinite: v[STAT.nonFinite],
    flaggedWeight: v[STAT.flaggedWeight] / steps,
    firstNonFinite: v[STAT.firstNonFinite] > 0 ? step - v[STAT.steps] + v[STAT.firstNonFinite] : 0,
    nonFiniteKinds: v[STAT.nonFiniteKinds],
  };
}
