// Peers on the same adapter, same models, batch and optimiser. Each peer's step is timed in blocks
// that alternate with blocks of our own plain step, so that a speed-up is a ratio of two medians
// measured side by side (the machine is shared with other jobs). A peer that cannot run gets null
// and the reason in `notes`.
import type { Gpu } from '../../src/gpu/gpu';
import { getNavigatorGpu } from '../../src/gpu/device';
import { encodeDispatches } from '../../src/kernels/kernel';
import { Matmul } from '../../src/kernels/matmul';
import { Trainer } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { benchData, type BenchData } from '../data';
import { timeBlock } from './tfjs';
import { BATCH, medianOf, modelSpec, OPTIMISER, type BlockTiming, type ModelKind } from '../steps';
import { jaxMatmul1024, jaxStepRunner, loadJax } from './jaxjs';
import { loadTf, tfMatmul1024, tfStepRunner, useBackend, type StepRunner, type TfBackend } from './tfjs';
import { describeTorch, findTorch, PYTORCH_CPU_THREADS, TorchServer } from './pytorch';

export const PEER_NAMES = ['tfjs-webgpu', 'jaxjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'pytorch-cpu', 'pytorch-cuda'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/**
 * Our 1024^3 matmul timed the way the peers' is: `iters` products queued, then a wait for the last
 * (here one command buffer and onSubmittedWorkDone), median GFLOP/s over `repeats` such batches.
 */
async function oursMatmul1024(gpu: Gpu, iters: number, repeats: number): Promise<number> {
  const n = 1024;
  const rng = new Rng(1);
  const a = gpu.upload('mm.a', rng.normals(n * n));
  const b = gpu.upload('mm.b', rng.normals(n * n));
  const c = gpu.buffer('mm.c', n * n * 4);
  const d = (await Matmul.create(gpu, {})).plan(a, b, c, { m: n, n, k: n }, {}, 'matmul 1024');
  const batch = async (count: number) => {
    const enc = gpu.device.createCommandEncoder({ label: 'mm1024' });
    encodeDispatches(enc, new Array(count).fill(d), 'mm1024');
    const t0 = performance.now();
    gpu.submit([enc.finish()]);
    await gpu.idle();
    return (performance.now() - t0) / count;
  };
  await batch(1);
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) samples.push(await batch(iters));
  for (const buf of [a, b, c]) gpu.destroy(buf);
  samples.sort((x, y) => x - y);
  return (2 * n * n * n) / samples[samples.length >> 1] / 1e6;
}

export interface PeerModelResult {
  /** Peer ms per step (median of its blocks). */
  step_ms: number | null;
  /** Our plain step, median of the blocks interleaved with this peer's. */
  ours_step_ms: number | null;
  /** peer time / our time: > 1 means ours is faster. */
  speedup: number | null;
  /** The same from process CPU time per step (Node only). */
  step_cpu_ms: number | null;
  ours_step_cpu_ms: number | null;
  speedup_cpu: number | null;
  peer_samples: BlockTiming[];
  ours_samples: BlockTiming[];
}

export interface PeerDetail {
  matmul1024_gflops: number | null;
  ours_matmul1024_gflops?: number | null;
  /** The plain step next to our plain step. */
  lenet: PeerModelResult | null;
  mlp: PeerModelResult | null;
  /** The L2RW step next to our L2RW step (PyTorch only: the other peers train plain steps). */
  lenet_l2rw?: PeerModelResult | null;
  mlp_l2rw?: PeerModelResult | null;
  /** What ran (PyTorch: torch version, device, threads). */
  info?: string;
}

export interface PeerResults {
  tfjs_webgpu_step_ms: number | null;
  ours_plain_step_ms: number | null;
  speedup_vs_tfjs_webgpu: number | null;
  tfjs_webgpu_matmul1024_gflops: number | null;
  ours_matmul1024_gflops: number | null;
  jaxjs_step_ms: number | null;
  /** Our plain LeNet step as measured next to jax-js (the tfjs figure is next to tfjs). */
  ours_plain_step_ms_vs_jaxjs: number | null;
  speedup_vs_jaxjs: number | null;
  jaxjs_matmul1024_gflops: number | null;
  /** The two speed-ups from process CPU time per step (Node only; load from other jobs barely moves them). */
  speedup_vs_tfjs_webgpu_cpu: number | null;
  speedup_vs_jaxjs_cpu: number | null;
  /** Our matmul 1024 timed like the peer's, right before and after it (median of both). */
  ours_matmul1024_gflops_vs_tfjs: number | null;
  ours_matmul1024_gflops_vs_jaxjs: number | null;
  /** Every (peer, model) pair measured: { 'tfjs-webgpu': { lenet: ..., mlp: ... }, ... }. */
  detail: Partial<Record<PeerName, PeerDetail>>;
  notes: string[];
}

