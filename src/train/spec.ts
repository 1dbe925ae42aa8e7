// Model architectures as plain data, shared by the GPU engine and the float64 reference.
// A model is a sequence of layers over one example of shape [C, H, W] (NCHW per batch); a dense
// layer after a spatial one reads the flattened C*H*W activation. The last layer is a dense layer
// without ReLU producing the K logits.

export type LayerSpec =
  | { kind: 'conv'; outChannels: number; kernel: number; stride?: number; pad?: number; relu: boolean }
  | { kind: 'maxpool2' }
  | { kind: 'dense'; out: number; relu: boolean };

export interface ModelSpec {
  name: string;
  /** Per-example input shape [C, H, W]; an MLP on flat vectors uses [1, 1, D]. */
  input: readonly [number, number, number];
  layers: readonly LayerSpec[];
}

/** One layer with its shapes resolved. `inShape`/`outShape` are per example [C, H, W]. */
export interface ResolvedLayer {
  index: number;
  spec: LayerSpec;
  inShape: [number, number, number];
  outShape: [number, number, number];
  /** Parameter tensors of this layer in canonical order (weight, then bias); empty for pooling. */
  params: { name: string; shape: number[]; size: number }[];
}

export const size3 = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export function resolveModel(spec: ModelSpec): ResolvedLayer[] {
  const out: ResolvedLayer[] = [];
  let shape: [number, number, number] = [...spec.input];
  if (shape.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`${spec.name}: bad input shape ${shape}`);
  spec.layers.forEach((layer, index) => {
    const inShape = shape;
    let outShape: [number, number, number];
    let params: ResolvedLayer['params'] = [];
    const [c, h, w] = inShape;
    if (layer.kind === 'conv') {
      const stride = layer.stride ?? 1;
      const pad = layer.pad ?? 0;
      const p = Math.floor((h + 2 * pad - layer.kernel) / stride) + 1;
      const q = Math.floor((w + 2 * pad - layer.kernel) / stride) + 1;
      if (p < 1 || q < 1) throw new Error(`${spec.name} layer ${index}: conv ${layer.kernel}x${layer.kernel} does not fit input ${h}x${w}`);
      outShape = [layer.outChannels, p, q];
      params = [
        { name: `conv${index}.weight`, shape: [layer.outChannels, c, layer.kernel, layer.kernel], size: layer.outChannels * c * layer.kernel * layer.kernel },
        { name: `conv${index}.bias`, shape: [layer.outChannels], size: layer.outChannels },
      ];
    } else if (layer.kind === 'maxpool2') {
      if (h < 2 || w < 2) throw new Error(`${spec.name} layer ${index}: 2x2 pooling needs at least 2x2 input, got ${h}x${w}`);
      outShape = [c, Math.floor(h / 2), Math.floor(w / 2)];
    } else {
      const fanIn = size3(inShape);
      outShape = [1, 1, layer.out];
      params = [
        { name: `dense${index}.weight`, shape: [layer.out, fanIn], size: layer.out * fanIn },
        { name: `dense${index}.bias`, shape: [layer.out], size: layer.out },
      ];
    }
    out.push({ index, spec: layer, inShape, outShape, params });
    shape = outShape;
  });
  const last = spec.layers.at(-1);
  if (!last || last.kind !== 'dense' || last.relu) throw new Error(`${spec.name}: the last layer must be a dense layer without ReLU (the logits)`);
  return out;
}

export function numClasses(spec: ModelSpec): number {
  const last = spec.layers.at(-1);
  if (!last || last.kind !== 'dense') throw new Error(`${spec.name}: no output layer`);
  return last.out;
}

/** Total number of parameters (without any alignment padding). */
export function paramCount(spec: ModelSpec): number {
  return resolveModel(spec).reduce((a, l) => a + l.params.reduce((b, p) => b + p.size, 0), 0);
}

export function mlpSpec(inputDim: number, hidden: readonly number[], classes: number): ModelSpec {
  for (const d of [inputDim, ...hidden, classes]) {
    if (!Number.isInteger(d) || d < 1) throw new Error(`MLP widths must be positive integers, got ${[inputDim, ...hidden, classes]}`);
  }
  return {
    name: `mlp-${[inputDim, ...hidden, classes].join('-')}`,
    input: [1, 1, inputDim],
    layers: [...hidden.map((out) => ({ kind: 'dense' as const, out, relu: true })), { kind: 'dense', out: classes, relu: false }],
  };
}

/**
 * LeNet for 28x28 single-channel inputs. 'caffe' (default): conv 5x5 -> 20, max-pool, conv 5x5 -> 50,
 * max-pool, dense 500, ReLU, dense K (Caffe's MNIST LeNet, no ReLU after the convolutions).
 * 'lenet5': conv 5x5 pad 2 -> 6, ReLU, pool, conv 5x5 -> 16, ReLU, pool, dense 120, ReLU, dense 84, ReLU, dense K.
 */
export function lenetSpec(classes: number, variant: 'caffe' | 'lenet5' = 'caffe', input: [number, number, number] = [1, 28, 28]): ModelSpec {
  if (variant === 'caffe') {
    return {
      name: 'lenet-caffe',
      input,
      layers: [
        { kind: 'conv', outChannels: 20, kernel: 5, relu: false },
        { kind: 'maxpool2' },
        { kind: 'conv', outChannels: 50, kernel: 5, relu: false },
        { kind: 'maxpool2' },
        { kind: 'dense', out: 500, relu: true },
        { kind: 'dense', out: classes, relu: false },
      ],
    };
  }
  return {
    name: 'lenet5',
    input,
    layers: [
      { kind: 'conv', outChannels: 6, kernel: 5, pad: 2, relu: true },
      { kind: 'maxpool2' },
      { kind: 'conv', outChannels: 16, kernel: 5, relu: true },
      { kind: 'maxpool2' },
      { kind: 'dense', out: 120, relu: true },
      { kind: 'dense', out: 84, relu: true },
      { kind: 'dense', out: classes, relu: false },
    ],
  };
}
