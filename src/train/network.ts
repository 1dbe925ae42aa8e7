// A model's forward, backward and per-example passes planned over fixed buffers for a batch of n
// examples. Everything (buffers, bind groups, uniforms) is made here once; a training step only
// records the planned dispatches. Per layer l, `out[l]` is its (post-ReLU) output and `sig[l]` the
// signal ∂(Σ_i c_i f_i)/∂out[l] per example; for a ReLU layer the backward pass turns sig[l] in place
// into the signal at the pre-activation, which is what weight gradients and alignments need.
import type { BufferRef, Gpu } from '../gpu/gpu';
import type { Dispatch } from '../kernels/kernel';
import type { Conv2dShape } from '../kernels/conv2d_forward';
import type { ModelKernels } from './model_kernels';
import type { ParamLayout } from './param_layout';
import { size3, type ResolvedLayer } from './spec';

export interface BatchPlanOptions {
  /** Allocate signal buffers (training and validation batches); evaluation needs only the forward. */
  signals: boolean;
  label: string;
}

function convShape(layer: ResolvedLayer, n: number): Conv2dShape {
  if (layer.spec.kind !== 'conv') throw new Error('not a conv layer');
  const [C, H, W] = layer.inShape;
  return { N: n, C, H, W, K: layer.spec.outChannels, R: layer.spec.kernel, S: layer.spec.kernel, stride: layer.spec.stride ?? 1, pad: layer.spec.pad ?? 0 };
}

/** The Gram form of a dense layer's alignment costs m·(in + out) per example, the tangent in·out. */
export function useGramForm(fanIn: number, fanOut: number, m: number): boolean {
  return m * (fanIn + fanOut + 1) < fanIn * fanOut;
}

export class BatchPlan {
  /** Input [n, C*H*W] (written by the gather kernel) and labels [n]. */
  readonly x: GPUBuffer;
  readonly y: GPUBuffer;
  readonly out: GPUBuffer[];
  readonly sig: GPUBuffer[];
  /** Per-example losses [n] (unweighted). */
  readonly loss: GPUBuffer;
  private readonly argmax = new Map<number, GPUBuffer>();
  /** Scratch for one layer's tangent output at a time (alignments run layer by layer). */
  private readonly tangent: GPUBuffer | null;
  private readonly layers: ResolvedLayer[];
  private readonly classes: number;

  constructor(
    private readonly gpu: Gpu,
    private readonly k: ModelKernels,
    private readonly layout: ParamLayout,
    readonly n: number,
    readonly options: BatchPlanOptions,
  ) {
    const { label } = options;
    this.layers = layout.layers;
    const inputSize = size3(layout.spec.input);
    this.x = gpu.buffer(`${label}.x`, n * inputSize * 4);
    this.y = gpu.buffer(`${label}.y`, n * 4);
    this.loss = gpu.buffer(`${label}.loss`, n * 4);
    this.out = this.layers.map((l) => gpu.buffer(`${label}.out${l.index}`, n * size3(l.outShape) * 4));
    this.sig = options.signals ? this.layers.map((l) => gpu.buffer(`${label}.sig${l.index}`, n * size3(l.outShape) * 4)) : [];
    for (const l of this.layers) {
      if (l.spec.kind === 'maxpool2') this.argmax.set(l.index, gpu.buffer(`${label}.argmax${l.index}`, n * size3(l.outShape) * 4));
    }
    this.classes = size3(this.layers.at(-1)!.outShape);
    const widest = Math.max(...layout.paramLayers.map(({ layer }) => size3(layer.outShape)));
    this.tangent = options.signals ? gpu.buffer(`${label}.tangent`, n * widest * 4) : null;
  }

  get logits(): GPUBuffer {
    return this.out.at(-1)!;
  }

  private input(l: ResolvedLayer): GPUBuffer {
    return l.index === 0 ? this.x : this.out[l.index - 1];
  }