export interface PeerOptions {
  warmup: number;
  steps: number;
  repeats: number;
  matmulIters: number;
  only?: PeerName[];
  synthetic?: boolean;
  /** Run the CPU-bound peers (tfjs wasm, cpu) on LeNet too: seconds per step there. */
  slowLenet: boolean;
}

interface Ours {
  lenet_step_ms: number | null;
  mlp_step_ms: number | null;
  matmul1024_gflops: number | null;
}

function errText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 300);
}

/** Points navigator.gpu at the project's own GPU entry (Node: the Dawn instance) for the peers. */
export async function shareNavigatorGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return;
  const gpu = await getNavigatorGpu();
  if (!gpu) throw new Error('no WebGPU entry point');
  const os = await import(/* @vite-ignore */ 'node:os');
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu, userAgent: `Node.js/${process.versions.node}`, hardwareConcurrency: os.cpus().length, language: 'en-US' },
    configurable: true,
    writable: true,
  });
}

async function oursRunner(gpu: Gpu, kind: ModelKind, data: BenchData, method: 'plain' | 'l2rw' = 'plain'): Promise<StepRunner> {
  // L2RW: 10 clean examples per step, as bench/steps.ts.
  const t = await Trainer.create(gpu, modelSpec(kind, data), { train: data.train, clean: data.clean }, {
    method, steps: 1_000_000, batch: BATCH, ...OPTIMISER, seed: 3, logEvery: 1_000_000, ...(method === 'l2rw' ? { valBatch: 10 } : {}),
  });
  return {
    block: (steps) =>
      timeBlock(steps, async () => {
        for (let i = 0; i < steps; i++) await t.trainStep();
        await gpu.idle();
      }),
    dispose: () => t.destroy(),
  };
}

async function sideBySide(ours: StepRunner, peer: StepRunner, o: { warmup: number; steps: number; repeats: number }, peerSteps = o.steps): Promise<PeerModelResult> {
  // The first block of each compiles its pipelines (smoke mode, warmup 0, times that block).
  if (o.warmup > 0) {
    await ours.block(o.warmup);
    await peer.block(o.warmup);
  }
  const oursS: BlockTiming[] = [];
  const peerS: BlockTiming[] = [];
  for (let r = 0; r < o.repeats; r++) {
    oursS.push(await ours.block(o.steps));
    peerS.push(await peer.block(peerSteps));
  }
  oursS.push(await ours.block(o.steps));
  const oursMs = medianOf(oursS, 'ms')!;
  const peerMs = medianOf(peerS, 'ms')!;
  const oursCpu = medianOf(oursS, 'cpu_ms');
  const peerCpu = medianOf(peerS, 'cpu_ms');
  return {
    step_ms: peerMs,
    ours_step_ms: oursMs,
    speedup: peerMs / oursMs,
    step_cpu_ms: peerCpu,
    ours_step_cpu_ms: oursCpu,
    speedup_cpu: peerCpu !== null && oursCpu !== null ? peerCpu / oursCpu : null,
    peer_samples: peerS,
    ours_samples: oursS,
  };
}

