// One peer's ResNet training step, in a process of its own (started by bench/peers/resnet.ts with
// vite-node), so that a peer that hangs, runs out of memory or loses its device can be stopped after
// a bounded time without taking the benchmark down with it. It runs on the same adapter as ours (the
// project's Dawn entry point exposed as navigator.gpu, the Vulkan ICD inherited from the parent).
//
// Protocol: the configuration arrives as JSON in L2RW_RESNET_PEER; the process writes lines
// `@@stage <name>` as it goes, `@@event <text>` for WebGPU device-lost and uncaptured-error events,
// and one `@@result <json>` at the end (status 'ok' or 'failed' with the stage and the message).
import { shareNavigatorGpu } from './index';
import { median } from '../lib/timing';
import type { BlockTiming } from '../steps';
import type { ResnetPeerConfig, ResnetPeerChildResult } from './resnet';
import { synthetic } from '../resnet';

const emit = (kind: 'stage' | 'event' | 'result', text: string) => process.stdout.write(`@@${kind} ${text.replace(/\n/g, ' ')}\n`);

let stage = 'start';
const events: string[] = [];
const setStage = (s: string) => {
  stage = s;
  emit('stage', s);
};

/** Wraps navigator.gpu so that every device a peer creates reports its loss and uncaptured errors. */
function watchDevices(): void {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return;
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (opts?: GPURequestAdapterOptions) => {
    const adapter = await requestAdapter(opts);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (desc?: GPUDeviceDescriptor) => {
      const device = await requestDevice(desc);
      void device.lost.then((info) => {
        const t = `device lost at stage "${stage}" (${info.reason}): ${info.message}`;
        events.push(t);
        emit('event', t);
      });
      const onError = (ev: Event) => {
        const err = (ev as GPUUncapturedErrorEvent).error;
        const t = `uncaptured WebGPU ${err?.constructor?.name ?? 'error'} at stage "${stage}": ${err?.message ?? String(ev)}`;
        if (events.length < 20) events.push(t.slice(0, 500));
        emit('event', t.slice(0, 500));
      };
      if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
      else (device as unknown as { onuncapturederror?: (ev: Event) => void }).onuncapturederror = onError;
      return device;
    };
    return adapter;
  };
}

async function main(): Promise<ResnetPeerChildResult> {
  const cfg = JSON.parse(process.env.L2RW_RESNET_PEER ?? 'null') as ResnetPeerConfig | null;
  if (!cfg) throw new Error('L2RW_RESNET_PEER is not set');
  const t0 = performance.now();
  setStage('init');
  await shareNavigatorGpu();
  watchDevices();
  const train = synthetic(cfg.trainN, 3 * 32 * 32, cfg.classes, 1);
  const spec = { depth: cfg.depth, batch: cfg.batch, classes: cfg.classes, lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay, train };
  let runner: { block(steps: number): Promise<BlockTiming>; probe(): Promise<number[]>; dispose(): void; numBytes?(): number };
  let backendInfo = '';
  if (cfg.peer === 'tfjs-webgpu') {
    setStage('import');
    const { loadTf, useBackend, tfResnetRunner } = await import('./tfjs');
    const tf = await loadTf();
    if (!(await useBackend(tf, 'webgpu'))) throw new Error("tf.setBackend('webgpu') failed");
    backendInfo = `tfjs ${tf.version_core} ${tf.getBackend()}`;
    setStage('build');
    runner = await tfResnetRunner(tf, spec);
  } else {
    setStage('import');
    const { loadJax, jaxResnetRunner } = await import('./jaxjs');
    const loaded = await loadJax();
    if ('reason' in loaded) throw new Error(loaded.reason);
    backendInfo = 'jax-js webgpu';
    setStage('build');
    runner = await jaxResnetRunner(loaded.jax, { ...spec, method: cfg.method, cleanBatch: cfg.cleanBatch ?? undefined });
  }
  // The first step traces/compiles every kernel: its time is reported apart.
  setStage('warm-up step');
  const warm = await runner.block(1);
  for (let i = 1; i < cfg.warmup; i++) await runner.block(1);
  const samples: BlockTiming[] = [];
  for (let i = 0; i < cfg.steps; i++) {
    setStage(`timed step ${i + 1}/${cfg.steps}`);
    samples.push(await runner.block(1));
  }
  setStage('check');
  const probe = await runner.probe();
  const bytes = runner.numBytes?.() ?? null;
  runner.dispose();
  const finite = probe.every(Number.isFinite);
  // A WebGPU validation error or a lost device does not throw: the step "runs" without doing its work.
  const firstEvent = events[0] ?? null;
  const ok = finite && !firstEvent;
  return {
    status: ok ? 'ok' : 'failed',
    stage: ok ? 'done' : firstEvent ? (/at stage "([^"]*)"/.exec(firstEvent)?.[1] ?? 'check') : 'check',
    error: ok ? null : (firstEvent ?? `parameters not finite after ${cfg.warmup + cfg.steps} steps (dense bias ${probe.slice(0, 3).join(', ')}, ...)`),
    backend: backendInfo,
    warmup_ms: warm.ms,
    step_ms: median(samples.map((s) => s.ms)),
    step_cpu_ms: samples.every((s) => s.cpu_ms !== null) ? median(samples.map((s) => s.cpu_ms!)) : null,
    samples,
    tensor_bytes: bytes,
    events,
    child_wall_s: (performance.now() - t0) / 1000,
  };
}

main().then(
  (r) => {
    emit('result', JSON.stringify(r));
    process.exit(0);
  },
  (e) => {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const r: Partial<ResnetPeerChildResult> = { status: 'failed', stage, error: message.slice(0, 1000), events };
    emit('result', JSON.stringify(r));
    if (e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    process.exit(1);
  },
);
