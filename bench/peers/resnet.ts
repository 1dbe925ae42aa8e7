// TensorFlow.js and jax-js on the paper's CIFAR model (ResNet-32, batch 100, plain momentum SGD with
// weight decay, batch norm in training mode), on the same adapter as ours. Each peer run is a child
// process (bench/peers/resnet-child.ts through vite-node) with a wall-clock bound, so that a peer
// that hangs, runs out of memory or loses its device is stopped and recorded (status, the stage it
// had reached, the error message, WebGPU device-lost / uncaptured-error events, the tail of its
// output) instead of stalling or crashing the benchmark. Our own plain step is timed in this process
// right before the first peer run and after each one (the same model, data and optimiser, no
// augmentation), so each ratio compares figures taken minutes apart on the same shared machine.
// Node only (the browser page has no child processes). Slow: minutes per run on a CPU adapter.
import type { BlockTiming } from '../steps';
import { median } from '../lib/timing';

export const RESNET_PEER_RUNS = ['tfjs-webgpu', 'jaxjs-webgpu', 'jaxjs-webgpu-l2rw'] as const;
export type ResnetPeerRunName = (typeof RESNET_PEER_RUNS)[number];

/** What a child process is asked to run (JSON in L2RW_RESNET_PEER). */
export interface ResnetPeerConfig {
  peer: 'tfjs-webgpu' | 'jaxjs-webgpu';
  method: 'plain' | 'l2rw';
  cleanBatch: number | null;
  depth: number;
  batch: number;
  classes: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Synthetic training examples (bench/resnet.ts `synthetic`, seed 1). */
  trainN: number;
  /** Untimed steps (the first compiles); timed steps after them, one at a time. */
  warmup: number;
  steps: number;
}

/** What a child process reports. */
export interface ResnetPeerChildResult {
  status: 'ok' | 'failed';
  /** The stage reached: init, import, build, warm-up step, timed step i/n, check, done. */
  stage: string;
  error: string | null;
  backend: string;
  /** The first step (kernel compilation included). */
  warmup_ms: number;
  /** Median of the timed steps, each ending when the device has finished it (a parameter read). */
  step_ms: number;
  step_cpu_ms: number | null;
  samples: BlockTiming[];
  /** tf.memory().numBytes after the steps (tfjs only). */
  tensor_bytes: number | null;
  /** WebGPU device-lost and uncaptured-error events. */
  events: string[];
  child_wall_s: number;
}

export interface ResnetPeerRun {
  name: ResnetPeerRunName;
  peer: ResnetPeerConfig['peer'];
  method: 'plain' | 'l2rw';
  clean_batch: number | null;
  /** ok; failed (an error thrown, or non-finite parameters); timeout (killed); crashed (exited without a result). */
  status: 'ok' | 'failed' | 'timeout' | 'crashed';
  stage: string;
  error: string | null;
  backend: string | null;
  warmup_ms: number | null;
  step_ms: number | null;
  step_cpu_ms: number | null;
  samples: BlockTiming[];
  tensor_bytes: number | null;
  events: string[];
  /** Wall seconds of the whole child process (start-up, import, build, warm-up, timed steps). */
  wall_s: number;
  /** Our step measured in this process next to it: plain = median of our blocks right before and after; L2RW = our L2RW step at the same m from the ResNet group. */
  ours_step_ms: number | null;
  ours_step_cpu_ms: number | null;
  /** peer step / ours (> 1: ours is faster). */
  peer_over_ours: number | null;
  /** The same from process CPU time per step (the peer's child process, ours in this one). */
  peer_over_ours_cpu: number | null;
  /** The child's last output lines where it did not end with a result. */
  output_tail?: string[];
}

export interface ResnetPeersResult {
  timeout_s: number;
  warmup: number;
  steps: number;
  /** Our plain step (no augmentation) in blocks of `steps`, before the first peer run and after each. */
  ours_samples: BlockTiming[];
  runs: ResnetPeerRun[];
}

export interface ResnetPeersOptions {
  runs: ResnetPeerRunName[];
  /** Wall-clock bound per peer run (child start-up to result), seconds. */
  timeoutS: number;
  warmup: number;
  steps: number;
}

type Base = Omit<ResnetPeerConfig, 'peer' | 'method' | 'cleanBatch' | 'warmup' | 'steps'>;

