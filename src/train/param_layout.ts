// All parameters of a model live in one flat buffer (and so do their gradients and momentum), each
// tensor starting at a multiple of the storage-offset alignment (256 bytes), so every tensor can be
// bound on its own and the optimiser is one dispatch per weight-decay group. Tensors with weight decay
// come first in the buffer, those without after them (`decayedSize` floats), whatever their order in
// the dense vector θ (node order, the reference's layout). Padding stays zero. The model's state
// (e.g. running statistics) uses the same layout class in a buffer of its own.
import type { BufferRef } from '../gpu/gpu';
import type { TensorRefs } from './ops/op';
import { resolveModel, type ModelSpec, type ResolvedModel } from './spec';

export interface TensorSlot {
  /** `${node id}.${tensor name}`. */
  name: string;
  node: string;
  shape: number[];
  size: number;
  /** Offset in floats inside the padded buffer. */
  offset: number;
  /** Offset in floats inside the dense (unpadded) vector, the reference's layout. */
  denseOffset: number;
  decay: boolean;
}

interface TensorEntry {
  node: string;
  name: string;
  fullName: string;
  shape: number[];
  size: number;
  decay: boolean;
}

export class TensorLayout {
  readonly tensors: TensorSlot[] = [];
  /** Floats in the padded buffer. */
  readonly paddedSize: number;
  /** Floats in the dense vector. */
  readonly denseSize: number;
  /** Floats at the start of the padded buffer holding the tensors with weight decay. */
  readonly decayedSize: number;
  private readonly byNode = new Map<string, Record<string, TensorSlot>>();

  constructor(entries: readonly TensorEntry[], alignBytes: number) {
    const alignFloats = alignBytes / 4;
    const padded = (size: number) => Math.ceil(size / alignFloats) * alignFloats;
    let dense = 0;
    const denseOffsets = entries.map((e) => {
      const o = dense;
      dense += e.size;
      return o;
    });
    let offset = 0;
    let decayedEnd = 0;
    const slots: TensorSlot[] = new Array(entries.length);
    for (const decay of [true, false]) {
      entries.forEach((e, i) => {
        if (e.decay !== decay) return;
        slots[i] = { name: e.fullName, node: e.node, shape: e.shape, size: e.size, offset, denseOffset: denseOffsets[i], decay };
        offset += padded(e.size);
      });
      if (decay) decayedEnd = offset;
    }
    this.decayedSize = decayedEnd;
    this.paddedSize = offset;
    this.denseSize = dense;
    entries.forEach((e, i) => {
      this.tensors.push(slots[i]);
      const forNode = this.byNode.get(e.node) ?? {};
      forNode[e.name] = slots[i];
      this.byNode.set(e.node, forNode);
    });
  }

  /** The slots of one node's tensors by name (empty when it has none). */
  slots(node: string): Record<string, TensorSlot> {
    return this.byNode.get(node) ?? {};
  }

  /** The binding of one tensor inside a buffer laid out like this. */
  ref(buffer: GPUBuffer, slot: TensorSlot): BufferRef {
    return { buffer, offset: slot.offset * 4, size: slot.size * 4 };
  }

  /** Bindings of all of a node's tensors inside `buffer`. */
  refs(buffer: GPUBuffer, node: string): TensorRefs {
    return Object.fromEntries(Object.entries(this.slots(node)).map(([name, slot]) => [name, this.ref(buffer, slot)]));
  }

  pack(dense: ArrayLike<number>): Float32Array {
    if (dense.length !== this.denseSize) throw new Error(`expected ${this.denseSize} values, got ${dense.length}`);
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

/** A model's parameters (params) and state, laid out for the GPU. */
export interface ParamLayoutOptions {
  /**
   * Apply weight decay to the tensors named `bias` too (default true, PyTorch's convention and this
   * project's MNIST settings); false decays only weights, as the paper's CIFAR settings do. Tensors
   * their op declares without decay (normalisation scales and shifts) never decay.
   */
  decayBiases?: boolean;
}

export class ParamLayout extends TensorLayout {
  readonly model: ResolvedModel;
  readonly state: TensorLayout;

  constructor(readonly spec: ModelSpec, alignBytes = 256, options: ParamLayoutOptions = {}) {
    const model = resolveModel(spec);
    const decayBiases = options.decayBiases ?? true;
    super(
      model.nodes.flatMap((n) =>
        n.params.map((p) => ({ node: n.id, name: p.name, fullName: p.fullName, shape: p.shape, size: p.size, decay: p.decay && (decayBiases || p.name !== 'bias') })),
      ),
      alignBytes,
    );
    this.model = model;
    this.state = new TensorLayout(
      model.nodes.flatMap((n) => n.state.map((s) => ({ node: n.id, name: s.name, fullName: s.fullName, shape: s.shape, size: s.size, decay: false }))),
      alignBytes,
    );
  }
}
