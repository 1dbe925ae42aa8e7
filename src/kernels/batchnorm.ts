// Batch normalisation kernels: a per-channel pass (statistics, sums, and the per-channel coefficients
// of the elementwise pass; batchnorm_reduce.wgsl) and an elementwise pass (batchnorm_apply.wgsl),
//   out = A_c·src + B_c·x̂ + D_c,   x̂ = (x − mean_c)·invstd_c,
// over a batch [N, C, HW] (an image [C, H, W] has HW = H·W; a vector [D] has C = D, HW = 1). One form
// serves every pass of the op (src/train/ops/batchnorm.ts):
//   forward (training):   reduce {stats: 'batch'} then apply without src: y = γ x̂ + β;
//   forward (evaluation): reduce {stats: 'running'}, the same apply;
//   backward:             reduce {stats: 'given', sums} over dy, apply with src = dy:
//                         dx = γ·invstd·(dy − S1/M − x̂·S2/M);
//   tangent:              reduce {stats: 'given', sums, affine} over dx, apply with src = dx:
//                         dy = γ·invstd·(dx − T1/M − x̂·T2/M) + G_γ x̂ + G_β.
//
// Buffers the caller keeps per batch plan (see sectionStride): stats [2·stride] = [mean | invstd]
// (written by the forward pass, read by the others), coef [5·stride] = [A | B | D | S1 | S2].
import applySource from '../shaders/batchnorm_apply.wgsl?raw';
import reduceSource from '../shaders/batchnorm_reduce.wgsl?raw';
import { isWholeBuffer, refBuffer, refOffset, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroupsCapped, type Dispatch, type KernelDef } from './kernel';

/** Invocations per workgroup of both kernels (workgroup_sum's scratch holds 256). */
const WG = 256;

export const batchnormReduceDef: KernelDef = {
  name: 'batchnorm_reduce',
  source: reduceSource,
  bindings: ['read', 'read', 'read', 'read', 'read', 'rw', 'rw', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['channels', 'u32'],
    ['hw', 'u32'],
    ['stride', 'u32'],
    ['mean_offset', 'u32'],
    ['var_offset', 'u32'],
    ['eps', 'f32'],
    ['momentum', 'f32'],
  ],
};

export const batchnormApplyDef: KernelDef = {
  name: 'batchnorm_apply',
  source: applySource,
  bindings: ['read', 'read', 'read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['total', 'u32'],
    ['channels', 'u32'],
    ['hw', 'u32'],
    ['stride', 'u32'],
  ],
};

export interface BatchnormShape {
  /** Examples. */
  N: number;
  /** Channels (features of a vector input). */
  C: number;
  /** Values per channel and example (H·W; 1 for a vector input). */
  HW: number;
}

/** Sections of the stats and coef buffers (in floats). */
export const STATS_SECTIONS = 2;
export const COEF_SECTIONS = 5;

/**
 * Floats between the sections of the stats and coef buffers: C rounded up to the storage-offset
 * alignment, so every section (e.g. S1 and S2 for the weight gradients) can be bound on its own.
 */
export function sectionStride(gpu: Gpu, C: number): number {
  const align = gpu.limits.minStorageBufferOffsetAlignment / 4;
  return Math.ceil(C / align) * align;
}

/** Section k (0: A, 1: B, 2: D, 3: S1, 4: S2) of a coef buffer, C floats. */
export function coefSection(gpu: Gpu, coef: GPUBuffer, k: number, C: number): BufferRef {
  return { buffer: coef, offset: k * sectionStride(gpu, C) * 4, size: C * 4 };
}

export interface BatchnormReduceOptions {
  /** 'batch': statistics of x (training forward); 'running': from the running statistics (evaluation); 'given': read from `stats`. */
  stats: 'batch' | 'running' | 'given';
  /** With stats 'batch': also update the running statistics (plan then needs `running` and a momentum). */
  updateRunning?: boolean;
  /** S1 = Σ src, S2 = Σ src·x̂ and the backward coefficients (plan then needs `src` and `gamma`). */
  sums?: boolean;
  /** B += a, D += b (plan then needs `a` and `b`). */
  affine?: boolean;
}

export interface BatchnormReduceIo {
  x: BufferRef;
  stats: BufferRef;
  coef: BufferRef;
  /** dy or dx (sums). */
  src?: BufferRef;
  gamma?: BufferRef;
  /** Affine terms: (γ, β) in the forward pass, (G_γ, G_β) in the tangent. */
  a?: BufferRef;
  b?: BufferRef;
  /** running_mean and running_var: two ranges of one buffer (stats 'running', or updateRunning). */
  running?: { mean: BufferRef; var: BufferRef };
}

function byteSize(ref: BufferRef): number {
  return isWholeBuffer(ref) ? ref.size : ref.size ?? ref.buffer.size - refOffset(ref);
}

