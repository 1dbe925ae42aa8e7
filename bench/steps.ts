// Training-step timings of this engine through its public Trainer: a plain SGD step and an L2RW step
// on the same model, data and optimiser, measured in alternating blocks (so that load from other
// jobs on the machine hits both alike), the L2RW step broken down by the step groups of Algorithm 1,
// and the submit / readback counts per step from the runtime's counters.
import type { Gpu } from '../src/gpu/gpu';
import { buildModel } from '../src/train/models';
import type { ModelSpec } from '../src/train/spec';
import { Trainer } from '../src/train/trainer';
import { benchData, type BenchData } from './data';
import { cpuNow, median, type GpuTimer } from './lib/timing';

export type ModelKind = 'lenet' | 'mlp';

/** The benchmarked models, from the model registry, for the data's input shape. */
export function modelSpec(kind: ModelKind, data: Pick<BenchData, 'inputShape' | 'classes'>): ModelSpec {
  return buildModel(kind, { input: data.inputShape, classes: data.classes, hidden: [256] });
}

/** The optimiser every step benchmark uses, peers included (tf.train.momentum(lr, 0.9)). */
export const OPTIMISER = { lr: 0.01, momentum: 0.9, weightDecay: 0 } as const;
export const BATCH = 100;

export interface StepGroup {
  group: string;
  /** Milliseconds per execution of the group (an upper bound where `ms_bound`). */
  ms: number;
  cpu_ms: number | null;
  /** True when the group was shorter than the timer resolves even batched (bench/lib/timing.ts). */
  ms_bound: boolean;
  /** Executions of the group per timed pass (> 1 where the timestamps are coarse). */
  reps: number;
  dispatches: number;
}

/** Wall and process-CPU milliseconds per step of one timed block. */
export interface BlockTiming {
  ms: number;
  cpu_ms: number | null;
}

export interface StepResult {
  model: ModelKind;
  data: BenchData['source'];
  plain_ms: number;
  l2rw_ms: number;
  l2rw_over_plain: number;
  /** The general L2RW path (tangent pass + weighted backward) on the same model and data. */
  l2rw_general_ms: number;
  l2rw_general_over_plain: number;
  general_samples: BlockTiming[];
  /** The same from process CPU time per step (Node), which load from other jobs barely moves. */
  plain_cpu_ms: number | null;
  l2rw_cpu_ms: number | null;
  l2rw_over_plain_cpu: number | null;
  /** Per-block samples (ms per step), in measurement order. */
  plain_samples: BlockTiming[];
  l2rw_samples: BlockTiming[];
  submits_per_step: number;
  readbacks_per_step: number;
  /** Readbacks at a logging point (the asynchronous statistics copy). */
  readbacks_per_log: number;
  /** The L2RW step's dispatches timed by group, and their sum. */
  l2rw_groups: StepGroup[];
  l2rw_groups_sum_ms: number;
  /** True when some group's time is only an upper bound, so that the sum is one too. */
  l2rw_groups_sum_bound: boolean;
  plain_groups: StepGroup[];
  /** Every dispatch of the L2RW step timed alone (ms), slowest first. */
  l2rw_profile: { label: string; ms: number; cpu_ms: number | null; ms_bound: boolean; reps: number }[];
  dispatches_per_step: { plain: number; l2rw: number };
}

export interface StepBenchOptions {
  warmup: number;
  /** Steps per timed block; each block ends with gpu.idle(). */
  stepsPerBlock: number;
  /** Blocks per method (alternating plain, l2rw). */
  blocks: number;
  /** Timed repetitions of each dispatch group (timestamp samples or wall batches). */
  groupIters: number;
  profile: boolean;
  synthetic?: boolean;
}

/**
 * Times each of Algorithm 1's step groups of a trainer's step (Trainer.stepGroups). Where the
 * timestamps are coarse (Dawn's quantisation) GpuTimer.time runs the group many times per pass.
 */
async function groups(timer: GpuTimer, t: Trainer, iters: number): Promise<StepGroup[]> {
  const all = t.stepGroups().flatMap((g) => g.dispatches);
  const out: StepGroup[] = [];
  for (const g of t.stepGroups()) {
    if (!g.dispatches.length) continue;
    // One whole step first, so that the group starts from the buffers a real step leaves (the
    // weighted filter gradient skips zero weights, which the weights group recomputes each step).
    await timer.wall(all, 1);
    const t = await timer.time(g.dispatches, iters, 1);
    out.push({ group: g.name, ms: t.ms, cpu_ms: t.cpu_ms, ms_bound: t.ms_bound, reps: t.reps, dispatches: g.dispatches.length });
  }
  return out;
}

async function timeSteps(gpu: Gpu, t: Trainer, steps: number): Promise<BlockTiming> {
  const c0 = cpuNow();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await t.trainStep();
  await gpu.idle();
  const ms = (performance.now() - t0) / steps;
  const c1 = cpuNow();
  return { ms, cpu_ms: c0 === null || c1 === null ? null : (c1 - c0) / steps };
}

export function medianOf(xs: readonly BlockTiming[], key: 'ms' | 'cpu_ms'): number | null {
  const v = xs.map((x) => x[key]).filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
}

