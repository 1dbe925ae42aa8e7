// GPU timing for the benchmarks. Where the device has 'timestamp-query', each sample is one compute
// pass with begin/end timestamps and the figure is the median over samples. Otherwise all repetitions
// go into one pass of one command buffer and the figure is the wall time to onSubmittedWorkDone()
// divided by the count (the submit and wake-up overhead is then spread over the repetitions). The
// run's JSON says which was used.
//
// Quantised timestamps: Dawn rounds timestamps down to a multiple of 2^15 ns (~0.0328 ms) unless its
// device toggle 'timestamp_quantization' is disabled (dawn.node: create(['disable-dawn-features=
// timestamp_quantization'])). On a fast GPU one dispatch is far shorter than that quantum, so a pass
// holding one dispatch reads 0 or one quantum. The timer therefore measures the resolution it actually
// gets (the GCD of the differences between the raw timestamps it has read; 1 ns where there is no
// quantisation; GpuTimer reads a few spread-out ones first) and, while a
// sample pass lasts under TARGET_QUANTA quanta, records R back-to-back executions of the same
// dispatches inside that ONE pass, R growing geometrically up to MAX_REPS, and reports pass time / R.
// A time still under one quantum at MAX_REPS is reported as an upper bound (resolution / R) with
// `bound: true`; printers show it as "< X ms" and rates from it as "> Y" (fmtMs, fmtRate), and ratios
// from it as "n/a". Where timestamps are not quantised and one execution already lasts 20 ns or more,
// R stays 1 and the figure is exactly what it was before.
//
// On a CPU adapter (lavapipe, SwiftShader) the driver's threads live in this process, so the CPU time
// the process spends per repetition is a second figure, one that other jobs on the machine barely
// move (their load stretches wall time, not the work done here). Node only (process.cpuUsage).
import type { Gpu } from '../../src/gpu/gpu';
import type { Dispatch } from '../../src/kernels/kernel';

export type TimerKind = 'timestamp-query' | 'wall-clock';

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Most timestamp pairs recorded per submit (a query set holds at most 4096 queries). */
const MAX_PAIRS = 512;

/** A sample pass should last at least this many timer quanta (resolution steps). */
export const TARGET_QUANTA = 20;
/** Most back-to-back executions of the timed dispatches in one sample pass. */
export const MAX_REPS = 4096;
/** Once batched (R > 1): about this many executions per measurement, and at least MIN_BATCHED_SAMPLES passes. */
const BATCHED_EXECUTIONS = 4096;
const MIN_BATCHED_SAMPLES = 5;

/** Process CPU milliseconds (user + system, all threads) so far, or null outside Node. */
export function cpuNow(): number | null {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p?.cpuUsage) return null;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface Timing {
  /** Median wall (timestamp) milliseconds per execution; an upper bound where `ms_bound`. */
  ms: number;
  /** Process CPU milliseconds per execution (null where unknown). */
  cpu_ms: number | null;
  /** True when the execution was shorter than the timer resolves even at MAX_REPS: `ms` is then an upper bound. */
  ms_bound: boolean;
  /** Executions of the dispatches per timed pass (timestamp queries; 1 unless the timer is coarse) or per wall batch. */
  reps: number;
  /** Resolution of `ms` (timer quantum / reps), ms; null for the wall clock. */
  resolution_ms: number | null;
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b) [a, b] = [b, a % b];
  return a;
};

/**
 * The timer's effective resolution: the greatest common divisor of the differences between the raw
 * timestamps seen (ns) (each one's distance from the first). Dawn's quantised timestamps are all
 * multiples of 2^15 ns, so the GCD settles at 32768 once a few distinct values have been seen;
 * un-quantised nanosecond timestamps bring it to 1 within a few values. 0 while all were equal.
 */
export class TimestampResolution {
  private g = 0n;
  private ref: bigint | null = null;

