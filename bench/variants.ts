// Kernel variants side by side (issue 16): every product the kernel group times (square matmuls, each
// dense layer's forward, backward-data and weight gradients of LeNet and the MLP, the Gram-form
// alignments) by each form of matmul (src/kernels/matmul.ts: 'blocked' = today's loop-indexed block,
// 'scalar' = the written-out block, 'tiled' = workgroup-memory tiles), and every forward and
// data-gradient convolution by each form of conv2d_forward and conv2d_backward_data ('blocked',
// 'scalar'), and every filter gradient by each form of conv2d_backward_filter ('blocked', 'scalar',
// and 'reduce' where GPU-only forms are measured), the form forced per kernel object. For each item
// the forms are timed in alternating rounds on the same buffers, so that load from other jobs on a
// shared machine hits them alike; the figure per form is its median over rounds, and the speed-up is
// blocked's time over the form's (> 1: the form is faster than today's). Times come from
// GpuTimer.time, which batches dispatches per pass where the timer is coarse (bench/lib/timing.ts);
// a form's time that is only an upper bound (shorter than the timer resolves) is printed "< X" and
// its ratios are null in the JSON and "n/a" in the table.
import type { Gpu } from '../src/gpu/gpu';
import { CONV2D_FORWARD_FORMS, CONV2D_FORWARD_VARIANTS, Conv2dForward, conv2dOutputShape, type Conv2dForwardVariant } from '../src/kernels/conv2d_forward';
import type { Dispatch } from '../src/kernels/kernel';
import { Matmul, MATMUL_FORMS, MATMUL_VARIANTS, type MatmulVariant } from '../src/kernels/matmul';
import { formAvailable, type KernelForms } from '../src/kernels/forms';
import { Rng } from '../src/util/rng';
import { convBenchCases, convDesc, matmulBenchProducts, variantOf } from './kernels';
import { CONV2D_BACKWARD_DATA_FORMS, CONV2D_BACKWARD_DATA_VARIANTS, Conv2dBackwardData, type Conv2dBackwardDataVariant } from '../src/kernels/conv2d_backward_data';
import { CONV2D_BACKWARD_FILTER_FORMS, CONV2D_BACKWARD_FILTER_VARIANTS, Conv2dBackwardFilter, type Conv2dBackwardFilterVariant } from '../src/kernels/conv2d_backward_filter';
import { fmtMs, median, ratio, type GpuTimer } from './lib/timing';

type Variant = MatmulVariant | Conv2dForwardVariant | Conv2dBackwardDataVariant | Conv2dBackwardFilterVariant;

export interface VariantResult {
  kernel: 'matmul' | 'conv2d_forward' | 'conv2d_backward_data' | 'conv2d_backward_filter';
  name: string;
  shape: string;
  config: string;
  /** Median ms per run, per form (an upper bound where `ms_bound`). */
  ms: Partial<Record<Variant, number>>;
  /** Per form: true when its time is only an upper bound (shorter than the timer resolves). */
  ms_bound: Partial<Record<Variant, boolean>>;
  /** Per form: dispatches per timed pass in the last round (> 1 where the timer is coarse). */
  reps: Partial<Record<Variant, number>>;
  /** Process CPU ms per run, per form (Node on a CPU adapter: the figure load moves least). */
  cpu_ms: Partial<Record<Variant, number | null>>;
  /** blocked ms / form ms, per form (wall, then CPU); null where either time is a bound. */
  speedup: Partial<Record<Variant, number | null>>;
  cpu_speedup: Partial<Record<Variant, number | null>>;
}

export interface VariantBenchOptions {
  flopsPerCase: number;
  minIters: number;
  maxIters: number;
  warmup: number;
  rounds: number;
  /** The matmul forms to time; blocked is always among them (the ratios' base). */
  matmulVariants?: readonly MatmulVariant[];
  /** Leave out items above this many FLOPs (the browser keeps to small shapes). */
  maxFlops?: number;
  filter?: string[];
}

/** One thing to time in several forms: its buffers, and a dispatch per form over them. */
interface Item {
  kernel: VariantResult['kernel'];
  name: string;
  shape: string;
  config: string;
  flops: number;
  variants: readonly Variant[];
  /** Makes the buffers and one dispatch per variant (in `variants` order). */
  make(gpu: Gpu, rng: Rng): Promise<{ dispatches: Dispatch[]; buffers: GPUBuffer[] }>;
}