export async function runStepBench(gpu: Gpu, timer: GpuTimer, kind: ModelKind, opts: StepBenchOptions, log: (s: string) => void = () => {}): Promise<StepResult> {
  const data = await benchData(kind, opts.synthetic);
  const spec = modelSpec(kind, data);
  const total = opts.warmup + opts.blocks * opts.stepsPerBlock + 4;
  // Logging only at the very end, so that the timed blocks contain no statistics readback.
  const logEvery = total + 1;
  const make = (method: 'plain' | 'l2rw', l2rwPath: 'fast' | 'general' = 'fast') =>
    Trainer.create(gpu, spec, { train: data.train, clean: data.clean }, { method, steps: total + 8, batch: BATCH, ...OPTIMISER, seed: 3, logEvery, valBatch: 10, l2rwPath });
  const plain = await make('plain');
  const l2rw = await make('l2rw');
  const general = await make('l2rw', 'general');
  try {
    for (const t of [plain, l2rw, general]) await timeSteps(gpu, t, opts.warmup);
    const plainSamples: BlockTiming[] = [];
    const l2rwSamples: BlockTiming[] = [];
    const generalSamples: BlockTiming[] = [];
    for (let b = 0; b < opts.blocks; b++) {
      plainSamples.push(await timeSteps(gpu, plain, opts.stepsPerBlock));
      l2rwSamples.push(await timeSteps(gpu, l2rw, opts.stepsPerBlock));
      generalSamples.push(await timeSteps(gpu, general, opts.stepsPerBlock));
    }
    // Counters over steps between logging points, then over one step that logs.
    const c0 = { ...gpu.counters };
    const between = 2;
    for (let i = 0; i < between; i++) await l2rw.trainStep();
    const c1 = { ...gpu.counters };
    while ((l2rw.step + 1) % logEvery !== 0) await l2rw.trainStep();
    const c2 = { ...gpu.counters };
    const snap = await l2rw.trainStep();
    const c3 = { ...gpu.counters };
    if (snap) await snap.stats;
    await gpu.idle();
    const plainMs = medianOf(plainSamples, 'ms')!;
    const l2rwMs = medianOf(l2rwSamples, 'ms')!;
    const plainCpu = medianOf(plainSamples, 'cpu_ms');
    const l2rwCpu = medianOf(l2rwSamples, 'cpu_ms');
    log(
      `  ${kind}: plain ${plainMs.toFixed(1)} ms (cpu ${plainCpu?.toFixed(1) ?? '?'}), l2rw ${l2rwMs.toFixed(1)} ms (cpu ${l2rwCpu?.toFixed(1) ?? '?'}) per step ` +
        `(${opts.blocks} blocks of ${opts.stepsPerBlock})`,
    );
    const generalMs = medianOf(generalSamples, 'ms')!;
    log(`  ${kind}: l2rw general path ${generalMs.toFixed(1)} ms per step (${(generalMs / l2rwMs).toFixed(2)}x the fast path)`);
    const l2rwDs = l2rw.stepGroups().flatMap((g) => g.dispatches);
    const plainDs = plain.stepGroups().flatMap((g) => g.dispatches);
    const l2rwGroups = await groups(timer, l2rw, opts.groupIters);
    const plainGroups = await groups(timer, plain, opts.groupIters);
    const profile: StepResult['l2rw_profile'] = [];
    if (opts.profile) {
      for (const g of l2rw.stepGroups()) {
        // A whole step before each group's dispatches, as in groups().
        await timer.wall(l2rwDs, 1);
        for (const d of g.dispatches) {
          const t = await timer.time([d], opts.groupIters, 1);
          profile.push({ label: d.label, ms: t.ms, cpu_ms: t.cpu_ms, ms_bound: t.ms_bound, reps: t.reps });
        }
      }
      profile.sort((a, b) => b.ms - a.ms);
    }
    void c2;
    return {
      model: kind,
      data: data.source,
      plain_ms: plainMs,
      l2rw_ms: l2rwMs,
      l2rw_over_plain: l2rwMs / plainMs,
      l2rw_general_ms: generalMs,
      l2rw_general_over_plain: generalMs / plainMs,
      general_samples: generalSamples,
      plain_cpu_ms: plainCpu,
      l2rw_cpu_ms: l2rwCpu,
      l2rw_over_plain_cpu: plainCpu && l2rwCpu ? l2rwCpu / plainCpu : null,
      plain_samples: plainSamples,
      l2rw_samples: l2rwSamples,
      submits_per_step: (c1.submits - c0.submits) / between,
      readbacks_per_step: (c1.readbacks - c0.readbacks) / between,
      readbacks_per_log: c3.readbacks - c2.readbacks,
      l2rw_groups: l2rwGroups,
      l2rw_groups_sum_ms: l2rwGroups.reduce((a, g) => a + g.ms, 0),
      l2rw_groups_sum_bound: l2rwGroups.some((g) => g.ms_bound),
      plain_groups: plainGroups,
      l2rw_profile: profile,
      dispatches_per_step: { plain: plainDs.length, l2rw: l2rwDs.length },
    };
  } finally {
    plain.destroy();
    l2rw.destroy();
    general.destroy();
  }
}
