// Per-kernel throughput: square matmuls, and every product and convolution that a LeNet (Caffe, batch
// 100) or MLP 784-256-10 training step runs, at its exact shape and variant. Inputs are seeded normal
// numbers; the weighted variants get strictly positive example weights, so that no example is skipped
// (the worst case: L2RW's zero weights make the real step cheaper).
import type { Gpu } from '../src/gpu/gpu';
import { Conv2dBackwardData } from '../src/kernels/conv2d_backward_data';
import { Conv2dBackwardFilter } from '../src/kernels/conv2d_backward_filter';
import { Conv2dBiasGrad } from '../src/kernels/conv2d_bias_grad';
import { Conv2dForward, conv2dOutputShape, type Conv2dShape } from '../src/kernels/conv2d_forward';
import type { Dispatch } from '../src/kernels/kernel';
import { ColumnSums } from '../src/kernels/column_sums';
import { GatherBatch } from '../src/kernels/gather_batch';
import { Matmul, type MatmulOptions, type MatmulShape } from '../src/kernels/matmul';
import { MaxPoolBackward } from '../src/kernels/maxpool_backward';
import { MaxPoolForward } from '../src/kernels/maxpool_forward';
import { ReluBackward } from '../src/kernels/relu_backward';
import { RowDots } from '../src/kernels/row_dots';
import { SoftmaxXent } from '../src/kernels/softmax_xent';
import { Rng } from '../src/util/rng';
import { fmtMs, fmtRate, type GpuTimer } from './lib/timing';

export interface KernelResult {
  name: string;
  /** Human-readable shape, e.g. "1024x1024x1024" or "x[100,20,12,12] w[50,20,5,5]". */
  shape: string;
  variant: string;
  /** Median milliseconds per dispatch (timestamp queries, or wall clock); an upper bound where `ms_bound`. */
  ms: number;
  /** flops / ms; a lower bound where `ms_bound`. Always finite. */
  gflops: number;
  /** True when the dispatch was shorter than the timer resolves (bench/lib/timing.ts): ms and gflops are bounds. */
  ms_bound: boolean;
  /** Dispatches per timed pass (> 1 where the timer's resolution is coarse), or per wall batch. */
  reps: number;
  /** Resolution of `ms` (timer quantum / reps), ms; null for the wall clock. */
  resolution_ms: number | null;
  /** Process CPU milliseconds per dispatch (the load-independent figure on a CPU adapter). */
  cpu_ms: number | null;
}

/** One line of the kernel table: bounds as "< X ms" and "> Y GFLOP/s", never Infinity or NaN. */
export function formatKernelLine(r: KernelResult): string {
  return `  ${r.name.padEnd(32)} ${r.shape.padEnd(34)} ${r.variant.padEnd(18)} ${fmtMs(r.ms, r.ms_bound).padStart(9)} ms ${fmtRate(r.gflops, r.ms_bound).padStart(8)} GFLOP/s`;
}

interface Case {
  name: string;
  shape: string;
  variant: string;
  flops: number;
  /** For a product: its shape and options (the variants group, bench/variants.ts, reruns these). */
  matmul?: { shape: MatmulShape; opts: MatmulOptions };
  /** For a convolution: its shape and kind (likewise). */
  conv?: { shape: Conv2dShape; kind: ConvKind };
  /** Plans the dispatch over freshly made buffers; returns it and the buffers to free. */
  make(gpu: Gpu, k: KernelPrograms, rng: Rng): Promise<{ dispatch: Dispatch; buffers: GPUBuffer[] }>;
}

type KernelPrograms = Awaited<ReturnType<typeof loadPrograms>>;

async function loadPrograms(gpu: Gpu) {
  const mm = new Map<string, Promise<Matmul>>();
  return {
    matmul(o: MatmulOptions): Promise<Matmul> {
      const key = JSON.stringify(o);
      if (!mm.has(key)) mm.set(key, Matmul.create(gpu, o));
      return mm.get(key)!;
    },
    convFwd: await Conv2dForward.create(gpu, { epilogue: 'bias' }),
    convBwdData: await Conv2dBackwardData.create(gpu),
    convFilter: await Conv2dBackwardFilter.create(gpu, {}),
    convFilterWeighted: await Conv2dBackwardFilter.create(gpu, { exWeights: true }),
    convBias: await Conv2dBiasGrad.create(gpu, {}),
    convBiasWeighted: await Conv2dBiasGrad.create(gpu, { exWeights: true }),
    poolFwd: await MaxPoolForward.create(gpu),
    poolBwd: await MaxPoolBackward.create(gpu),
    relu: await ReluBackward.create(gpu),
    xent: await SoftmaxXent.create(gpu),
    rowDots: await RowDots.create(gpu, { accumulate: true }),
    columnSums: await ColumnSums.create(gpu, { rowWeights: true }),
    gather: await GatherBatch.create(gpu, { format: 'u8' }),
  };
}

