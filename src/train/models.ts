// The model registry: every architecture the CLI, the demo and the benchmarks can name, built as a
// graph (spec.ts) for an input shape that comes from the data.
import type { OpAttrs } from './ops/op';
import { INPUT, resolveModel, type GraphNode, type ModelSpec, type Shape } from './spec';

/** Writes a graph node by node; each call returns the new node's id (its output tensor). */
export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly counts = new Map<string, number>();

  constructor(readonly name: string, readonly input: Shape) {}

  /** Adds a node; its id defaults to the op name and a running count (conv2d1, conv2d2, ...). */
  node(op: string, inputs: string | string[], attrs: OpAttrs = {}, id?: string): string {
    const n = (this.counts.get(op) ?? 0) + 1;
    this.counts.set(op, n);
    const nodeId = id ?? `${op}${n}`;
    this.nodes.push({ id: nodeId, op, inputs: typeof inputs === 'string' ? [inputs] : inputs, attrs });
    return nodeId;
  }

  build(output?: string): ModelSpec {
    const spec: ModelSpec = { name: this.name, input: [...this.input], nodes: [...this.nodes], output };
    resolveModel(spec); // fail here, at the builder, on a malformed graph
    return spec;
  }
}

function checkWidths(what: string, widths: readonly number[]): void {
  for (const d of widths) {
    if (!Number.isInteger(d) || d < 1) throw new Error(`${what} widths must be positive integers, got ${widths.join(', ')}`);
  }
}

/** Multi-layer perceptron: dense + ReLU per hidden width, then a dense layer to the K logits. */
export function mlpSpec(input: number | Shape, hidden: readonly number[], classes: number): ModelSpec {
  const shape = typeof input === 'number' ? [input] : input;
  checkWidths('MLP', [...shape, ...hidden, classes]);
  const dim = shape.reduce((a, b) => a * b, 1);
  const g = new GraphBuilder(`mlp-${[dim, ...hidden, classes].join('-')}`, shape);
  let x = shape.length > 1 ? g.node('flatten', INPUT) : INPUT;
  for (const units of hidden) x = g.node('relu', g.node('dense', x, { units }));
  g.node('dense', x, { units: classes }, 'logits');
  return g.build();
}

export type LenetVariant = 'caffe' | 'lenet5';

/**
 * LeNet. 'caffe' (default): conv 5x5 -> 20, max-pool, conv 5x5 -> 50, max-pool, dense 500, ReLU,
 * dense K (Caffe's MNIST LeNet, no ReLU after the convolutions). 'lenet5': conv 5x5 pad 2 -> 6, ReLU,
 * pool, conv 5x5 -> 16, ReLU, pool, dense 120, ReLU, dense 84, ReLU, dense K.
 */
export function lenetSpec(classes: number, variant: LenetVariant = 'caffe', input: Shape = [1, 28, 28]): ModelSpec {
  checkWidths('LeNet', [classes]);
  if (input.length !== 3) throw new Error(`LeNet needs image inputs [C, H, W], got [${input}]`);
  const g = new GraphBuilder(variant === 'caffe' ? 'lenet-caffe' : 'lenet5', input);
  let x: string;
  if (variant === 'caffe') {
    x = g.node('maxpool2', g.node('conv2d', INPUT, { channels: 20, kernel: 5 }));
    x = g.node('maxpool2', g.node('conv2d', x, { channels: 50, kernel: 5 }));
    x = g.node('relu', g.node('dense', g.node('flatten', x), { units: 500 }));
  } else {
    x = g.node('maxpool2', g.node('relu', g.node('conv2d', INPUT, { channels: 6, kernel: 5, pad: 2 })));
    x = g.node('maxpool2', g.node('relu', g.node('conv2d', x, { channels: 16, kernel: 5 })));
    x = g.node('relu', g.node('dense', g.node('flatten', x), { units: 120 }));
    x = g.node('relu', g.node('dense', x, { units: 84 }));
  }
  g.node('dense', x, { units: classes }, 'logits');
  return g.build();
}

export type Shortcut = 'pad' | 'projection';

export interface ResnetOptions {
  /** Channels of the first stage (the second and third have 2x and 4x); 16 in the paper. */
  width?: number;
  /**
   * How a unit that changes the shape carries its input to the add. 'pad' (default; the paper's
   * released ResNet-32): 2x2 average pooling with stride 2, then zero channels on both sides.
   * 'projection': a 1x1 convolution with the unit's stride.
   */
  shortcut?: Shortcut;
}

/**
 * CIFAR-style pre-activation ResNet-(6n+2) (ResNet-8, 14, 20, 32, ...), as in the paper's released
 * code: a 3x3 convolution to `width` channels, batch norm, ReLU; three stages of n residual units with
 * width, 2·width and 4·width channels (stride 2 at the first unit of the second and third stage); each
 * unit computes BN, ReLU, conv 3x3 (stride), BN, ReLU, conv 3x3 and adds its input (the first unit
 * starts at its first convolution, its input being already normalised); then BN, ReLU, global average
 * pooling and a dense layer to the logits. Convolutions have no bias (batch norm follows them).
 */