  /** Forward pass with the parameters in `params` (a buffer in `layout`). */
  forward(params: GPUBuffer): Dispatch[] {
    const { k, n, layout } = this;
    return this.layers.map((l) => {
      const label = `${this.options.label}.fwd${l.index}`;
      const spec = l.spec;
      if (spec.kind === 'maxpool2') {
        const [C, H, W] = l.inShape;
        return k.poolForward.plan(this.input(l), this.out[l.index], this.argmax.get(l.index)!, { N: n, C, H, W }, label);
      }
      const { weight, bias } = layout.slots(l.index);
      const W = layout.ref(params, weight);
      const b = layout.ref(params, bias);
      if (spec.kind === 'conv') {
        return (spec.relu ? k.convForwardRelu : k.convForward).plan(this.input(l), W, b, this.out[l.index], convShape(l, n), label);
      }
      return (spec.relu ? k.denseForwardRelu : k.denseForward).plan(
        this.input(l), W, this.out[l.index], { m: n, n: spec.out, k: size3(l.inShape) }, { bias: b }, label,
      );
    });
  }

  /** Per-example losses, and the logits' signal scaled per example by `exWeight` (n floats). */
  lossAndSignal(exWeight: BufferRef): Dispatch {
    if (!this.options.signals) throw new Error(`${this.options.label}: planned without signals`);
    return this.k.xent.plan(this.logits, this.y, exWeight, this.loss, this.sig.at(-1)!, this.n, this.classes, `${this.options.label}.xent`);
  }