export function variantOf(o: MatmulOptions): string {
  return [o.transA && 'tA', o.transB && 'tB', o.epilogue && o.epilogue !== 'none' && o.epilogue, o.kScale && 'kScale'].filter(Boolean).join(',') || 'nn';
}

const positive = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => 0.1 + rng.next());

function matmulCase(name: string, s: MatmulShape, o: MatmulOptions = {}): Case {
  return {
    name,
    shape: `${s.m}x${s.n}x${s.k}`,
    variant: variantOf(o),
    flops: Matmul.flops(s),
    matmul: { shape: s, opts: o },
    async make(gpu, k, rng) {
      const a = gpu.upload('a', rng.normals(s.m * s.k));
      const b = gpu.upload('b', rng.normals(s.k * s.n));
      const c = gpu.buffer('c', s.m * s.n * 4);
      const bias = o.epilogue && o.epilogue !== 'none' ? gpu.upload('bias', rng.normals(s.n)) : undefined;
      const kscale = o.kScale ? gpu.upload('kscale', positive(rng, s.k)) : undefined;
      const dispatch = (await k.matmul(o)).plan(a, b, c, s, { bias, kscale }, name);
      return { dispatch, buffers: [a, b, c, ...(bias ? [bias] : []), ...(kscale ? [kscale] : [])] };
    },
  };
}

function convDesc(s: Conv2dShape): string {
  return `x[${s.N},${s.C},${s.H},${s.W}] w[${s.K},${s.C},${s.R},${s.S}]`;
}

function convFlops(s: Conv2dShape): number {
  const { P, Q } = conv2dOutputShape(s);
  return 2 * s.N * s.K * P * Q * s.C * s.R * s.S;
}

type ConvKind = 'fwd' | 'bwd_data' | 'filter' | 'filter_weighted' | 'bias' | 'bias_weighted';

function convCase(name: string, s: Conv2dShape, kind: ConvKind): Case {
  const { P, Q } = conv2dOutputShape(s);
  const xN = s.N * s.C * s.H * s.W;
  const yN = s.N * s.K * P * Q;
  const wN = s.K * s.C * s.R * s.S;
  return {
    name,
    shape: convDesc(s),
    variant: kind,
    flops: kind === 'bias' || kind === 'bias_weighted' ? yN : convFlops(s),
    conv: { shape: s, kind },
    async make(gpu, k, rng) {
      const bufs: GPUBuffer[] = [];
      const up = (label: string, n: number) => {
        const b = gpu.upload(label, rng.normals(n));
        bufs.push(b);
        return b;
      };
      const out = (label: string, n: number) => {
        const b = gpu.buffer(label, n * 4);
        bufs.push(b);
        return b;
      };
      const ex = () => {
        const b = gpu.upload('ex', positive(rng, s.N));
        bufs.push(b);
        return b;
      };
      let dispatch: Dispatch;
      switch (kind) {
        case 'fwd':
          dispatch = k.convFwd.plan(up('x', xN), up('w', wN), up('b', s.K), out('y', yN), s, name);
          break;
        case 'bwd_data':
          dispatch = k.convBwdData.plan(up('dy', yN), up('w', wN), out('dx', xN), s, name);
          break;
        case 'filter':
          dispatch = k.convFilter.plan(up('x', xN), up('dy', yN), null, out('dw', wN), s, name);
          break;
        case 'filter_weighted':
          dispatch = k.convFilterWeighted.plan(up('x', xN), up('dy', yN), ex(), out('dw', wN), s, name);
          break;
        case 'bias':
          dispatch = k.convBias.plan(up('dy', yN), null, out('db', s.K), s, name);
          break;
        case 'bias_weighted':
          dispatch = k.convBiasWeighted.plan(up('dy', yN), ex(), out('db', s.K), s, name);
          break;
      }
      return { dispatch, buffers: bufs };
    },
  };
}

/**
 * A memory-bound kernel: `flops` counts one operation per element touched, so its "GFLOP/s" is
 * Gelements/s.
 */