/** One binding over both running statistics, and each one's offset (floats) inside it. */
function runningSpan(mean: BufferRef, variance: BufferRef, label: string): { span: BufferRef; meanOffset: number; varOffset: number } {
  const buffer = refBuffer(mean);
  if (refBuffer(variance) !== buffer) throw new Error(`${label}: running_mean and running_var must be ranges of one buffer`);
  const [m0, v0] = [refOffset(mean), refOffset(variance)];
  const start = Math.min(m0, v0);
  const end = Math.max(m0 + byteSize(mean), v0 + byteSize(variance));
  if ((m0 - start) % 4 || (v0 - start) % 4) throw new Error(`${label}: running statistics must be float-aligned`);
  return { span: { buffer, offset: start, size: end - start }, meanOffset: (m0 - start) / 4, varOffset: (v0 - start) / 4 };
}

export class BatchnormReduce {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel, readonly options: Readonly<BatchnormReduceOptions>) {}

  static async create(gpu: Gpu, options: BatchnormReduceOptions): Promise<BatchnormReduce> {
    if (options.updateRunning && options.stats !== 'batch') throw new Error(`batchnorm_reduce: updateRunning needs stats 'batch'`);
    const kernel = await Kernel.load(gpu, batchnormReduceDef, {
      WG,
      STATS: { batch: 0, running: 1, given: 2 }[options.stats],
      UPDATE_RUNNING: options.updateRunning ? 1 : 0,
      HAS_SRC: options.sums ? 1 : 0,
      AFFINE: options.affine ? 1 : 0,
    });
    return new BatchnormReduce(gpu, kernel, options);
  }

  /** One workgroup per channel. `eps` is read with stats 'batch' or 'running', `momentum` with updateRunning. */
  plan(io: BatchnormReduceIo, shape: BatchnormShape, hp: { eps: number; momentum?: number }, label = 'batchnorm_reduce'): Dispatch {
    const o = this.options;
    const need = (what: string, v: unknown, wanted: boolean) => {
      if (wanted !== (v !== undefined)) throw new Error(`${label}: ${what} must be given exactly when the variant reads it (this one ${wanted ? 'does' : 'does not'})`);
    };
    const usesRunning = o.stats === 'running' || Boolean(o.updateRunning);
    need('src', io.src, Boolean(o.sums));
    need('gamma', io.gamma, Boolean(o.sums));
    need('a', io.a, Boolean(o.affine));
    need('b', io.b, Boolean(o.affine));
    need('running', io.running, usesRunning);
    if (o.updateRunning && !(hp.momentum !== undefined && hp.momentum > 0 && hp.momentum <= 1)) throw new Error(`${label}: momentum must be in (0, 1], got ${hp.momentum}`);
    const { N, C, HW } = shape;
    if (C > this.gpu.limits.maxComputeWorkgroupsPerDimension) throw new Error(`${label}: ${C} channels exceed the workgroup limit`);
    const span = io.running ? runningSpan(io.running.mean, io.running.var, label) : null;
    // Unread slots: read-only ones get x (read-only bindings may alias), the running slot (read_write)
    // the device's placeholder (it must not alias a read-only binding).
    return this.kernel.plan(
      label,
      [io.src ?? io.x, io.x, io.gamma ?? io.x, io.a ?? io.x, io.b ?? io.x, io.stats, span?.span ?? this.gpu.placeholder, io.coef],
      {
        n: N,
        channels: C,
        hw: HW,
        stride: sectionStride(this.gpu, C),
        mean_offset: span?.meanOffset ?? 0,
        var_offset: span?.varOffset ?? 0,
        eps: hp.eps,
        momentum: hp.momentum ?? 0,
      },
      [C],
    );
  }
}

export class BatchnormApply {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel, readonly hasSrc: boolean) {}

  /** `src`: out = A·src + B·x̂ + D (backward, tangent with an input tangent); otherwise B·x̂ + D. */
  static async create(gpu: Gpu, options: { src?: boolean; relu?: boolean } = {}): Promise<BatchnormApply> {
    const kernel = await Kernel.load(gpu, batchnormApplyDef, { WG, HAS_SRC: options.src ? 1 : 0, RELU: options.relu ? 1 : 0 });
    return new BatchnormApply(gpu, kernel, Boolean(options.src));
  }

  /** `src` exactly for the src variant; `out` must be a buffer none of the inputs is in. */
  plan(x: BufferRef, src: BufferRef | null, stats: BufferRef, coef: BufferRef, out: BufferRef, shape: BatchnormShape, label = 'batchnorm_apply'): Dispatch {
    if (this.hasSrc !== (src !== null)) throw new Error(`${label}: src must be given exactly for the src variant`);
    const o = refBuffer(out);
    if ([x, src, stats, coef].some((r) => r && refBuffer(r) === o)) {
      throw new Error(`${label}: the output must be in a buffer other than the inputs' (WebGPU forbids binding one buffer read-only and writable in a dispatch)`);
    }
    const { N, C, HW } = shape;
    const total = N * C * HW;
    return this.kernel.plan(label, [x, src ?? x, stats, coef, out], { total, channels: C, hw: HW, stride: sectionStride(this.gpu, C) }, workgroupsCapped(this.gpu, total, WG));
  }
}
