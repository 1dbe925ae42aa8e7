// The benchmark suite as a function, so that the CLI (bench/main.ts), the browser page
// (bench/browser/page.ts) and the smoke test (test/bench/smoke.test.ts) run the same code.
import { Gpu, isCpuAdapter } from '../src/gpu/gpu';
import { formatKernelLine, runKernelBench, type KernelResult } from './kernels';
import { GpuTimer, type TimerKind } from './lib/timing';
import { runPeers, type PeerName, type PeerResults } from './peers/index';
import { runResnetBench, type ResnetBenchOptions, type ResnetResult } from './resnet';
import { runStepBench, type ModelKind, type StepResult } from './steps';
import { runVariantBench, type VariantResult } from './variants';
import { chooseMatmulVariant } from '../src/kernels/matmul';
import { chooseConv2dForwardVariant } from '../src/kernels/conv2d_forward';
import { chooseConv2dBackwardDataVariant } from '../src/kernels/conv2d_backward_data';
import { chooseConv2dBackwardFilterVariant } from '../src/kernels/conv2d_backward_filter';
import { chooseRowDotsVariant } from '../src/kernels/row_dots';

export type BenchMode = 'full' | 'quick' | 'smoke';

export interface BenchOptions {
  mode: BenchMode;
  /** Skip groups of the suite (e.g. to rerun only the steps while tuning kernels). */
  skip?: ('kernels' | 'variants' | 'steps' | 'resnet' | 'peers' | 'profile')[];
  /** Only kernels whose name contains one of these. */
  kernelFilter?: string[];
  /** Peers to run (default all that apply to the environment). */
  peers?: PeerName[];
  /** Time with onSubmittedWorkDone wall clock even where timestamp queries exist. */
  wallClock?: boolean;
  /** Synthetic bytes instead of MNIST for the training data. */
  synthetic?: boolean;
  log?: (line: string) => void;
}

export interface BenchResult {
  schema: 1;
  date: string;
  mode: BenchMode;
  runtime: 'node-dawn' | 'browser';
  adapter: string;
  timer: TimerKind;
  /** Machine load average at the start and the end (Node only), since other jobs share the CPU. */
  load: { start: number[] | null; end: number[] | null };
  kernels: KernelResult[];
  /** Each matmul product, forward and data-gradient convolution of `kernels` by every form of its kernel, side by side (bench/variants.ts). */
  variants: VariantResult[];
  /** Which form each multi-form kernel ran in this run, and why (gpu.describe()'s lines). */
  kernel_choices: string[];
  /** The LeNet step (the brief's headline numbers). */
  steps: StepResult | null;
  /** Every model's step results. */
  models: StepResult[];
  /** The paper's CIFAR model (ResNet-32 in full and quick mode, ResNet-8 in smoke mode). */
  resnet: ResnetResult | null;
  peers: PeerResults;
  notes: string[];
  wall_s: number;
}

interface ModeSettings {
  kernel: { flopsPerCase: number; minIters: number; maxIters: number; warmup: number };
  variants: { flopsPerCase: number; minIters: number; maxIters: number; warmup: number; rounds: number };
  step: { warmup: number; stepsPerBlock: number; blocks: number; groupIters: number };
  peer: { warmup: number; steps: number; repeats: number; matmulIters: number; slowLenet: boolean };
  resnet: ResnetBenchOptions;
}

export const MODES: Record<BenchMode, ModeSettings> = {
  full: {
    kernel: { flopsPerCase: 4e9, minIters: 5, maxIters: 300, warmup: 2 },
    variants: { flopsPerCase: 1e9, minIters: 3, maxIters: 100, warmup: 1, rounds: 3 },
    step: { warmup: 5, stepsPerBlock: 10, blocks: 5, groupIters: 15 },
    peer: { warmup: 3, steps: 10, repeats: 3, matmulIters: 5, slowLenet: true },
    resnet: { depth: 32, batch: 100, steps: 5, cleanBatches: [10, 100] },
  },
  quick: {
    kernel: { flopsPerCase: 6e8, minIters: 3, maxIters: 40, warmup: 1 },
    variants: { flopsPerCase: 2e8, minIters: 2, maxIters: 20, warmup: 1, rounds: 3 },
    step: { warmup: 2, stepsPerBlock: 4, blocks: 3, groupIters: 5 },
    peer: { warmup: 2, steps: 4, repeats: 2, matmulIters: 3, slowLenet: false },
    resnet: { depth: 32, batch: 100, steps: 2, cleanBatches: [10, 100] },
  },
  smoke: {
    kernel: { flopsPerCase: 0, minIters: 1, maxIters: 1, warmup: 0 },
    variants: { flopsPerCase: 0, minIters: 1, maxIters: 1, warmup: 0, rounds: 1 },
    step: { warmup: 1, stepsPerBlock: 1, blocks: 1, groupIters: 1 },
    peer: { warmup: 0, steps: 1, repeats: 1, matmulIters: 1, slowLenet: false },
    resnet: { depth: 8, batch: 4, steps: 1, cleanBatches: [2] },
  },
};