function simpleCase(name: string, shape: string, variant: string, elements: number, plan: (gpu: Gpu, k: KernelPrograms, rng: Rng, up: (n: number) => GPUBuffer, out: (n: number) => GPUBuffer, keep: (b: GPUBuffer) => GPUBuffer) => Dispatch): Case {
  return {
    name,
    shape,
    variant,
    flops: elements,
    async make(gpu, k, rng) {
      const bufs: GPUBuffer[] = [];
      const up = (n: number) => {
        const b = gpu.upload('in', rng.normals(n));
        bufs.push(b);
        return b;
      };
      const out = (n: number) => {
        const b = gpu.buffer('out', n * 4);
        bufs.push(b);
        return b;
      };
      const keep = (b: GPUBuffer) => {
        bufs.push(b);
        return b;
      };
      return { dispatch: plan(gpu, k, rng, up, out, keep), buffers: bufs };
    },
  };
}

function poolCases(prefix: string, N: number, C: number, H: number): Case[] {
  const P = H / 2;
  const shape = `[${N},${C},${H},${H}]`;
  return [
    simpleCase(`${prefix} maxpool fwd`, shape, 'fwd', N * C * H * H, (_g, k, _r, up, out) => k.poolFwd.plan(up(N * C * H * H), out(N * C * P * P), out(N * C * P * P), { N, C, H, W: H }, prefix)),
    simpleCase(`${prefix} maxpool bwd`, shape, 'bwd', N * C * H * H, (gpu, k, rng, up, out, keep) => {
      // Valid in-plane argmax indices (the top-left of each window).
      const am = new Uint32Array(N * C * P * P);
      for (let i = 0; i < am.length; i++) {
        const pq = i % (P * P);
        const p = Math.floor(pq / P);
        const q = pq % P;
        am[i] = (2 * p + rng.int(2)) * H + 2 * q + rng.int(2);
      }
      return k.poolBwd.plan(up(N * C * P * P), keep(gpu.upload('argmax', am)), out(N * C * H * H), { N, C, H, W: H }, prefix);
    }),
  ];
}

const B = 100;
export const SQUARE_SIZES = [128, 256, 512, 1024] as const;
const conv1: Conv2dShape = { N: B, C: 1, H: 28, W: 28, K: 20, R: 5, S: 5, stride: 1, pad: 0 };
const conv2: Conv2dShape = { N: B, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 };
/** The validation batch of L2RW (10 clean examples) runs the same convolutions at N = 10. */
const conv1Val: Conv2dShape = { ...conv1, N: 10 };
const conv2Val: Conv2dShape = { ...conv2, N: 10 };

/** Every product the kernel group times, in its order: name, shape, options. */
export function matmulBenchProducts(): { name: string; shape: MatmulShape; opts: MatmulOptions }[] {
  return cases().flatMap((c) => (c.matmul ? [{ name: c.name, ...c.matmul }] : []));
}

/** Every convolution of one kind the kernel group times (LeNet's, batch 100 and 10). */
export function convBenchCases(kind: ConvKind): { name: string; shape: Conv2dShape; flops: number }[] {
  return cases().flatMap((c) => (c.conv?.kind === kind ? [{ name: c.name, shape: c.conv.shape, flops: c.flops }] : []));
}

export { convDesc };

