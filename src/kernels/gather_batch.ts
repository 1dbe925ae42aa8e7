// Minibatch gather from a GPU-resident dataset (u8-packed or f32) into float inputs and u32 labels,
// optionally with the image transforms of CIFAR training: random crop with zero padding, horizontal
// flip, per-channel normalisation (see gather_batch.wgsl).
import source from '../shaders/gather_batch.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { pcgHash } from '../util/rng';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const gatherBatchDef: KernelDef = {
  name: 'gather_batch',
  source,
  bindings: ['read', 'read', 'read', 'read', 'rw', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['dim', 'u32'],
    ['offset', 'u32'],
    ['words_per_example', 'u32'],
    ['channels', 'u32'],
    ['height', 'u32'],
    ['width', 'u32'],
    ['pad', 'u32'],
    ['seed', 'u32'],
    ['step', 'u32'],
  ],
};

export interface GatherSource {
  examples: BufferRef;
  labels: BufferRef;
  dim: number;
  format: 'u8' | 'f32';
}

export const wordsPerExample = (dim: number, format: 'u8' | 'f32'): number => (format === 'u8' ? Math.ceil(dim / 4) : dim);

export interface GatherVariant {
  format: 'u8' | 'f32';
  /** Take examples offset..offset+n-1 (evaluation) instead of indices[offset + i]. */
  sequential?: boolean;
  /** Random crop and flip (needs GatherTransform.augment at plan time). */
  augment?: boolean;
  /** Per-channel normalisation (needs GatherTransform.norm at plan time). */
  normalize?: boolean;
}

export interface GatherTransform {
  /** Per-example image shape [C, H, W] (H = W = 1 and C = dim for vectors). */
  shape: readonly [number, number, number];
  augment?: { pad: number; seed: number };
  /** [mean_0..C−1, 1/std_0..C−1] (see normalizationTable). */
  norm?: BufferRef;
}

/** A planned gather whose batch (offset into the indices) and step (random draws) change per step. */
export interface GatherDispatch extends Dispatch {
  setBatch(offset: number, step: number): void;
}

export class GatherBatch {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel, readonly variant: Readonly<GatherVariant>) {}

  static async create(gpu: Gpu, variant: GatherVariant): Promise<GatherBatch> {
    const kernel = await Kernel.load(gpu, gatherBatchDef, {
      WG,
      U8: variant.format === 'u8' ? 1 : 0,
      SEQUENTIAL: variant.sequential ? 1 : 0,
      AUGMENT: variant.augment ? 1 : 0,
      NORMALIZE: variant.normalize ? 1 : 0,
    });
    return new GatherBatch(gpu, kernel, variant);
  }

  plan(src: GatherSource, indices: BufferRef, x: BufferRef, y: BufferRef, n: number, offset: number, label = 'gather', transform?: GatherTransform): GatherDispatch {
    const { augment, normalize } = this.variant;
    const [channels, height, width] = transform?.shape ?? [src.dim, 1, 1];
    if (channels * height * width !== src.dim) throw new Error(`${label}: image shape [${transform?.shape}] does not hold the ${src.dim} values of an example`);
    if (Boolean(augment) !== Boolean(transform?.augment)) throw new Error(`${label}: augmentation settings are needed exactly for the augmenting variant`);
    if (Boolean(normalize) !== Boolean(transform?.norm)) throw new Error(`${label}: a normalisation table is needed exactly for the normalising variant`);
    const pad = transform?.augment?.pad ?? 0;
    if (!Number.isInteger(pad) || pad < 0 || pad > 100) throw new Error(`${label}: crop padding must be an integer in [0, 100], got ${pad}`);
    const seed = (transform?.augment?.seed ?? 0) >>> 0;
    const uniforms = (o: number, step: number) => ({
      n, dim: src.dim, offset: o, words_per_example: wordsPerExample(src.dim, src.format), channels, height, width, pad, seed, step: step >>> 0,
    });
    const dispatch = this.kernel.plan(label, [src.examples, src.labels, indices, transform?.norm ?? this.gpu.placeholder, x, y], uniforms(offset, 0), workgroups1d(this.gpu, n * src.dim, WG));
    return { ...dispatch, setBatch: (o, step) => dispatch.setUniforms(uniforms(o, step)) };
  }
}

/** The normalisation table of a GatherTransform: per-channel means, then reciprocal standard deviations. */
export function normalizationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== std.length || !mean.length) throw new Error(`normalisation needs one mean and one std per channel, got ${mean.length} and ${std.length}`);
  if (std.some((s) => !(s > 0) || !Number.isFinite(s)) || mean.some((m) => !Number.isFinite(m))) throw new Error('normalisation needs finite means and positive standard deviations');
  return Float32Array.from([...mean, ...std.map((s) => 1 / s)]);
}

/**
 * Host twin of the kernel's augmentation: for example i of a batch at `step`, the source pixel
 * (row, column) that output pixel (r, col) reads, or null where it falls in the zero padding.
 */
export function augmentSource(seed: number, step: number, i: number, pad: number, height: number, width: number, r: number, col: number): [number, number] | null {
  const h = pcgHash((pcgHash((pcgHash(seed >>> 0) ^ (step >>> 0)) >>> 0) ^ i) >>> 0);
  const span = 2 * pad + 1;
  const sr = r + ((h & 0xff) % span) - pad;
  const flipped = ((h >>> 16) & 1) === 1 ? width - 1 - col : col;
  const sc = flipped + (((h >>> 8) & 0xff) % span) - pad;
  return sr >= 0 && sr < height && sc >= 0 && sc < width ? [sr, sc] : null;
}
