// Matmul throughput on this machine's WebGPU adapter: 1024^3 and the products an MLP 784-256-10 and
// LeNet-5 (batch 100) run per training step. Each timing records N copies of one dispatch into one
// command buffer, submits it once and waits for onSubmittedWorkDone(), after a warm-up; the figure
// is the median over repeats of (elapsed / N). On Linux it also prints the CPU time that threads other
// than Node's main thread (for a CPU driver: its worker threads) spent per product, which unlike wall
// time hardly moves when other jobs share the machine.
//   npx vite-node bench/matmul.ts            (lavapipe, or the GPU Dawn finds)
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx vite-node bench/matmul.ts
import { readdirSync, readFileSync } from 'node:fs';
import { Gpu } from '../src/gpu/gpu';
import { encodeDispatches } from '../src/kernels/kernel';
import { Matmul, type MatmulOptions } from '../src/kernels/matmul';
import { Rng } from '../src/util/rng';

interface Case {
  label: string;
  m: number;
  n: number;
  k: number;
  opts?: MatmulOptions;
}

const B = 100;
const CASES: Case[] = [
  { label: 'square 1024^3', m: 1024, n: 1024, k: 1024 },
  // MLP 784-256-10: forward x·W1ᵀ, h·W2ᵀ; backward dh = dy·W2, weighted dW = dyᵀ·diag(w)·x.
  { label: 'mlp fc1 fwd  x·W1ᵀ', m: B, n: 256, k: 784, opts: { transB: true, epilogue: 'bias_relu' } },
  { label: 'mlp fc2 fwd  h·W2ᵀ', m: B, n: 10, k: 256, opts: { transB: true, epilogue: 'bias' } },
  { label: 'mlp fc2 bwd  dy·W2', m: B, n: 256, k: 10 },
  { label: 'mlp fc2 dW   dyᵀ·w·h', m: 10, n: 256, k: B, opts: { transA: true, kScale: true } },
  { label: 'mlp fc1 dW   dyᵀ·w·x', m: 256, n: 784, k: B, opts: { transA: true, kScale: true } },
  // LeNet-5 on 28x28: fully connected 400-120-84-10, and the two convolutions as im2col products.
  { label: 'lenet fc1 fwd', m: B, n: 120, k: 400, opts: { transB: true, epilogue: 'bias_relu' } },
  { label: 'lenet fc2 fwd', m: B, n: 84, k: 120, opts: { transB: true, epilogue: 'bias_relu' } },
  { label: 'lenet fc3 fwd', m: B, n: 10, k: 84, opts: { transB: true, epilogue: 'bias' } },
  { label: 'lenet fc1 bwd dy·W', m: B, n: 400, k: 120 },
  { label: 'lenet fc1 dW dyᵀ·w·x', m: 120, n: 400, k: B, opts: { transA: true, kScale: true } },
  { label: 'lenet conv1 im2col', m: B * 28 * 28, n: 6, k: 25, opts: { transB: true, epilogue: 'bias_relu' } },
  { label: 'lenet conv2 im2col', m: B * 10 * 10, n: 16, k: 150, opts: { transB: true, epilogue: 'bias_relu' } },
  { label: 'lenet conv2 dW', m: 16, n: 150, k: B * 10 * 10, opts: { transA: true } },
];

const REPEATS = 5;
/** Wall time aimed at per timed batch, so small products still run long enough to time. */
const BATCH_MS = 250;

/** CPU ms used so far by this process's threads other than the main one; null without /proc. */
function workerCpuMs(): number | null {
  try {
    let ticks = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      if (Number(tid) === process.pid) continue;
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (clock ticks of 10 ms)
    }
    return ticks * 10;
  } catch {
    return null;
  }
}

function variant(o: MatmulOptions = {}): string {
  const parts = [o.transA && 'tA', o.transB && 'tB', o.epilogue && o.epilogue !== 'none' && o.epilogue, o.kScale && 'kScale'];
  return parts.filter(Boolean).join(',') || '-';
}

async function main(): Promise<void> {
  const gpu = await Gpu.create();
  console.log(`adapter: ${gpu.name}`);
  console.log(
    `${'product'.padEnd(22)} ${'m x n x k'.padEnd(18)} ${'variant'.padEnd(20)} ${'iters'.padStart(5)} ` +
      `${'ms'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'cpu ms'.padStart(9)}`,
  );
  const rng = new Rng(1);
  const matmuls = new Map<string, Matmul>();
  for (const c of CASES) {
    const opts = c.opts ?? {};
    const key = variant(opts);
    let mm = matmuls.get(key);
    if (!mm) matmuls.set(key, (mm = await Matmul.create(gpu, opts)));
    const a = gpu.upload('a', rng.normals(c.m * c.k));
    const b = gpu.upload('b', rng.normals(c.k * c.n));
    const out = gpu.buffer('c', c.m * c.n * 4);
    const bias = opts.epilogue && opts.epilogue !== 'none' ? gpu.upload('bias', rng.normals(c.n)) : undefined;
    const kscale = opts.kScale ? gpu.upload('kscale', rng.normals(c.k)) : undefined;
    const dispatch = mm.plan(a, b, out, c, { bias, kscale }, c.label);
    const flops = Matmul.flops(c);
    const batch = async (count: number): Promise<number> => {
      const encoder = gpu.device.createCommandEncoder({ label: 'bench' });
      encodeDispatches(encoder, new Array(count).fill(dispatch), 'bench');
      const t0 = performance.now();
      gpu.submit([encoder.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    await batch(1); // first use compiles the pipeline in some drivers
    const iters = Math.max(1, Math.min(1000, Math.round(BATCH_MS / (await batch(1)))));
    const times: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const cpu0 = workerCpuMs();
      times.push((await batch(iters)) / iters);
      const cpu1 = workerCpuMs();
      if (cpu0 !== null && cpu1 !== null) cpu.push((cpu1 - cpu0) / iters);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
    const ms = median(times);
    const cpuMs = cpu.length ? median(cpu).toFixed(3) : '-';
    const shape = `${c.m}x${c.n}x${c.k}`;
    console.log(
      `${c.label.padEnd(22)} ${shape.padEnd(18)} ${variant(opts).padEnd(20)} ${String(iters).padStart(5)} ` +
        `${ms.toFixed(3).padStart(9)} ${(flops / ms / 1e6).toFixed(2).padStart(8)} ${cpuMs.padStart(9)}`,
    );
    for (const buf of [a, b, out, bias, kscale]) if (buf) gpu.destroy(buf);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
