// Minibatch gather from a GPU-resident dataset (u8-packed or f32) into float inputs and u32 labels.
import source from '../shaders/gather_batch.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const gatherBatchDef: KernelDef = {
  name: 'gather_batch',
  source,
  bindings: ['read', 'read', 'read', 'rw', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['dim', 'u32'],
    ['offset', 'u32'],
    ['words_per_example', 'u32'],
  ],
};

export interface GatherSource {
  examples: BufferRef;
  labels: BufferRef;
  dim: number;
  format: 'u8' | 'f32';
}

export const wordsPerExample = (dim: number, format: 'u8' | 'f32'): number => (format === 'u8' ? Math.ceil(dim / 4) : dim);

export class GatherBatch {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel) {}

  /** `sequential`: take examples offset..offset+n-1 (evaluation) instead of indices[offset + i]. */
  static async create(gpu: Gpu, opts: { format: 'u8' | 'f32'; sequential?: boolean }): Promise<GatherBatch> {
    return new GatherBatch(gpu, await Kernel.load(gpu, gatherBatchDef, { WG, U8: opts.format === 'u8' ? 1 : 0, SEQUENTIAL: opts.sequential ? 1 : 0 }));
  }

  /** Per-step changes go through `dispatch.setUniforms({...uniforms, offset})`. */
  plan(src: GatherSource, indices: BufferRef, x: BufferRef, y: BufferRef, n: number, offset: number, label = 'gather'): Dispatch {
    const uniforms = { n, dim: src.dim, offset, words_per_example: wordsPerExample(src.dim, src.format) };
    return this.kernel.plan(label, [src.examples, src.labels, indices, x, y], uniforms, workgroups1d(this.gpu, n * src.dim, WG));
  }
}