export async function runPeers(gpu: Gpu, ours: Ours, o: PeerOptions, log: (s: string) => void): Promise<PeerResults> {
  const notes: string[] = [];
  const detail: PeerResults['detail'] = {};
  const wanted = new Set(o.only ?? PEER_NAMES);
  const data: Partial<Record<ModelKind, BenchData>> = {};
  const dataFor = async (k: ModelKind) => (data[k] ??= await benchData(k, o.synthetic));
  const runners: Partial<Record<ModelKind, StepRunner>> = {};
  const oursFor = async (k: ModelKind) => (runners[k] ??= await oursRunner(gpu, k, await dataFor(k)));
  const l2rwRunners: Partial<Record<ModelKind, StepRunner>> = {};
  const oursL2rwFor = async (k: ModelKind) => (l2rwRunners[k] ??= await oursRunner(gpu, k, await dataFor(k), 'l2rw'));

  if (wanted.size) {
    try {
      await shareNavigatorGpu();
    } catch (e) {
      notes.push(`peers: could not expose the GPU as navigator.gpu (${errText(e)})`);
    }
  }

  const modelPair = async (name: PeerName, kind: ModelKind, make: () => Promise<StepRunner>, slow: boolean, method: 'plain' | 'l2rw' = 'plain') => {
    try {
      const peer = await make();
      try {
        // The CPU-bound peers take seconds per LeNet step: fewer of them.
        const oo = slow ? { warmup: Math.min(1, o.warmup), steps: o.steps, repeats: 1 } : o;
        const ours = method === 'l2rw' ? await oursL2rwFor(kind) : await oursFor(kind);
        const r = await sideBySide(ours, peer, oo, slow ? Math.max(1, Math.min(2, o.steps)) : o.steps);
        const label = method === 'l2rw' ? `${kind} l2rw` : kind;
        log(
          `  ${name.padEnd(13)} ${label.padEnd(10)} ${r.step_ms!.toFixed(1).padStart(9)} ms/step (cpu ${r.step_cpu_ms?.toFixed(1) ?? '?'})   ` +
            `ours ${r.ours_step_ms!.toFixed(1)} ms (cpu ${r.ours_step_cpu_ms?.toFixed(1) ?? '?'})   speed-up ${r.speedup!.toFixed(2)}x (cpu ${r.speedup_cpu?.toFixed(2) ?? '?'}x)`,
        );
        return r;
      } finally {
        peer.dispose();
      }
    } catch (e) {
      const label = method === 'l2rw' ? `${kind} L2RW` : kind;
      notes.push(`${name} ${label} step: ${errText(e)}`);
      log(`  ${name} ${label}: failed (${errText(e)})`);
      return null;
    }
  };

  for (const backend of ['webgpu', 'wasm', 'cpu'] as TfBackend[]) {
    const name = `tfjs-${backend}` as PeerName;
    if (!wanted.has(name)) continue;
    try {
      const tf = await loadTf();
      if (!(await useBackend(tf, backend))) {
        notes.push(`${name}: tf.setBackend('${backend}') failed on this platform`);
        detail[name] = { matmul1024_gflops: null, lenet: null, mlp: null };
        continue;
      }
      const slow = backend !== 'webgpu';
      let mm: number | null = null;
      let oursMm: number | null = null;
      try {
        const iters = slow ? 1 : o.matmulIters;
        const reps = slow ? 1 : Math.max(1, Math.min(3, o.matmulIters));
        const before = await oursMatmul1024(gpu, iters, reps);
        mm = await tfMatmul1024(tf, iters, reps);
        oursMm = (before + (await oursMatmul1024(gpu, iters, reps))) / 2;
        log(`  ${name.padEnd(13)} matmul 1024 ${mm.toFixed(2)} GFLOP/s   ours next to it ${oursMm.toFixed(2)} GFLOP/s`);
      } catch (e) {
        notes.push(`${name} matmul: ${errText(e)}`);
      }
      let lenet: PeerModelResult | null = null;
      if (slow && !o.slowLenet) notes.push(`${name} lenet step: not run in this mode (several seconds per step on a CPU)`);
      else lenet = await modelPair(name, 'lenet', async () => tfStepRunner(tf, 'lenet', await dataFor('lenet')), slow);
      const mlp = await modelPair(name, 'mlp', async () => tfStepRunner(tf, 'mlp', await dataFor('mlp')), slow);
      detail[name] = { matmul1024_gflops: mm, ours_matmul1024_gflops: oursMm, lenet, mlp };
    } catch (e) {
      notes.push(`${name}: ${errText(e)}`);
      detail[name] = { matmul1024_gflops: null, lenet: null, mlp: null };
    }
  }

  if (wanted.has('jaxjs-webgpu')) {
    try {
      const loaded = await loadJax();
      if ('reason' in loaded) {
        notes.push(`jaxjs-webgpu: ${loaded.reason}`);
        detail['jaxjs-webgpu'] = { matmul1024_gflops: null, lenet: null, mlp: null };
      } else {
        const { jax } = loaded;
        let mm: number | null = null;
        let oursMm: number | null = null;
        try {
          const reps = Math.max(1, Math.min(3, o.matmulIters));
          const before = await oursMatmul1024(gpu, o.matmulIters, reps);
          mm = await jaxMatmul1024(jax, o.matmulIters, reps);
          oursMm = (before + (await oursMatmul1024(gpu, o.matmulIters, reps))) / 2;
          log(`  ${'jaxjs-webgpu'.padEnd(13)} matmul 1024 ${mm.toFixed(2)} GFLOP/s   ours next to it ${oursMm.toFixed(2)} GFLOP/s`);
        } catch (e) {
          notes.push(`jaxjs-webgpu matmul: ${errText(e)}`);
        }
        const lenet = await modelPair('jaxjs-webgpu', 'lenet', async () => jaxStepRunner(jax, 'lenet', await dataFor('lenet')), false);
        const mlp = await modelPair('jaxjs-webgpu', 'mlp', async () => jaxStepRunner(jax, 'mlp', await dataFor('mlp')), false);
        detail['jaxjs-webgpu'] = { matmul1024_gflops: mm, ours_matmul1024_gflops: oursMm, lenet, mlp };
      }
    } catch (e) {
      notes.push(`jaxjs-webgpu: ${errText(e)}`);
      detail['jaxjs-webgpu'] = { matmul1024_gflops: null, lenet: null, mlp: null };
    }
  }
  // PyTorch in a child process (Node only): plain and L2RW steps, each next to ours.
  const torchPeers = (['pytorch-cpu', 'pytorch-cuda'] as const).filter((n) => wanted.has(n));
  if (torchPeers.length) {
    const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
    const found = isNode ? await findTorch() : { reason: 'runs in Node only' };
    for (const name of torchPeers) {
      const empty: PeerDetail = { matmul1024_gflops: null, lenet: null, mlp: null, lenet_l2rw: null, mlp_l2rw: null };
      if ('reason' in found) {
        // One note for both: the same reason.
        if (name === torchPeers[0]) notes.push(`pytorch: ${found.reason}; peer skipped`);
        continue;
      }
      const device = name === 'pytorch-cuda' ? 'cuda' : 'cpu';
      if (device === 'cuda' && !found.cuda) {
        notes.push(`pytorch-cuda: torch.cuda.is_available() is False (torch ${found.torch}); peer skipped`);
        continue;
      }
      let server: TorchServer | null = null;
      try {
        server = await TorchServer.start(found.python, device, { threads: PYTORCH_CPU_THREADS });
        const info = describeTorch(name, server.header);
        notes.push(info);
        log(`  ${info}`);
        const d: PeerDetail = { ...empty, info };
        const srv = server;
        for (const kind of ['lenet', 'mlp'] as ModelKind[]) {
          d[kind] = await modelPair(name, kind, () => srv.runner(kind, 'plain'), false);
          d[`${kind}_l2rw`] = await modelPair(name, kind, () => srv.runner(kind, 'l2rw'), false, 'l2rw');
        }
        detail[name] = d;
      } catch (e) {
        notes.push(`${name}: ${errText(e)}`);
        detail[name] = empty;
      } finally {
        server?.close();
      }
    }
  }
  for (const r of [...Object.values(runners), ...Object.values(l2rwRunners)]) r?.dispose();

  const tfw = detail['tfjs-webgpu'];
  const jx = detail['jaxjs-webgpu'];
  if (!wanted.has('tfjs-webgpu')) notes.push('tfjs-webgpu: not run (excluded by the options)');
  if (!wanted.has('jaxjs-webgpu')) notes.push('jaxjs-webgpu: not run (excluded by the options)');
  return {
    tfjs_webgpu_step_ms: tfw?.lenet?.step_ms ?? null,
    ours_plain_step_ms: tfw?.lenet?.ours_step_ms ?? ours.lenet_step_ms,
    speedup_vs_tfjs_webgpu: tfw?.lenet?.speedup ?? null,
    tfjs_webgpu_matmul1024_gflops: tfw?.matmul1024_gflops ?? null,
    // Measured next to tfjs's where that ran (same method, same moment), else the kernel table's.
    ours_matmul1024_gflops: tfw?.ours_matmul1024_gflops ?? ours.matmul1024_gflops,
    jaxjs_step_ms: jx?.lenet?.step_ms ?? null,
    ours_plain_step_ms_vs_jaxjs: jx?.lenet?.ours_step_ms ?? null,
    speedup_vs_jaxjs: jx?.lenet?.speedup ?? null,
    jaxjs_matmul1024_gflops: jx?.matmul1024_gflops ?? null,
    ours_matmul1024_gflops_vs_tfjs: tfw?.ours_matmul1024_gflops ?? null,
    ours_matmul1024_gflops_vs_jaxjs: jx?.ours_matmul1024_gflops ?? null,
    speedup_vs_tfjs_webgpu_cpu: tfw?.lenet?.speedup_cpu ?? null,
    speedup_vs_jaxjs_cpu: jx?.lenet?.speedup_cpu ?? null,
    detail,
    notes,
  };
}