async function loadAverage(): Promise<number[] | null> {
  // Node only: a browser would try (and log a failure) to fetch node:os.
  if (typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== 'string') return null;
  try {
    const os = await import(/* @vite-ignore */ 'node:os');
    return os.loadavg().map((v) => Math.round(v * 100) / 100);
  } catch {
    return null;
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const sink = opts.log ?? (() => {});
  const log = (line: string) => sink(line.endsWith(':') ? `${line} [${((performance.now() - t0) / 1000).toFixed(0)} s]` : line);
  const settings = MODES[opts.mode];
  const skip = new Set(opts.skip ?? []);
  const notes: string[] = [];
  const loadStart = await loadAverage();
  const gpu = await Gpu.create({ optionalFeatures: ['timestamp-query'] });
  const timer = new GpuTimer(gpu, opts.wallClock);
  log(`adapter: ${gpu.name}${gpu.adapter.isFallbackAdapter ? ' [fallback adapter]' : ''}; timer: ${timer.kind}; mode: ${opts.mode}`);

  let kernels: KernelResult[] = [];
  if (!skip.has('kernels')) {
    log('kernels:');
    kernels = await runKernelBench(gpu, timer, {
      ...settings.kernel,
      filter: opts.kernelFilter,
      onResult: (r) => log(formatKernelLine(r)),
    });
  }

  let variants: VariantResult[] = [];
  if (!skip.has('variants')) {
    // In a page on a CPU adapter (SwiftShader) only small products, and not the tiled form, whose
    // pipelines take SwiftShader 5-10 s each to compile.
    const page = gpu.adapter.runtime === 'browser';
    const cpuPage = page && isCpuAdapter(gpu.adapter);
    // The forms this adapter runs (measured now unless cached), before the forms are timed side by side.
    await chooseMatmulVariant(gpu);
    await chooseConv2dForwardVariant(gpu);
    await chooseConv2dBackwardDataVariant(gpu);
    await chooseConv2dBackwardFilterVariant(gpu);
    await chooseRowDotsVariant(gpu);
    log(`kernel variants (ms per product, process CPU ms in brackets; x = blocked time / form time)${cpuPage ? ', products up to 100 MFLOP, tiled form left out' : ''}:`);
    variants = await runVariantBench(
      gpu,
      timer,
      { ...settings.variants, filter: opts.kernelFilter, matmulVariants: cpuPage ? ['blocked', 'scalar'] : undefined, maxFlops: cpuPage ? 1e8 : undefined },
      log,
    );
  }

  const models: StepResult[] = [];
  if (!skip.has('steps')) {
    log('training steps (Trainer, batch 100, 10 clean examples):');
    for (const kind of ['lenet', 'mlp'] as ModelKind[]) {
      models.push(await runStepBench(gpu, timer, kind, { ...settings.step, profile: !skip.has('profile') && kind === 'lenet', synthetic: opts.synthetic }, log));
    }
  }
  const lenet = models.find((m) => m.model === 'lenet') ?? null;

  let resnet: ResnetResult | null = null;
  if (!skip.has('resnet')) {
    log(`ResNet (batch ${settings.resnet.batch}, 32x32x3, synthetic bytes):`);
    resnet = await runResnetBench(gpu, settings.resnet, log);
  }

  const ours = {
    lenet_step_ms: lenet?.plain_ms ?? null,
    mlp_step_ms: models.find((m) => m.model === 'mlp')?.plain_ms ?? null,
    matmul1024_gflops: kernels.find((k) => k.name === 'matmul 1024')?.gflops ?? null,
  };
  let peers: PeerResults;
  if (!skip.has('peers')) {
    log('peers (same adapter, same models, batch and optimiser):');
    peers = await runPeers(gpu, ours, { ...settings.peer, only: opts.peers, synthetic: opts.synthetic }, log);
  } else {
    peers = await runPeers(gpu, ours, { ...settings.peer, only: [], synthetic: opts.synthetic }, log);
  }
  notes.push(...peers.notes);

  const kernelChoices = gpu.kernelChoices.describe();
  for (const line of kernelChoices) log(line);
  gpu.destroyAll();
  gpu.device.destroy();
  return {
    schema: 1,
    date: new Date().toISOString(),
    mode: opts.mode,
    runtime: gpu.adapter.runtime,
    adapter: gpu.name,
    timer: timer.kind,
    load: { start: loadStart, end: await loadAverage() },
    kernels,
    variants,
    kernel_choices: kernelChoices,
    steps: lenet,
    models,
    resnet,
    peers,
    notes,
    wall_s: (performance.now() - t0) / 1000,
  };
}