function items(opts: VariantBenchOptions, gpu: Gpu): Item[] {
  // Only the forms this device runs (the subgroup forms need a fixed subgroup size and are off on SwiftShader).
  const here = <V extends string>(forms: KernelForms<V, any, any, any>, variants: readonly V[]) => variants.filter((v) => formAvailable(gpu, forms, v));
  const matmulVariants: MatmulVariant[] = here(MATMUL_FORMS, ['blocked', ...(opts.matmulVariants ?? MATMUL_VARIANTS).filter((v) => v !== 'blocked')]);
  // The GPU-only forms (the tiled ones, the filter gradient's reduce) go with matmul's tiled.
  const gpuForms = matmulVariants.includes('tiled');
  const dataVariants = here(CONV2D_BACKWARD_DATA_FORMS, CONV2D_BACKWARD_DATA_VARIANTS).filter((v) => v !== 'tiled' || gpuForms);
  const forwardVariants = here(CONV2D_FORWARD_FORMS, CONV2D_FORWARD_VARIANTS).filter((v) => v !== 'tiled' || gpuForms);
  const matmuls = new Map<string, Promise<Matmul>>();
  const convs = new Map<string, Promise<Conv2dForward>>();
  const matmulItems: Item[] = matmulBenchProducts().map((p) => ({
    kernel: 'matmul',
    name: p.name,
    shape: `${p.shape.m}x${p.shape.n}x${p.shape.k}`,
    config: variantOf(p.opts),
    flops: Matmul.flops(p.shape),
    variants: matmulVariants,
    async make(gpu, rng) {
      const { m, n, k } = p.shape;
      const buffers = [gpu.upload('a', rng.normals(m * k)), gpu.upload('b', rng.normals(k * n)), gpu.buffer('c', m * n * 4)];
      const bias = p.opts.epilogue && p.opts.epilogue !== 'none' ? gpu.upload('bias', rng.normals(n)) : undefined;
      const kscale = p.opts.kScale ? gpu.upload('kscale', Float32Array.from({ length: k }, () => 0.1 + rng.next())) : undefined;
      for (const b of [bias, kscale]) if (b) buffers.push(b);
      const dispatches = await Promise.all(
        matmulVariants.map(async (variant) => {
          const key = `${variant}|${JSON.stringify(p.opts)}`;
          if (!matmuls.has(key)) matmuls.set(key, Matmul.create(gpu, { ...p.opts, variant }));
          return (await matmuls.get(key)!).plan(buffers[0], buffers[1], buffers[2], p.shape, { bias, kscale }, `${p.name} ${variant}`);
        }),
      );
      return { dispatches, buffers };
    },
  }));
  const dataGrads = new Map<string, Promise<Conv2dBackwardData>>();
  const dataItems: Item[] = convBenchCases('bwd_data').map((c) => ({
    kernel: 'conv2d_backward_data',
    name: c.name,
    shape: convDesc(c.shape),
    config: '-',
    flops: c.flops,
    variants: dataVariants,
    async make(gpu, rng) {
      const s = c.shape;
      const { P, Q } = conv2dOutputShape(s);
      const buffers = [gpu.upload('dy', rng.normals(s.N * s.K * P * Q)), gpu.upload('w', rng.normals(s.K * s.C * s.R * s.S)), gpu.buffer('dx', s.N * s.C * s.H * s.W * 4)];
      const dispatches = await Promise.all(
        dataVariants.map(async (variant) => {
          if (!dataGrads.has(variant)) dataGrads.set(variant, Conv2dBackwardData.create(gpu, { variant }));
          return (await dataGrads.get(variant)!).plan(buffers[0], buffers[1], buffers[2], s, `${c.name} ${variant}`);
        }),
      );
      return { dispatches, buffers };
    },
  }));
  const convItems: Item[] = convBenchCases('fwd').map((c) => ({
    kernel: 'conv2d_forward',
    name: c.name,
    shape: convDesc(c.shape),
    config: 'bias',
    flops: c.flops,
    variants: forwardVariants,
    async make(gpu, rng) {
      const s = c.shape;
      const { P, Q } = conv2dOutputShape(s);
      const buffers = [gpu.upload('x', rng.normals(s.N * s.C * s.H * s.W)), gpu.upload('w', rng.normals(s.K * s.C * s.R * s.S)), gpu.upload('b', rng.normals(s.K)), gpu.buffer('y', s.N * s.K * P * Q * 4)];
      const dispatches = await Promise.all(
        forwardVariants.map(async (variant) => {
          if (!convs.has(variant)) convs.set(variant, Conv2dForward.create(gpu, { epilogue: 'bias', variant }));
          return (await convs.get(variant)!).plan(buffers[0], buffers[1], buffers[2], buffers[3], s, `${c.name} ${variant}`);
        }),
      );
      return { dispatches, buffers };
    },
  }));
  const filterVariants = here(CONV2D_BACKWARD_FILTER_FORMS, CONV2D_BACKWARD_FILTER_VARIANTS).filter((v) => v !== 'reduce' || gpuForms);
  const filters = new Map<string, Promise<Conv2dBackwardFilter>>();
  const filterItems: Item[] = (['filter', 'filter_weighted'] as const).flatMap((kind) =>
    convBenchCases(kind).map((c) => ({
      kernel: 'conv2d_backward_filter',
      name: c.name,
      shape: convDesc(c.shape),
      config: kind === 'filter' ? '-' : 'weighted',
      flops: c.flops,
      variants: filterVariants,
      async make(gpu, rng) {
        const s = c.shape;
        const { P, Q } = conv2dOutputShape(s);
        const weighted = kind === 'filter_weighted';
        // Every weight positive (as in the kernel group): no example skipped.
        const ex = weighted ? gpu.upload('ex', Float32Array.from({ length: s.N }, () => 0.1 + rng.next())) : null;
        const buffers = [gpu.upload('x', rng.normals(s.N * s.C * s.H * s.W)), gpu.upload('dy', rng.normals(s.N * s.K * P * Q)), gpu.buffer('dw', s.K * s.C * s.R * s.S * 4)];
        const dispatches = await Promise.all(
          filterVariants.map(async (variant) => {
            const key = `${variant}|${weighted}`;
            if (!filters.has(key)) filters.set(key, Conv2dBackwardFilter.create(gpu, { exWeights: weighted, variant }));
            return (await filters.get(key)!).plan(buffers[0], buffers[1], ex, buffers[2], s, `${c.name} ${variant}`);
          }),
        );
        if (ex) buffers.push(ex);
        return { dispatches, buffers };
      },
    })),
  );
  return [...matmulItems, ...convItems, ...dataItems, ...filterItems].filter(
    (it) => (opts.maxFlops === undefined || it.flops <= opts.maxFlops) && (!opts.filter?.length || opts.filter.some((f) => it.name.includes(f))),
  );
}

