// All parameters of a model live in one flat buffer (and so do their gradients and momentum), each
// tensor starting at a multiple of the storage-offset alignment (256 bytes), so every tensor can be
// bound on its own and the optimiser is a single dispatch over the whole buffer. Padding stays zero.
import type { BufferRef } from '../gpu/gpu';
import { resolveModel, type ModelSpec, type ResolvedLayer } from './spec';

export interface TensorSlot {
  name: string;
  shape: number[];
  size: number;
  /** Offset in floats inside the padded buffer. */
  offset: number;
  /** Offset in floats inside the dense (unpadded) vector, the reference's layout. */
  denseOffset: number;
}

export interface LayerSlots {
  layer: ResolvedLayer;
  weight: TensorSlot;
  bias: TensorSlot;
}

export class ParamLayout {
  readonly tensors: TensorSlot[] = [];
  readonly layers: ResolvedLayer[];
  /** Floats in the padded buffer. */
  readonly paddedSize: number;
  /** Floats in the dense vector (the number of parameters). */
  readonly denseSize: number;
  private readonly byLayer = new Map<number, LayerSlots>();

  constructor(readonly spec: ModelSpec, alignBytes = 256) {
    const alignFloats = alignBytes / 4;
    this.layers = resolveModel(spec);
    let offset = 0;
    let dense = 0;
    for (const layer of this.layers) {
      const slots: TensorSlot[] = [];
      for (const p of layer.params) {
        const slot = { name: p.name, shape: p.shape, size: p.size, offset, denseOffset: dense };
        this.tensors.push(slot);
        slots.push(slot);
        offset += Math.ceil(p.size / alignFloats) * alignFloats;
        dense += p.size;
      }
      if (slots.length) this.byLayer.set(layer.index, { layer, weight: slots[0], bias: slots[1] });
    }
    this.paddedSize = offset;
    this.denseSize = dense;
  }

  /** Layers that have parameters, in order. */
  get paramLayers(): LayerSlots[] {
    return [...this.byLayer.values()];
  }

  slots(layerIndex: number): LayerSlots {
    const s = this.byLayer.get(layerIndex);
    if (!s) throw new Error(`layer ${layerIndex} of ${this.spec.name} has no parameters`);
    return s;
  }

  /** The binding of one tensor inside a buffer laid out like this. */
  ref(buffer: GPUBuffer, slot: TensorSlot): BufferRef {
    return { buffer, offset: slot.offset * 4, size: slot.size * 4 };
  }

  pack(dense: ArrayLike<number>): Float32Array {
    if (dense.length !== this.denseSize) throw new Error(`${this.spec.name}: expected ${this.denseSize} parameters, got ${dense.length}`);
    const out = new Float32Array(this.paddedSize);
    for (const t of this.tensors) for (let i = 0; i < t.size; i++) out[t.offset + i] = dense[t.denseOffset + i];
    return out;
  }

  unpack(padded: ArrayLike<number>): Float32Array {
    const out = new Float32Array(this.denseSize);
    for (const t of this.tensors) for (let i = 0; i < t.size; i++) out[t.denseOffset + i] = padded[t.offset + i];
    return out;
  }
}