export function resnetSpec(depth: number, classes: number, input: Shape, o: ResnetOptions = {}): ModelSpec {
  const width = o.width ?? 16;
  const shortcut = o.shortcut ?? 'pad';
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) throw new Error(`a CIFAR ResNet has depth 6n+2 (8, 14, 20, 32, ...), got ${depth}`);
  checkWidths('ResNet', [classes, width]);
  if (input.length !== 3) throw new Error(`ResNet needs image inputs [C, H, W], got [${input}]`);
  if (shortcut !== 'pad' && shortcut !== 'projection') throw new Error(`unknown shortcut "${shortcut}" (expected pad or projection)`);
  const units = (depth - 2) / 6;
  const g = new GraphBuilder(`resnet${depth}${width === 16 ? '' : `-w${width}`}${shortcut === 'pad' ? '' : '-proj'}`, input);
  const conv = (x: string, channels: number, stride: number, kernel = 3) => g.node('conv2d', x, { channels, kernel, stride, pad: kernel === 3 ? 1 : 0, bias: false });
  const bnRelu = (x: string) => g.node('relu', g.node('batchnorm', x));
  let x = bnRelu(conv(INPUT, width, 1));
  let channels = width;
  for (let stage = 0; stage < 3; stage++) {
    const out = width << stage;
    for (let u = 0; u < units; u++) {
      const stride = stage > 0 && u === 0 ? 2 : 1;
      const preact = stage === 0 && u === 0 ? x : bnRelu(x);
      const branch = conv(bnRelu(conv(preact, out, stride)), out, 1);
      let skip = x;
      if (stride > 1 || channels !== out) {
        if (shortcut === 'projection') {
          skip = conv(x, out, stride, 1);
        } else {
          if (stride > 1) skip = g.node('avgpool2', skip);
          const extra = out - channels;
          if (extra > 0) skip = g.node('pad_channels', skip, { before: Math.floor(extra / 2), after: extra - Math.floor(extra / 2) });
        }
      }
      x = g.node('add', [branch, skip]);
      channels = out;
    }
  }
  g.node('dense', g.node('global_avg_pool', bnRelu(x)), { units: classes }, 'logits');
  return g.build();
}

export interface ModelOptions {
  /** Per-example input shape, from the data. */
  input: Shape;
  classes: number;
  /** MLP hidden widths. */
  hidden?: readonly number[];
}

export interface ModelEntry {
  description: string;
  build(o: ModelOptions): ModelSpec;
}

/** Every named architecture. */
export const MODELS = {
  lenet: { description: "Caffe's MNIST LeNet (conv 20, pool, conv 50, pool, dense 500, ReLU)", build: (o) => lenetSpec(o.classes, 'caffe', o.input) },
  lenet5: { description: 'LeNet-5 (conv 6, ReLU, pool, conv 16, ReLU, pool, dense 120, dense 84)', build: (o) => lenetSpec(o.classes, 'lenet5', o.input) },
  mlp: { description: 'multi-layer perceptron on the flattened input (--hidden widths)', build: (o) => mlpSpec(o.input, o.hidden ?? [256], o.classes) },
  resnet8: { description: 'pre-activation CIFAR ResNet-8 (16/32/64 channels, batch norm)', build: (o) => resnetSpec(8, o.classes, o.input) },
  resnet14: { description: 'pre-activation CIFAR ResNet-14', build: (o) => resnetSpec(14, o.classes, o.input) },
  resnet20: { description: 'pre-activation CIFAR ResNet-20', build: (o) => resnetSpec(20, o.classes, o.input) },
  resnet32: { description: "pre-activation CIFAR ResNet-32, the paper's CIFAR model", build: (o) => resnetSpec(32, o.classes, o.input) },
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function parseModel(name: string): ModelName {
  if (name in MODELS) return name as ModelName;
  throw new Error(`unknown model "${name}" (expected one of: ${MODEL_NAMES.join(', ')})`);
}

/** Not a model but a choice of one for the input (own data's default): see autoModelName. */
export const AUTO_MODEL = 'auto';
export type ModelChoice = ModelName | typeof AUTO_MODEL;

/**
 * The model 'auto' picks for an input shape: an MLP for vectors, LeNet for small or grey images, a
 * ResNet-8 for colour images of 32 pixels and more.
 */
export function autoModelName(input: Shape): ModelName {
  if (input.length !== 3) return 'mlp';
  const [channels, h, w] = input;
  // LeNet's two 5x5 convolutions and 2x2 pools need at least 12 pixels a side.
  if (Math.min(h, w) < 12) return 'mlp';
  return channels >= 3 && Math.min(h, w) >= 32 ? 'resnet8' : 'lenet';
}

export function buildModel(name: ModelChoice, o: ModelOptions): ModelSpec {
  return MODELS[name === AUTO_MODEL ? autoModelName(o.input) : name].build(o);
}
