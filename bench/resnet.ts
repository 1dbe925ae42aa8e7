// The paper's CIFAR model: ResNet-32 (pre-activation, batch norm), batch 100, 32x32x3 inputs, on
// synthetic bytes of CIFAR's shape (no CIFAR on this machine; timings do not depend on the pixels).
// Plain SGD and L2RW (which takes its general path: batch norm couples the examples) at m = 10 and
// m = 100 clean examples per step, the paper's two settings; peak GPU memory and the largest single
// buffer (what WebGPU's storage-binding limit must hold). One submit and no readback per step.
// On request (`peers`), the same plain step in TensorFlow.js and jax-js on the same adapter (and
// jax-js's L2RW step by double backprop), each in a bounded child process: bench/peers/resnet.ts.
import type { Gpu } from '../src/gpu/gpu';
import { resnetSpec } from '../src/train/models';
import { Trainer, type TrainConfig } from '../src/train/trainer';
import { Rng } from '../src/util/rng';
import { cpuNow } from './lib/timing';
import { timeBlock } from './peers/tfjs';
import { runResnetPeers, type ResnetPeersOptions, type ResnetPeersResult } from './peers/resnet';

export interface ResnetBenchOptions {
  depth: number;
  batch: number;
  /** Steps timed per configuration (after one warm-up step). */
  steps: number;
  /** Clean examples per step for the L2RW runs. */
  cleanBatches: number[];
  classes?: number;
  /** Peers on the same model (Node only; minutes per run): which runs, a time bound per run, steps. */
  peers?: ResnetPeersOptions;
}

export interface ResnetRun {
  method: 'plain' | 'l2rw';
  clean_batch: number | null;
  ms: number;
  cpu_ms: number | null;
  /** Bytes live at the peak of this trainer's life (its own buffers; the device's are not counted). */
  peak_bytes: number;
  largest_buffer_bytes: number;
  submits_per_step: number;
  readbacks_per_step: number;
}

export interface ResnetResult {
  model: string;
  params: number;
  batch: number;
  input: number[];
  runs: ResnetRun[];
  /** L2RW step / plain step per clean-batch size. */
  ratios: { clean_batch: number; l2rw_over_plain: number }[];
  /** TensorFlow.js / jax-js on the same model and adapter; null when not asked for (`--resnet-peers`). */
  peers: ResnetPeersResult | null;
}

export function synthetic(n: number, dim: number, classes: number, seed: number) {
  const rng = new Rng(seed);
  return { x: Uint8Array.from({ length: n * dim }, () => rng.int(256)), y: Uint32Array.from({ length: n }, () => rng.int(classes)), n, dim };
}

export async function runResnetBench(gpu: Gpu, o: ResnetBenchOptions, log: (s: string) => void = () => {}): Promise<ResnetResult> {
  const classes = o.classes ?? 10;
  const input = [3, 32, 32] as const;
  const spec = resnetSpec(o.depth, classes, input);
  const dim = 3 * 32 * 32;
  const maxClean = Math.max(...o.cleanBatches);
  const data = { train: synthetic(Math.max(1000, 4 * o.batch), dim, classes, 1), clean: synthetic(Math.max(maxClean, 10), dim, classes, 2) };
  // The paper's CIFAR optimiser settings; the rate does not change the cost.
  const base: Omit<TrainConfig, 'method'> = {
    steps: 1_000_000, batch: o.batch, lr: 0.1, momentum: 0.9, weightDecay: 2e-4, decayBiases: false, seed: 1, logEvery: 1_000_000, augment: { pad: 4 },
  };
  const runs: ResnetRun[] = [];
  let params = 0;
  const time = async (method: 'plain' | 'l2rw', clean: number | null): Promise<ResnetRun> => {
    const before = gpu.counters.liveBytes;
    gpu.resetPeak();
    const t = await Trainer.create(gpu, spec, data, { ...base, method, ...(clean ? { valBatch: clean } : {}) });
    params = t.model.layout.denseSize;
    try {
      await t.trainStep(); // warm-up: first-use costs
      await gpu.idle();
      const c0 = { ...gpu.counters };
      const cpu0 = cpuNow();
      const t0 = performance.now();
      for (let i = 0; i < o.steps; i++) await t.trainStep();
      await gpu.idle();
      const ms = (performance.now() - t0) / o.steps;
      const cpu1 = cpuNow();
      const run: ResnetRun = {
        method,
        clean_batch: clean,
        ms,
        cpu_ms: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / o.steps,
        peak_bytes: gpu.counters.peakLiveBytes - before,
        largest_buffer_bytes: gpu.counters.largestBuffer,
        submits_per_step: (gpu.counters.submits - c0.submits) / o.steps,
        readbacks_per_step: (gpu.counters.readbacks - c0.readbacks) / o.steps,
      };
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      log(`  ${spec.name} ${method}${clean ? ` m=${clean}` : ''}: ${ms.toFixed(0)} ms/step, peak ${mib(run.peak_bytes)} MiB, largest buffer ${mib(run.largest_buffer_bytes)} MiB`);
      return run;
    } finally {
      t.destroy();
    }
  };
  runs.push(await time('plain', null));
  for (const m of o.cleanBatches) runs.push(await time('l2rw', m));
  const plain = runs[0].ms;
  let peers: ResnetPeersResult | null = null;
  if (o.peers?.runs.length) {
    log(`ResNet peers (same model, batch and optimiser; each run in a child process, at most ${o.peers.timeoutS} s):`);
    // Ours next to them: the plain step without augmentation (the peers have none).
    const t = await Trainer.create(gpu, spec, data, { ...base, augment: undefined, method: 'plain' });
    try {
      await t.trainStep();
      await gpu.idle();
      const ours = {
        block: (steps: number) =>
          timeBlock(steps, async () => {
            for (let i = 0; i < steps; i++) await t.trainStep();
            await gpu.idle();
          }),
      };
      const l2rw = runs.find((r) => r.method === 'l2rw');
      peers = await runResnetPeers(
        { depth: o.depth, batch: o.batch, classes, lr: base.lr, momentum: base.momentum, weightDecay: base.weightDecay, trainN: data.train.n },
        o.peers,
        ours,
        l2rw ? { clean: l2rw.clean_batch!, ms: l2rw.ms, cpu_ms: l2rw.cpu_ms } : null,
        log,
      );
    } finally {
      t.destroy();
    }
  }
  return {
    model: spec.name,
    params,
    batch: o.batch,
    input: [...input],
    runs,
    ratios: runs.filter((r) => r.method === 'l2rw').map((r) => ({ clean_batch: r.clean_batch!, l2rw_over_plain: r.ms / plain })),
    peers,
  };
}