  observe(stamps: Iterable<bigint>): void {
    for (const s of stamps) {
      if (s <= 0n) continue;
      if (this.ref === null) this.ref = s;
      const d = s > this.ref ? s - this.ref : this.ref - s;
      if (d > 0n) this.g = gcd(this.g, d);
    }
  }

  /** Nanoseconds (0: unknown). */
  get ns(): number {
    return Number(this.g);
  }
}

/**
 * Records `count` sample passes, each holding `reps` back-to-back executions of the timed work, and
 * returns their raw timestamps in ns: begin and end of pass 0, of pass 1, ...
 */
export type PassSampler = (reps: number, count: number) => Promise<bigint[]>;

export interface BatchedTiming {
  /** Milliseconds per execution (median pass time / reps), or the upper bound resolution / reps. */
  ms: number;
  ms_bound: boolean;
  reps: number;
  /** Executions run in all, the probing passes included (the divisor for CPU time). */
  executions: number;
  resolution_ms: number;
}

/**
 * Times work through `sample` with as many executions per pass as the timer's resolution needs:
 * R = 1 first (with `iters` samples); while the median pass is under `targetQuanta` quanta, R grows
 * geometrically (x2 to x64, aiming at 1.25 x the target) up to `maxReps`.
 */
export async function timeBatched(sample: PassSampler, iters: number, resolution: TimestampResolution, opts: { targetQuanta?: number; maxReps?: number } = {}): Promise<BatchedTiming> {
  const targetQuanta = opts.targetQuanta ?? TARGET_QUANTA;
  const maxReps = opts.maxReps ?? MAX_REPS;
  let reps = 1;
  let executions = 0;
  for (;;) {
    const count = reps === 1 ? iters : Math.min(iters, Math.max(MIN_BATCHED_SAMPLES, Math.ceil(BATCHED_EXECUTIONS / reps)));
    const stamps = await sample(reps, count);
    resolution.observe(stamps);
    executions += reps * count;
    const passes: number[] = [];
    for (let i = 0; i + 1 < stamps.length; i += 2) passes.push(Math.max(0, Number(stamps[i + 1] - stamps[i])));
    const med = median(passes);
    const q = Math.max(1, resolution.ns);
    const target = targetQuanta * q;
    if (med >= target || reps >= maxReps) {
      const bound = !(med >= q);
      return { ms: (bound ? q : med) / reps / 1e6, ms_bound: bound, reps, executions, resolution_ms: q / reps / 1e6 };
    }
    const factor = med > 0 ? Math.ceil((1.25 * target) / med) : 2 * targetQuanta;
    reps = Math.min(maxReps, reps * Math.min(64, Math.max(2, factor)));
  }
}

// ---- printing: bounds as "< X" / "> Y", never Infinity or NaN ----------------------------------------

/** `v` with `digits` decimals, or two significant digits where that would print as zero. */
function num(v: number, digits: number): string {
  if (v === 0 || Math.abs(v) >= 10 ** -digits) return v.toFixed(digits);
  return Math.abs(v) < 1e-4 ? v.toExponential(1) : v.toPrecision(2);
}

/** Milliseconds for a table: "n/a" when missing or not finite, "< X" when `bound` (an upper bound). */
export function fmtMs(ms: number | null | undefined, bound = false, digits = 3): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'n/a';
  return bound ? `< ${num(ms, digits)}` : num(ms, digits);
}

/** A rate (GFLOP/s) from a time: "> Y" when the time was an upper bound. */
export function fmtRate(rate: number | null | undefined, bound = false, digits = 2): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return 'n/a';
  return bound ? `> ${num(rate, digits)}` : num(rate, digits);
}

/** a / b, or null when either is a bound, missing, zero or not finite (printed "n/a"). */
export function ratio(a: number | null | undefined, aBound: boolean, b: number | null | undefined, bBound: boolean): number | null {
  if (aBound || bBound || a === null || a === undefined || b === null || b === undefined) return null;
  const r = a / b;
  return Number.isFinite(r) && r > 0 ? r : null;
}