function configFor(name: ResnetPeerRunName, base: Base, o: ResnetPeersOptions, clean: number): ResnetPeerConfig {
  const peer = name === 'tfjs-webgpu' ? 'tfjs-webgpu' : 'jaxjs-webgpu';
  const l2rw = name === 'jaxjs-webgpu-l2rw';
  return { ...base, peer, method: l2rw ? 'l2rw' : 'plain', cleanBatch: l2rw ? clean : null, warmup: o.warmup, steps: o.steps };
}

/** Runs one child to its result, its exit, or the time bound. */
async function runChild(cfg: ResnetPeerConfig, timeoutS: number, log: (s: string) => void, label: string): Promise<{ result: Partial<ResnetPeerChildResult> | null; stage: string; events: string[]; tail: string[]; timedOut: boolean; exit: string; wall_s: number }> {
  const moduleNames = { cp: 'node:child_process', url: 'node:url', path: 'node:path', module: 'node:module' };
  const { spawn } = (await import(/* @vite-ignore */ moduleNames.cp)) as typeof import('node:child_process');
  const { fileURLToPath } = (await import(/* @vite-ignore */ moduleNames.url)) as typeof import('node:url');
  const path = (await import(/* @vite-ignore */ moduleNames.path)) as typeof import('node:path');
  const { createRequire } = (await import(/* @vite-ignore */ moduleNames.module)) as typeof import('node:module');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(here, '../..');
  const cli = createRequire(path.join(root, 'package.json')).resolve('vite-node/cli');
  const child = spawn(process.execPath, [cli, path.join(here, 'resnet-child.ts')], {
    cwd: root,
    env: { ...process.env, L2RW_RESNET_PEER: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const t0 = performance.now();
  let stage = 'start-up';
  let result: Partial<ResnetPeerChildResult> | null = null;
  const events: string[] = [];
  const tail: string[] = [];
  const keep = (line: string) => {
    if (!line.trim()) return;
    tail.push(line.slice(0, 400));
    if (tail.length > 15) tail.shift();
  };
  const onLine = (line: string) => {
    const m = /^@@(stage|event|result) (.*)$/.exec(line);
    if (!m) return keep(line);
    if (m[1] === 'stage') {
      stage = m[2];
      log(`    ${label}: ${stage} [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
    } else if (m[1] === 'event') {
      events.push(m[2]);
      log(`    ${label}: ${m[2]}`);
    } else {
      try {
        result = JSON.parse(m[2]);
      } catch {
        keep(line);
      }
    }
  };
  const reader = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => buf && onLine(buf));
  };
  reader(child.stdout!);
  reader(child.stderr!);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutS * 1000);
  const exit = await new Promise<string>((resolve) => {
    child.on('error', (e) => resolve(`spawn error: ${e.message}`));
    child.on('close', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
  });
  clearTimeout(timer);
  return { result, stage, events, tail, timedOut, exit, wall_s: (performance.now() - t0) / 1000 };
}

/**
 * Runs the requested peer runs one after another, each in its own bounded child process, with our
 * plain step (`ours.block`) timed before the first and after each. `oursL2rw` gives our L2RW step at
 * `clean` clean examples (from the ResNet group) for the jax-js L2RW run's ratio.
 */
export async function runResnetPeers(
  base: Base,
  o: ResnetPeersOptions,
  ours: { block(steps: number): Promise<BlockTiming> } | null,
  oursL2rw: { clean: number; ms: number; cpu_ms: number | null } | null,
  log: (s: string) => void,
): Promise<ResnetPeersResult> {
  const oursSamples: BlockTiming[] = [];
  const runs: ResnetPeerRun[] = [];
  if (ours && o.runs.length) oursSamples.push(await ours.block(o.steps));
  for (const name of o.runs) {
    const cfg = configFor(name, base, o, oursL2rw?.clean ?? 10);
    const label = `${name}${cfg.method === 'l2rw' ? ` m=${cfg.cleanBatch}` : ''}`;
    log(`  ${label} (ResNet-${cfg.depth}, batch ${cfg.batch}, at most ${o.timeoutS} s):`);
    const c = await runChild(cfg, o.timeoutS, log, label);
    const r: Partial<ResnetPeerChildResult> = c.result ?? {};
    let status: ResnetPeerRun['status'];
    let error: string | null;
    if (c.result) {
      status = r.status ?? 'failed';
      error = r.error ?? null;
    } else if (c.timedOut) {
      status = 'timeout';
      error = `no result within ${o.timeoutS} s: killed at stage "${c.stage}"`;
    } else {
      status = 'crashed';
      error = `the process ended (${c.exit}) at stage "${c.stage}" without a result`;
    }
    const before = oursSamples[oursSamples.length - 1];
    if (ours) oursSamples.push(await ours.block(o.steps));
    const after = oursSamples[oursSamples.length - 1];
    const oursMs = cfg.method === 'l2rw' ? (oursL2rw?.ms ?? null) : ours ? median([before.ms, after.ms]) : null;
    const oursCpu = cfg.method === 'l2rw' ? (oursL2rw?.cpu_ms ?? null) : ours && before.cpu_ms !== null && after.cpu_ms !== null ? median([before.cpu_ms, after.cpu_ms]) : null;
    const stepMs = status === 'ok' ? (r.step_ms ?? null) : null;
    const stepCpu = status === 'ok' ? (r.step_cpu_ms ?? null) : null;
    const run: ResnetPeerRun = {
      name,
      peer: cfg.peer,
      method: cfg.method,
      clean_batch: cfg.cleanBatch,
      status,
      stage: r.stage ?? c.stage,
      error,
      backend: r.backend ?? null,
      warmup_ms: r.warmup_ms ?? null,
      step_ms: stepMs,
      step_cpu_ms: stepCpu,
      samples: r.samples ?? [],
      tensor_bytes: r.tensor_bytes ?? null,
      events: [...new Set([...(r.events ?? []), ...c.events])],
      wall_s: c.wall_s,
      ours_step_ms: oursMs,
      ours_step_cpu_ms: oursCpu,
      peer_over_ours: stepMs !== null && oursMs ? stepMs / oursMs : null,
      peer_over_ours_cpu: stepCpu !== null && oursCpu ? stepCpu / oursCpu : null,
      ...(status === 'ok' ? {} : { output_tail: c.tail }),
    };
    runs.push(run);
    if (status === 'ok') {
      log(
        `  ${label}: ${stepMs!.toFixed(0)} ms/step (cpu ${run.step_cpu_ms?.toFixed(0) ?? '?'}; first step ${run.warmup_ms?.toFixed(0) ?? '?'} ms)   ` +
          `ours ${oursMs?.toFixed(0) ?? '?'} ms (cpu ${oursCpu?.toFixed(0) ?? '?'})   peer/ours ${run.peer_over_ours?.toFixed(2) ?? '?'}x (cpu ${run.peer_over_ours_cpu?.toFixed(2) ?? '?'}x)`,
      );
    } else {
      log(`  ${label}: ${status} at stage "${run.stage}": ${error}`);
    }
  }
  return { timeout_s: o.timeoutS, warmup: o.warmup, steps: o.steps, ours_samples: oursSamples, runs };
}

/** A plain-text summary of the ResNet peer runs (the CLI prints it after the main tables). */
export function formatResnetPeers(p: ResnetPeersResult, model: string): string {
  const f = (v: number | null | undefined, d = 0) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
  const out = [`${model} peers (same adapter, batch, optimiser; each run bounded at ${p.timeout_s} s; ${p.warmup} warm-up + ${p.steps} timed steps; x = peer / ours):`];
  for (const r of p.runs) {
    const what = `${r.name}${r.method === 'l2rw' ? ` m=${r.clean_batch}` : ''}`;
    out.push(
      r.status === 'ok'
        ? `  ${what}: ${f(r.step_ms)} ms/step (cpu ${f(r.step_cpu_ms)}; first step ${f(r.warmup_ms)} ms), ours ${f(r.ours_step_ms)} ms (cpu ${f(r.ours_step_cpu_ms)}), x ${f(r.peer_over_ours, 2)} wall, ${f(r.peer_over_ours_cpu, 2)} cpu`
        : `  ${what}: ${r.status} at stage "${r.stage}" after ${f(r.wall_s)} s: ${r.error}`,
    );
  }
  return out.join('\n');
}