export async function runVariantBench(gpu: Gpu, timer: GpuTimer, opts: VariantBenchOptions, log: (line: string) => void): Promise<VariantResult[]> {
  const rng = new Rng(16);
  const out: VariantResult[] = [];
  let header = '';
  for (const it of items(opts, gpu)) {
    const head = `  ${'kernel / item'.padEnd(34)} ${'shape'.padEnd(34)} ${'config'.padEnd(12)} ${it.variants.map((v) => `${v} ms (cpu)`.padStart(20)).join(' ')}   ${it.variants
      .slice(1)
      .map((v) => `x ${v}`)
      .join('  ')}`;
    if (head !== header) log((header = head));
    const { dispatches, buffers } = await it.make(gpu, rng);
    const iters = Math.max(opts.minIters, Math.min(opts.maxIters, Math.round(opts.flopsPerCase / it.flops)));
    const ms = it.variants.map(() => [] as number[]);
    const cpu = it.variants.map(() => [] as number[]);
    const bound = it.variants.map(() => false);
    const reps = it.variants.map(() => 1);
    for (let r = 0; r < opts.rounds; r++) {
      for (let i = 0; i < it.variants.length; i++) {
        const j = (i + r) % it.variants.length;
        const t = await timer.time([dispatches[j]], iters, r === 0 ? opts.warmup : 0);
        ms[j].push(t.ms);
        bound[j] ||= t.ms_bound || !(t.ms > 0);
        reps[j] = t.reps;
        if (t.cpu_ms !== null) cpu[j].push(t.cpu_ms);
      }
    }
    const res: VariantResult = { kernel: it.kernel, name: it.name, shape: it.shape, config: it.config, ms: {}, ms_bound: {}, reps: {}, cpu_ms: {}, speedup: {}, cpu_speedup: {} };
    it.variants.forEach((v, i) => {
      // A bound in any round: the form's figure is the largest (loosest) upper bound seen.
      res.ms[v] = bound[i] ? Math.max(...ms[i]) : median(ms[i]);
      res.ms_bound[v] = bound[i];
      res.reps[v] = reps[i];
      res.cpu_ms[v] = cpu[i].length ? median(cpu[i]) : null;
    });
    for (const v of it.variants) {
      res.speedup[v] = ratio(res.ms.blocked, res.ms_bound.blocked!, res.ms[v], res.ms_bound[v]!);
      res.cpu_speedup[v] = ratio(res.cpu_ms.blocked, false, res.cpu_ms[v], false);
    }
    out.push(res);
    const cell = (v: Variant) => `${fmtMs(res.ms[v], res.ms_bound[v])}${res.cpu_ms[v] === null ? '' : ` (${fmtMs(res.cpu_ms[v], false, 2)})`}`.padStart(20);
    const x = (v: Variant) => `${res.speedup[v]?.toFixed(2) ?? 'n/a'}${res.cpu_speedup[v] ? ` (${res.cpu_speedup[v]!.toFixed(2)})` : ''}`;
    log(`  ${`${it.kernel} ${it.name}`.padEnd(34)} ${res.shape.padEnd(34)} ${res.config.padEnd(12)} ${it.variants.map(cell).join(' ')}   ${it.variants.slice(1).map(x).join('  ')}`);
    for (const d of dispatches) d.destroy();
    for (const b of buffers) gpu.destroy(b);
  }
  return out;
}
