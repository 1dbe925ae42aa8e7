// The float64 reference of one op, at batch level (so that ops coupling the examples of a batch fit the
// same interface). Written for clarity, not speed: every op loops over examples and elements.
//
// Layout: a tensor of a batch of n examples is one Float64Array [n * size], example-major, each example
// row-major in its own shape ([C, H, W] or [D]). Parameter tensors are the node's `params`, in
// declaration order, each a row-major Float64Array (views into θ).
//
// The three passes, for an op y = op(x_1, ..., x_k; θ_node):
//   forward:  y, plus whatever backward/tangent need (`saved`, e.g. max-pool's selections);
//   backward: given dOut = ∂L/∂y for a scalar L, returns ∂L/∂x_j (dInputs) and ∂L/∂θ_node (dParams);
//   tangent:  d/dt y(x + t·dx, θ + t·G) at t = 0, given the input tangents dx (null: zero) and the
//             parameter direction G (null: zero).
import type { ResolvedNode } from '../../../src/train/spec';

/** The parts of a resolved node that the reference ops read. */
export type RefNode = Pick<ResolvedNode, 'id' | 'attrs' | 'inShapes' | 'outShape'>;

export interface RefForward {
  out: Float64Array;
  /** Whatever backward and tangent need beyond the inputs and the output. */
  saved?: unknown;
}

export interface RefBackward {
  /** ∂L/∂(input j), [n * inSize_j] each. */
  dInputs: Float64Array[];
  /** ∂L/∂(parameter tensor p), one per declared parameter (empty for ops without parameters). */
  dParams: Float64Array[];
}

export interface RefOp {
  forward(inputs: readonly Float64Array[], params: readonly Float64Array[], node: RefNode, n: number): RefForward;
  backward(
    inputs: readonly Float64Array[],
    out: Float64Array,
    dOut: Float64Array,
    params: readonly Float64Array[],
    node: RefNode,
    n: number,
    saved: unknown,
  ): RefBackward;
  tangent(
    inputs: readonly Float64Array[],
    inTangents: readonly (Float64Array | null)[],
    params: readonly Float64Array[],
    dParams: readonly Float64Array[] | null,
    node: RefNode,
    n: number,
    out: Float64Array,
    saved: unknown,
  ): Float64Array;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Example i of a batch tensor whose examples have `size` elements (a view, not a copy). */
export function row(t: Float64Array, i: number, size: number): Float64Array {
  return t.subarray(i * size, (i + 1) * size);
}

/** Throws unless the batch tensor has n examples of `shape`. */
export function checkBatch(what: string, t: ArrayLike<number>, shape: readonly number[], n: number): void {
  const want = n * sizeOf(shape);
  if (t.length !== want) throw new Error(`${what}: ${t.length} values, expected ${n} x [${shape.join(', ')}] = ${want}`);
}

/** Reads an integer attribute, with a default when absent. */
export function attr(node: RefNode, key: string, def?: number): number {
  const v = node.attrs[key] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${node.id}: attribute "${key}" is ${JSON.stringify(v)}, expected an integer`);
  return v;
}