export class GpuTimer {
  readonly kind: TimerKind;
  /** The timestamp resolution seen so far (timestamp queries only). */
  readonly resolution = new TimestampResolution();
  private calibrated = false;

  constructor(
    private readonly gpu: Gpu,
    forceWall = false,
  ) {
    this.kind = !forceWall && gpu.features.has('timestamp-query') ? 'timestamp-query' : 'wall-clock';
  }

  /**
   * Median milliseconds of one execution of `dispatches` (recorded in order), after `warmup`
   * untimed executions; `iters` timed samples (timestamp passes, R executions each where the timer
   * needs it) or `iters` executions in wall batches.
   */
  async time(dispatches: readonly Dispatch[], iters: number, warmup = 1): Promise<Timing> {
    if (warmup > 0) await this.wall(dispatches, warmup);
    if (this.kind === 'timestamp-query' && !this.calibrated) {
      // Empty passes in eight submits, each waited for, so that the stamps lie many quanta apart with
      // unrelated remainders: enough for the GCD to show the quantum (or its absence).
      for (let i = 0; i < 8; i++) this.resolution.observe(await this.stamped([], 2, 1));
      this.calibrated = true;
    }
    const c0 = cpuNow();
    let ms: number;
    let executions = iters;
    let extra: Pick<Timing, 'ms_bound' | 'reps' | 'resolution_ms'>;
    if (this.kind === 'timestamp-query') {
      const t = await timeBatched(async (reps, count) => {
        const stamps: bigint[] = [];
        for (let done = 0; done < count; done += MAX_PAIRS) stamps.push(...(await this.stamped(dispatches, Math.min(MAX_PAIRS, count - done), reps)));
        return stamps;
      }, iters, this.resolution);
      ms = t.ms;
      executions = t.executions;
      extra = { ms_bound: t.ms_bound, reps: t.reps, resolution_ms: t.resolution_ms };
    } else {
      // Wall clock: a few batches so that a hiccup from another job on the machine is voted out.
      const batches = Math.min(iters, 3);
      const per = Math.max(1, Math.round(iters / batches));
      const samples: number[] = [];
      for (let b = 0; b < batches; b++) samples.push((await this.wall(dispatches, per)) / per);
      ms = median(samples);
      executions = batches * per;
      extra = { ms_bound: false, reps: per, resolution_ms: null };
    }
    const c1 = cpuNow();
    return { ms, cpu_ms: c0 === null || c1 === null ? null : (c1 - c0) / executions, ...extra };
  }

  /** Total wall milliseconds of `count` executions in one command buffer, to onSubmittedWorkDone. */
  async wall(dispatches: readonly Dispatch[], count: number): Promise<number> {
    const encoder = this.gpu.device.createCommandEncoder({ label: 'bench.wall' });
    const pass = encoder.beginComputePass({ label: 'bench.wall' });
    for (let i = 0; i < count; i++) record(pass, dispatches);
    pass.end();
    const cmd = encoder.finish();
    const t0 = performance.now();
    this.gpu.submit([cmd]);
    await this.gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  }

  /** Raw begin/end timestamps (ns) of `count` passes, each recording `dispatches` `reps` times. */
  private async stamped(dispatches: readonly Dispatch[], count: number, reps: number): Promise<bigint[]> {
    const { device } = this.gpu;
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * count });
    const resolve = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder({ label: 'bench.stamped' });
    for (let i = 0; i < count; i++) {
      const pass = encoder.beginComputePass({
        label: 'bench.stamped',
        timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      for (let r = 0; r < reps; r++) record(pass, dispatches);
      pass.end();
    }
    encoder.resolveQuerySet(querySet, 0, 2 * count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, 16 * count);
    this.gpu.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const ns = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    for (const b of [resolve, staging]) b.destroy();
    querySet.destroy();
    return [...ns];
  }
}

function record(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    if (d.workgroups[0] && d.workgroups[1] && d.workgroups[2]) pass.dispatchWorkgroups(...d.workgroups);
  }
}