function cases(): Case[] {
  const square = SQUARE_SIZES.map((n) => matmulCase(`matmul ${n}`, { m: n, n, k: n }));
  const dense = (prefix: string, fanIn: number, out: number, relu: boolean): Case[] => [
    matmulCase(`${prefix} fwd`, { m: B, n: out, k: fanIn }, { transB: true, epilogue: relu ? 'bias_relu' : 'bias' }),
    matmulCase(`${prefix} bwd-data`, { m: B, n: fanIn, k: out }),
    matmulCase(`${prefix} wgrad weighted`, { m: out, n: fanIn, k: B }, { transA: true, kScale: true }),
    matmulCase(`${prefix} wgrad val`, { m: out, n: fanIn, k: 10 }, { transA: true }),
  ];
  return [
    ...square,
    convCase('lenet conv1 fwd', conv1, 'fwd'),
    convCase('lenet conv1 wgrad weighted', conv1, 'filter_weighted'),
    convCase('lenet conv1 wgrad val', conv1Val, 'filter'),
    convCase('lenet conv1 bias-grad weighted', conv1, 'bias_weighted'),
    convCase('lenet conv2 fwd', conv2, 'fwd'),
    convCase('lenet conv2 bwd-data', conv2, 'bwd_data'),
    convCase('lenet conv2 wgrad weighted', conv2, 'filter_weighted'),
    convCase('lenet conv2 wgrad val', conv2Val, 'filter'),
    convCase('lenet conv2 bias-grad weighted', conv2, 'bias_weighted'),
    convCase('lenet conv1 fwd val', conv1Val, 'fwd'),
    convCase('lenet conv2 fwd val', conv2Val, 'fwd'),
    convCase('lenet conv2 bwd-data val', conv2Val, 'bwd_data'),
    ...dense('lenet dense 800->500', 800, 500, true),
    ...dense('lenet dense 500->2', 500, 2, false),
    ...dense('mlp dense 784->256', 784, 256, true),
    ...dense('mlp dense 256->10', 256, 10, false),
    ...poolCases('lenet pool1', B, 20, 24),
    ...poolCases('lenet pool2', B, 50, 8),
    simpleCase('lenet relu-bwd 500', `[${B},500]`, 'in place', B * 500, (_g, k, _r, up) => k.relu.planInPlace(up(B * 500), up(B * 500), B * 500)),
    simpleCase('lenet xent', `[${B},2]`, '-', B * 2, (gpu, k, _r, up, out, keep) => k.xent.plan(up(B * 2), keep(gpu.upload('y', new Uint32Array(B))), up(B), out(B), out(B * 2), B, 2)),
    simpleCase('lenet gather u8', `[${B},784]`, 'u8', B * 784, (gpu, k, rng, _up, out, keep) => {
      const examples = keep(gpu.upload('examples', Uint32Array.from({ length: 5000 * 196 }, () => rng.int(0xffffffff))));
      const labels = keep(gpu.upload('labels', new Uint32Array(5000)));
      const idx = keep(gpu.upload('idx', Uint32Array.from({ length: B }, () => rng.int(5000))));
      return k.gather.plan({ examples, labels, dim: 784, format: 'u8' }, idx, out(B * 784), out(B), B, 0);
    }),
    simpleCase('lenet row-dots conv1 tangent', `[${B},11520]`, 'accumulate', B * 11520 * 2, (_g, k, _r, up, out) => k.rowDots.plan(up(B * 11520), up(B * 11520), out(B), B, 11520)),
    simpleCase('lenet row-dots conv2 tangent', `[${B},3200]`, 'accumulate', B * 3200 * 2, (_g, k, _r, up, out) => k.rowDots.plan(up(B * 3200), up(B * 3200), out(B), B, 3200)),
    simpleCase('lenet column-sums 500', `[${B},500]`, 'weighted', B * 500, (_g, k, _r, up, out) => k.columnSums.plan(up(B * 500), out(500), B, 500, up(B))),
    // Gram-form alignments of the MLP's dense layers (validation batch of 10).
    matmulCase('mlp gram signals 256', { m: B, n: 10, k: 256 }, { transB: true }),
    matmulCase('mlp gram inputs 784', { m: B, n: 10, k: 784 }, { transB: true, epilogue: 'bias' }),
  ];
}

export interface KernelBenchOptions {
  /** Target GPU work per timed case in FLOPs (small kernels get more repetitions). */
  flopsPerCase: number;
  minIters: number;
  maxIters: number;
  warmup: number;
  /** Only cases whose name contains one of these strings. */
  filter?: string[];
  onResult?: (r: KernelResult) => void;
}

export async function runKernelBench(gpu: Gpu, timer: GpuTimer, opts: KernelBenchOptions): Promise<KernelResult[]> {
  const k = await loadPrograms(gpu);
  const rng = new Rng(2024);
  const out: KernelResult[] = [];
  for (const c of cases()) {
    if (opts.filter?.length && !opts.filter.some((f) => c.name.includes(f))) continue;
    const { dispatch, buffers } = await c.make(gpu, k, rng);
    const iters = Math.max(opts.minIters, Math.min(opts.maxIters, Math.round(opts.flopsPerCase / c.flops)));
    const t = await timer.time([dispatch], iters, opts.warmup);
    const gflops = c.flops / t.ms / 1e6;
    const r: KernelResult = {
      name: c.name,
      shape: c.shape,
      variant: c.variant,
      ms: t.ms,
      // A zero time can only come from a timer that does not say it is coarse; keep the JSON finite.
      gflops: Number.isFinite(gflops) ? gflops : 0,
      ms_bound: t.ms_bound || !(t.ms > 0),
      reps: t.reps,
      resolution_ms: t.resolution_ms,
      cpu_ms: t.cpu_ms,
    };
    out.push(r);
    opts.onResult?.(r);
    for (const b of buffers) gpu.destroy(b);
  }
  return out;
}
