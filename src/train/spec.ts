// A model is a graph of op nodes over one example (NCHW per batch, so an image example is [C, H, W]
// and a vector example [D]). Nodes name their inputs by id; the graph input is `INPUT`. Resolving a
// model checks it, orders the nodes topologically (keeping the declaration order where the graph
// allows, so a chain stays in the order it was written) and infers every tensor's shape and every
// node's parameters from its op module (src/train/ops/). The output node's tensor is the logits [K].
//
// This file is shared by the GPU engine and the float64 reference (test/reference/graph.ts).
import { opDef, type OpAttrs, type OpDef, type ParamDecl, type StateDecl } from './ops/op';
import './ops/index';

export type Shape = readonly number[];

/** The id of the graph's input tensor (one example of the data). */
export const INPUT = 'input';

export interface GraphNode {
  id: string;
  op: string;
  inputs: readonly string[];
  attrs?: OpAttrs;
}

export interface ModelSpec {
  name: string;
  /** Per-example input shape: [C, H, W] for images, [D] for vectors. */
  input: Shape;
  nodes: readonly GraphNode[];
  /** The node whose output is the logits [K] (default: the last node). */
  output?: string;
}

/** A node with everything inferred: shapes, parameters, state, consumers. */
export interface ResolvedNode {
  /** Position in the topological order. */
  index: number;
  id: string;
  op: OpDef;
  attrs: OpAttrs;
  inputs: readonly string[];
  inShapes: Shape[];
  outShape: Shape;
  /** Parameter tensors, in the order they sit in θ; their full names are `${id}.${name}`. */
  params: (ParamDecl & { fullName: string; size: number })[];
  /** Model state that is not a parameter (e.g. running statistics); never touched by the optimiser. */
  state: (StateDecl & { fullName: string; size: number })[];
  /** Ids of the nodes that read this node's output, in topological order. */
  consumers: string[];
}

export interface ResolvedModel {
  spec: ModelSpec;
  input: Shape;
  /** Topological order. */
  nodes: ResolvedNode[];
  output: ResolvedNode;
  classes: number;
  /** True when some op couples the examples of a batch (then the L2RW fast path does not hold). */
  couplesExamples: boolean;
  node(id: string): ResolvedNode;
  /** Shape of a tensor (a node's output, or INPUT). */
  shape(id: string): Shape;
  /** Ids of the nodes that read a tensor (INPUT included). */
  consumersOf(id: string): string[];
}

export const shapeSize = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export class ModelError extends Error {
  override name = 'ModelError';
}

export function resolveModel(spec: ModelSpec): ResolvedModel {
  const where = (id: string) => `${spec.name}, node "${id}"`;
  if (!spec.input.length || spec.input.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ModelError(`${spec.name}: bad input shape [${spec.input}] (positive integers, [D] or [C, H, W])`);
  }
  if (!spec.nodes.length) throw new ModelError(`${spec.name}: the model has no nodes`);
  const byId = new Map<string, GraphNode>();
  for (const node of spec.nodes) {
    if (node.id === INPUT) throw new ModelError(`${where(node.id)}: "${INPUT}" is the graph input and cannot name a node`);
    if (byId.has(node.id)) throw new ModelError(`${where(node.id)}: duplicate node id`);
    byId.set(node.id, node);
  }
  for (const node of spec.nodes) {
    for (const i of node.inputs) {
      if (i !== INPUT && !byId.has(i)) throw new ModelError(`${where(node.id)}: input "${i}" is neither "${INPUT}" nor a node`);
    }
  }
  // Kahn's algorithm, always taking the earliest declared ready node: a chain keeps its order.
  const order: GraphNode[] = [];
  const done = new Set<string>([INPUT]);
  const pending = [...spec.nodes];
  while (pending.length) {
    const next = pending.findIndex((n) => n.inputs.every((i) => done.has(i)));
    if (next < 0) throw new ModelError(`${spec.name}: the graph has a cycle through ${pending.map((n) => `"${n.id}"`).join(', ')}`);
    const [node] = pending.splice(next, 1);
    order.push(node);
    done.add(node.id);
  }
  const outputId = spec.output ?? spec.nodes.at(-1)!.id;
  if (!byId.has(outputId)) throw new ModelError(`${spec.name}: output "${outputId}" is not a node`);

  const shapes = new Map<string, Shape>([[INPUT, [...spec.input]]]);
  const consumers = new Map<string, string[]>([[INPUT, []]]);
  const nodes: ResolvedNode[] = order.map((node, index) => {
    const op = opDef(node.op, where(node.id));
    if (node.inputs.length !== op.arity) {
      throw new ModelError(`${where(node.id)}: op ${op.name} takes ${op.arity} input${op.arity === 1 ? '' : 's'}, got ${node.inputs.length}`);
    }
    const attrs = op.checkAttrs(node.attrs ?? {}, where(node.id));
    const inShapes = node.inputs.map((i) => shapes.get(i)!);
    const outShape = op.outShape(inShapes, attrs, where(node.id));
    if (!outShape.length || outShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new ModelError(`${where(node.id)}: ${op.name} gives the empty shape [${outShape}] for input [${inShapes.join('], [')}]`);
    }
    shapes.set(node.id, outShape);
    consumers.set(node.id, []);
    for (const i of node.inputs) consumers.get(i)!.push(node.id);
    const named = <T extends { name: string; shape: number[] }>(d: T) => ({ ...d, fullName: `${node.id}.${d.name}`, size: shapeSize(d.shape) });
    return {
      index,
      id: node.id,
      op,
      attrs,
      inputs: node.inputs,
      inShapes,
      outShape,
      params: (op.params?.(inShapes, attrs) ?? []).map(named),
      state: (op.state?.(inShapes, attrs) ?? []).map(named),
      consumers: consumers.get(node.id)!,
    };
  });
  // Every node must feed the output: a dead branch would cost compute and never be trained.
  const live = new Set<string>();
  const visit = (id: string) => {
    if (id === INPUT || live.has(id)) return;
    live.add(id);
    for (const i of byId.get(id)!.inputs) visit(i);
  };
  visit(outputId);
  const dead = nodes.filter((n) => !live.has(n.id));
  if (dead.length) throw new ModelError(`${spec.name}: node${dead.length > 1 ? 's' : ''} ${dead.map((n) => `"${n.id}"`).join(', ')} do not feed the output "${outputId}"`);
  const byIndex = new Map(nodes.map((n) => [n.id, n]));
  const output = byIndex.get(outputId)!;
  if (output.outShape.length !== 1) throw new ModelError(`${where(outputId)}: the output must be a vector of logits [K], got [${output.outShape}]`);
  if (output.consumers.length) throw new ModelError(`${where(outputId)}: the output node must not feed other nodes`);
  return {
    spec,
    input: [...spec.input],
    nodes,
    output,
    classes: output.outShape[0],
    couplesExamples: nodes.some((n) => n.op.couplesExamples),
    node(id) {
      const n = byIndex.get(id);
      if (!n) throw new ModelError(`${spec.name}: no node "${id}"`);
      return n;
    },
    shape(id) {
      const s = shapes.get(id);
      if (!s) throw new ModelError(`${spec.name}: no tensor "${id}"`);
      return s;
    },
    consumersOf(id) {
      return consumers.get(id) ?? [];
    },
  };
}

export function numClasses(spec: ModelSpec): number {
  return resolveModel(spec).classes;
}

/** Total number of parameters (without any alignment padding). */
export function paramCount(spec: ModelSpec): number {
  return resolveModel(spec).nodes.reduce((a, n) => a + n.params.reduce((b, p) => b + p.size, 0), 0);
}
