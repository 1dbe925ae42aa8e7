// Datasets resident on the GPU: uploaded once, then minibatches are gathered by index on the GPU.
import type { Gpu } from '../gpu/gpu';
import { wordsPerExample, type GatherSource } from '../kernels/gather_batch';

export interface HostDataset {
  /** Flat [n, dim]: bytes (pixels 0..255, scaled by 1/255 on the GPU) or floats. */
  x: Uint8Array | Float32Array;
  y: Uint32Array;
  n: number;
  dim: number;
}

export interface GpuDataset extends GatherSource {
  n: number;
  /** Host copy of the labels, for samplers and class counts. */
  hostLabels: Uint32Array;
  destroy(): void;
}

export function uploadDataset(gpu: Gpu, data: HostDataset, label: string): GpuDataset {
  const { n, dim } = data;
  if (data.x.length !== n * dim) throw new Error(`${label}: expected ${n}x${dim} values, got ${data.x.length}`);
  if (data.y.length !== n) throw new Error(`${label}: expected ${n} labels, got ${data.y.length}`);
  const format = data.x instanceof Uint8Array ? 'u8' : 'f32';
  const wpe = wordsPerExample(dim, format);
  const words = new Uint32Array(Math.max(1, n * wpe));
  if (format === 'u8') {
    const bytes = new Uint8Array(words.buffer);
    for (let i = 0; i < n; i++) bytes.set((data.x as Uint8Array).subarray(i * dim, (i + 1) * dim), i * wpe * 4);
  } else {
    words.set(new Uint32Array((data.x as Float32Array).buffer, (data.x as Float32Array).byteOffset, n * dim));
  }
  const examples = gpu.upload(`${label}.x`, words);
  const labels = gpu.upload(`${label}.y`, data.y.length ? data.y : new Uint32Array(1));
  return {
    examples,
    labels,
    dim,
    format,
    n,
    hostLabels: data.y,
    destroy() {
      gpu.destroy(examples);
      gpu.destroy(labels);
    },
  };
}
