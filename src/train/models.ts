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
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function parseModel(name: string): ModelName {
  if (name in MODELS) return name as ModelName;
  throw new Error(`unknown model "${name}" (expected one of: ${MODEL_NAMES.join(', ')})`);
}

export function buildModel(name: ModelName, o: ModelOptions): ModelSpec {
  return MODELS[name].build(o);
}
