// The start-up measurement behind a kernel's variant choice (src/gpu/kernel_choices.ts): compile each
// candidate, run it once, then time it on a few representative shapes in rounds that alternate the
// candidates (so that load from other jobs on a shared machine hits them alike), and name the one with
// the lowest median, unless it beats the default by less than TUNE_MARGIN. It runs once per adapter
// (the choice is cached), never inside a training step, and frees every buffer it made.
import type { Gpu } from '../gpu/gpu';
import type { Measurement, VariantTiming } from '../gpu/kernel_choices';
import { encodeDispatches, type Dispatch } from './kernel';

export interface TuneCandidate {
  variant: string;
  /** Compiles the candidate's pipelines (timed as its compile time). */
  compile(): Promise<void>;
  /** Plans the measured dispatches (one or more shapes) over buffers the tuner owns. */
  plan(): Dispatch[];
}

export interface TuneOptions {
  /** The shapes, for the record. */
  shapes: string;
  /** Wall milliseconds aimed at per timed batch of one candidate. */
  batchMs?: number;
  /** Timed rounds (each times every remaining candidate once). */
  rounds?: number;
  /**
   * A candidate whose second run took more than this many times the fastest second run is not timed
   * further (it cannot win; on SwiftShader a slow form would otherwise cost seconds).
   */
  dropFactor?: number;
  /** See pickVariant. */
  margin?: number;
}

/**
 * How much faster than the default (the first timed candidate) another form must measure to be
 * chosen. On a loaded machine two forms within a few percent swap places from one measurement to the
 * next (lavapipe, load 2-5: matmul's blocked and scalar forms at 22.3 and 21.0 ms, and once a form that
 * is 2x slower on the training shapes measured 16% faster): the cached choice would then depend on the
 * load at the first run, for a gain that is noise. The forms that matter differ by 3x or more
 * (SwiftShader's written-out blocks, a GPU's tiled matmul).
 */
export const TUNE_MARGIN = 0.1;

/**
 * The variant a measurement names: the fastest timed candidate, unless it is not the default and
 * beats the default's median by less than `margin` (a fraction), in which case the default stays.
 * `timings` are in candidate order; untimed ones (ms null) are ignored.
 */
export function pickVariant(timings: readonly VariantTiming[], margin = TUNE_MARGIN): string {
  const timed = timings.filter((t) => t.ms !== null);
  if (!timed.length) throw new Error('no candidate was timed');
  const fallback = timed[0];
  const best = timed.reduce((a, b) => (b.ms! < a.ms! ? b : a));
  return best.ms! < (1 - margin) * fallback.ms! ? best.variant : fallback.variant;
}

/** The operand buffers a kernel's measurement runs on, filled with a fixed pattern, freed together. */
export class TuneBuffers {
  private readonly buffers: GPUBuffer[] = [];
  constructor(private readonly gpu: Gpu) {}

  /** `floats` values: a fixed pattern in [-0.5, 0.5) for inputs, zeros for outputs. */
  make(label: string, floats: number, fill: boolean): GPUBuffer {
    const data = new Float32Array(floats);
    if (fill) for (let i = 0; i < floats; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    const b = this.gpu.upload(label, data);
    this.buffers.push(b);
    return b;
  }

  release(): void {
    for (const b of this.buffers.splice(0)) this.gpu.destroy(b);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Wall milliseconds of `count` copies of the dispatches in one submit, to completion. */
async function timeBatch(gpu: Gpu, dispatches: readonly Dispatch[], count: number): Promise<number> {
  const encoder = gpu.device.createCommandEncoder({ label: 'tune' });
  const all: Dispatch[] = [];
  for (let i = 0; i < count; i++) all.push(...dispatches);
  encodeDispatches(encoder, all, 'tune');
  const t0 = performance.now();
  gpu.submit([encoder.finish()]);
  await gpu.idle();
  return performance.now() - t0;
}

/**
 * Measures the candidates (the first is the default, kept when a later one fails to compile) and
 * returns the fastest. `release` frees what the candidates' plans were made over; it runs even on error.
 */
export async function tuneVariants(gpu: Gpu, candidates: readonly TuneCandidate[], options: TuneOptions, release: () => void): Promise<Measurement> {
  const t0 = performance.now();
  const { batchMs = 12, rounds = 3, dropFactor = 4, margin = TUNE_MARGIN } = options;
  const timings: VariantTiming[] = [];
  const live: { c: TuneCandidate; t: VariantTiming; dispatches: Dispatch[]; second: number }[] = [];
  try {
    // Every candidate compiles at once: drivers that compile on several threads finish sooner
    // (SwiftShader in Node, four filter- and data-gradient forms: 3.7-3.9 s one after another, 2.0-2.7 s
    // at once). A candidate's compile time runs from that common start to its pipelines being ready.
    const tc = performance.now();
    const compiled = await Promise.all(
      candidates.map(async (c) => {
        try {
          await c.compile();
          return { ms: performance.now() - tc, error: null };
        } catch (e) {
          return { ms: performance.now() - tc, error: e as Error };
        }
      }),
    );
    for (const [i, c] of candidates.entries()) {
      const t: VariantTiming = { variant: c.variant, compileMs: compiled[i].ms, ms: null };
      timings.push(t);
      const error = compiled[i].error;
      if (error) {
        t.note = `failed to compile: ${error.message.split('\n')[0]}`;
        continue;
      }
      const dispatches = c.plan();
      // The first run includes lavapipe's machine-code compile (done at first dispatch); the second
      // is the one the others are compared with.
      t.firstMs = await timeBatch(gpu, dispatches, 1);
      live.push({ c, t, dispatches, second: await timeBatch(gpu, dispatches, 1) });
    }
    if (!live.length) throw new Error('no candidate compiled');
    const fastestSecond = Math.min(...live.map((l) => l.second));
    // A candidate over dropFactor x the fastest runs once more before it is dropped: one run caught
    // by another job's burst once dropped the form that was 1.5x faster on a quiet machine.
    for (const l of live) if (l.second > dropFactor * fastestSecond) l.second = Math.min(l.second, await timeBatch(gpu, l.dispatches, 1));
    const timed = live.filter((l) => {
      if (l.second <= dropFactor * fastestSecond) return true;
      l.t.note = `second and third runs over ${dropFactor}x the fastest`;
      return false;
    });
    const samples = new Map(timed.map((l) => [l, [] as number[]]));
    const reps = new Map(timed.map((l) => [l, Math.max(1, Math.min(64, Math.round(batchMs / Math.max(l.second, 0.05))))]));
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round: no candidate always runs right after the same one.
      for (let i = 0; i < timed.length; i++) {
        const l = timed[(i + r) % timed.length];
        const n = reps.get(l)!;
        samples.get(l)!.push((await timeBatch(gpu, l.dispatches, n)) / n);
      }
    }
    for (const l of timed) l.t.ms = median(samples.get(l)!);
    return { variant: pickVariant(timings, margin), shapes: options.shapes, candidates: timings, totalMs: performance.now() - t0 };
  } finally {
    for (const l of live) for (const d of l.dispatches) d.destroy();
    release();
  }
}
