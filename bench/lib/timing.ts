// GPU timing for the benchmarks. Where the device has 'timestamp-query', every repetition of the
// timed dispatches runs in its own compute pass with begin/end timestamps, so each repetition is one
// sample and the figure is their median. Otherwise all repetitions go into one pass of one command
// buffer and the figure is the wall time to onSubmittedWorkDone() divided by the count (the submit
// and wake-up overhead is then spread over the repetitions). The run's JSON says which was used.
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

/** Process CPU milliseconds (user + system, all threads) so far, or null outside Node. */
export function cpuNow(): number | null {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p?.cpuUsage) return null;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface Timing {
  /** Median wall (timestamp) milliseconds per execution. */
  ms: number;
  /** Process CPU milliseconds per execution (null where unknown). */
  cpu_ms: number | null;
}

export class GpuTimer {
  readonly kind: TimerKind;

  constructor(
    private readonly gpu: Gpu,
    forceWall = false,
  ) {
    this.kind = !forceWall && gpu.features.has('timestamp-query') ? 'timestamp-query' : 'wall-clock';
  }

  /**
   * Median milliseconds of one execution of `dispatches` (recorded in order), after `warmup`
   * untimed executions; `iters` timed executions in all.
   */
  async time(dispatches: readonly Dispatch[], iters: number, warmup = 1): Promise<Timing> {
    if (warmup > 0) await this.wall(dispatches, warmup);
    const c0 = cpuNow();
    let ms: number;
    if (this.kind === 'timestamp-query') {
      const samples: number[] = [];
      for (let done = 0; done < iters; done += MAX_PAIRS) samples.push(...(await this.stamped(dispatches, Math.min(MAX_PAIRS, iters - done))));
      ms = median(samples);
    } else {
      // Wall clock: a few batches so that a hiccup from another job on the machine is voted out.
      const batches = Math.min(iters, 3);
      const per = Math.max(1, Math.round(iters / batches));
      const samples: number[] = [];
      for (let b = 0; b < batches; b++) samples.push((await this.wall(dispatches, per)) / per);
      ms = median(samples);
      iters = batches * per;
    }
    const c1 = cpuNow();
    return { ms, cpu_ms: c0 === null || c1 === null ? null : (c1 - c0) / iters };
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

  private async stamped(dispatches: readonly Dispatch[], count: number): Promise<number[]> {
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
      record(pass, dispatches);
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
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(Number(ns[2 * i + 1] - ns[2 * i]) / 1e6);
    return out;
  }
}

function record(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    if (d.workgroups[0] && d.workgroups[1] && d.workgroups[2]) pass.dispatchWorkgroups(...d.workgroups);
  }
}