  /** Backpropagates the logits' signal down to the first layer's pre-activation (no weight gradients). */
  backward(params: GPUBuffer): Dispatch[] {
    const { k, n, layout } = this;
    const out: Dispatch[] = [];
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i];
      const spec = l.spec;
      const label = `${this.options.label}.bwd${i}`;
      if (spec.kind !== 'maxpool2' && spec.relu) {
        out.push(k.reluBackward.planInPlace(this.out[i], this.sig[i], n * size3(l.outShape), `${label}.relu`));
      }
      if (i === 0) break;
      const below = this.sig[i - 1];
      if (spec.kind === 'maxpool2') {
        const [C, H, W] = l.inShape;
        out.push(k.poolBackward.plan(this.sig[i], this.argmax.get(i)!, below, { N: n, C, H, W }, label));
      } else if (spec.kind === 'conv') {
        out.push(k.convBackwardData.plan(this.sig[i], layout.ref(params, layout.slots(i).weight), below, convShape(l, n), label));
      } else {
        out.push(k.denseBackwardData.plan(this.sig[i], layout.ref(params, layout.slots(i).weight), below, { m: n, n: size3(l.inShape), k: spec.out }, {}, label));
      }
    }
    return out;
  }

  /**
   * Weight and bias gradients Σ_i w_i ∇f_i into `grads` (a buffer in `layout`), built from the signals
   * the backward pass left: since no layer couples examples, example i's signals under loss weight w_i
   * are w_i times its unit-weight signals, so no second backward pass is needed. `exWeight` null means
   * the signals already carry their weights (validation batch).
   */
  weightGrads(grads: GPUBuffer, exWeight: BufferRef | null): Dispatch[] {
    const { k, n, layout } = this;
    const out: Dispatch[] = [];
    for (const { layer: l, weight, bias } of layout.paramLayers) {
      const label = `${this.options.label}.grad${l.index}`;
      const gW = layout.ref(grads, weight);
      const gb = layout.ref(grads, bias);
      const sig = this.sig[l.index];
      if (l.spec.kind === 'conv') {
        const shape = convShape(l, n);
        out.push((exWeight ? k.convFilterGradWeighted : k.convFilterGrad).plan(this.input(l), sig, exWeight, gW, shape, `${label}.w`));
        out.push((exWeight ? k.convBiasGradWeighted : k.convBiasGrad).plan(sig, exWeight, gb, shape, `${label}.b`));
      } else if (l.spec.kind === 'dense') {
        const shape = { m: l.spec.out, n: size3(l.inShape), k: n };
        out.push(
          exWeight
            ? k.denseWeightGradWeighted.plan(sig, this.input(l), gW, shape, { kscale: exWeight }, `${label}.w`)
            : k.denseWeightGrad.plan(sig, this.input(l), gW, shape, {}, `${label}.w`),
        );
        out.push((exWeight ? k.columnSumsWeighted : k.columnSums).plan(sig, gb, n, l.spec.out, exWeight ?? undefined, `${label}.b`));
      }
    }
    return out;
  }

  /**
   * Per-example alignments s_i = <∇f_i(θ), G> with the validation gradient G (a buffer in `layout`)
   * computed by the validation batch plan `val`, layer by layer (all exact):
   * - tangent form: run the layer on its own input with G as its weights (the forward-mode tangent
   *   of that layer along G), then dot with example i's signal;
   * - Gram form, for dense layers where it is cheaper: G_W = Σ_j δ^v_j a^v_jᵀ and G_b = Σ_j δ^v_j
   *   (the validation signals already carry their 1/m), so the layer's share is
   *   Σ_j (δ_i·δ^v_j)(a_i·a^v_j + 1): two n×m Gram matrices instead of an n×in×out product.
   */
  alignments(G: GPUBuffer, s: BufferRef, val: BatchPlan): Dispatch[] {
    const { k, n, layout } = this;
    const m = val.n;
    const out: Dispatch[] = [];
    layout.paramLayers.forEach(({ layer: l, weight, bias }, j) => {
      const label = `${this.options.label}.align${l.index}`;
      const rowDots = j === 0 ? k.rowDots : k.rowDotsAccumulate;
      const cols = size3(l.outShape);
      const fanIn = size3(l.inShape);
      if (l.spec.kind === 'dense' && useGramForm(fanIn, cols, m)) {
        const { signals, inputs, ones } = this.gramScratch(m);
        out.push(k.gram.plan(this.sig[l.index], val.sig[l.index], signals, { m: n, n: m, k: cols }, {}, `${label}.gramSignals`));
        out.push(k.denseForward.plan(this.input(l), val.input(l), inputs, { m: n, n: m, k: fanIn }, { bias: ones }, `${label}.gramInputs`));
        out.push(rowDots.plan(signals, inputs, s, n, m, `${label}.dot`));
        return;
      }
      const tangent = this.tangent!;
      if (l.spec.kind === 'conv') {
        out.push(k.convForward.plan(this.input(l), layout.ref(G, weight), layout.ref(G, bias), tangent, convShape(l, n), `${label}.tangent`));
      } else {
        out.push(k.denseForward.plan(this.input(l), layout.ref(G, weight), tangent, { m: n, n: cols, k: fanIn }, { bias: layout.ref(G, bias) }, `${label}.tangent`));
      }
      out.push(rowDots.plan(this.sig[l.index], tangent, s, n, cols, `${label}.dot`));
    });
    return out;
  }

  private gram: { signals: GPUBuffer; inputs: GPUBuffer; ones: GPUBuffer } | null = null;

  private gramScratch(m: number): { signals: GPUBuffer; inputs: GPUBuffer; ones: GPUBuffer } {
    this.gram ??= {
      signals: this.gpu.buffer(`${this.options.label}.gramSignals`, this.n * m * 4),
      inputs: this.gpu.buffer(`${this.options.label}.gramInputs`, this.n * m * 4),
      ones: this.gpu.upload(`${this.options.label}.gramOnes`, new Float32Array(m).fill(1)),
    };
    return this.gram;
  }

  destroy(): void {
    const all = [this.x, this.y, this.loss, ...this.out, ...this.sig, ...this.argmax.values()];
    if (this.tangent) all.push(this.tangent);
    if (this.gram) all.push(this.gram.signals, this.gram.inputs, this.gram.ones);
    for (const b of all) this.gpu.destroy(b);
  }
}
