// What an op module declares. One op = one module in this folder (its shape rule, parameters, state,
// kernels, and the four passes the engine records), one float64 reference in test/reference/ops/, and
// its tests. The network interpreter (../network.ts) knows no op by name: it calls these.
//
// Signals: `sig` of a tensor is ∂(Σ_i c_i f_i)/∂(tensor) per example, for the loss weights c of the
// pass. Tangents: `tan` of a tensor is its derivative along a parameter direction G (forward mode):
// d/dt tensor(θ + tG) at t = 0.
import type { BufferRef, Gpu } from '../../gpu/gpu';
import type { Dispatch } from '../../kernels/kernel';
import type { KernelForms } from '../../kernels/forms';
import type { Shape } from '../spec';

export type OpAttrs = Readonly<Record<string, number | boolean | string>>;

export interface ParamDecl {
  name: string;
  shape: number[];
  /**
   * 'fan_in': normal with std sqrt(gain / fan_in), gain 2 when a ReLU follows the node (He) and 1
   * otherwise (LeCun), fan_in = size / shape[0]; 'zeros' / 'ones': constant.
   */
  init: 'fan_in' | 'zeros' | 'ones';
  /** Whether weight decay applies (false e.g. for normalisation scales and shifts). */
  decay: boolean;
}

export interface StateDecl {
  name: string;
  shape: number[];
  init: 'zeros' | 'ones';
}

/** A named buffer range per parameter (or state) tensor of one node. */
export type TensorRefs = Readonly<Record<string, BufferRef>>;

interface PassCtx {
  /** Examples in the batch. */
  n: number;
  label: string;
  /** Per-node scratch that lives as long as the batch plan (e.g. max-pool's argmax), made once per name. */
  aux(name: string, floats: number): GPUBuffer;
  /** A per-node constant buffer (made once per name and plan). */
  constant(name: string, data: Float32Array): GPUBuffer;
}

export interface ForwardCtx extends PassCtx {
  inputs: readonly BufferRef[];
  output: BufferRef;
  params: TensorRefs;
  state: TensorRefs;
  /** Apply ReLU to the output (a following relu node fused into this one; see OpDef.fusesRelu). */
  relu: boolean;
  /**
   * True for training and validation batches: ops with batch statistics use this batch's (and keep
   * what their backward and tangent passes need in `aux`). False for evaluation: the model state's
   * running statistics.
   */
  training: boolean;
  /** Update the model state (running statistics) from this batch: the training batch's forward only. */
  updateState: boolean;
}

export interface BackwardCtx extends PassCtx {
  inputs: readonly BufferRef[];
  output: BufferRef;
  params: TensorRefs;
  /** Signal at this node's output (before the fused ReLU, which the interpreter has already applied). */
  outSignal: BufferRef;
  /** Where each input's signal goes (overwritten; the interpreter accumulates), null where none is needed. */
  inSignals: readonly (BufferRef | null)[];
}

export interface GradCtx extends PassCtx {
  inputs: readonly BufferRef[];
  params: TensorRefs;
  outSignal: BufferRef;
  /** This node's slots in the gradient buffer (overwritten). */
  grads: TensorRefs;
  /**
   * Per-example loss weights w [n]: the gradient is Σ_i w_i (∂f_i/∂θ) built from unit signals (the
   * fast path); null when the signals already carry their loss weights.
   */
  exWeight: BufferRef | null;
}

export interface TangentCtx extends PassCtx {
  inputs: readonly BufferRef[];
  output: BufferRef;
  params: TensorRefs;
  /** Tangents of the inputs; null where the input's tangent is zero (e.g. the data). */
  inTangents: readonly (BufferRef | null)[];
  /** The parameter direction G of this node's parameters; null when the node has none. */
  direction: TensorRefs | null;
  /** Where the output's tangent goes (overwritten), before the fused ReLU's mask (applied by the interpreter). */
  outTangent: BufferRef;
  /** A scratch buffer of the output's size, for ops that sum two terms. */
  scratch(): BufferRef;
}

export interface AlignCtx extends PassCtx {
  inputs: readonly BufferRef[];
  /** Unit (ε = 1) signal at this node's output, before the fused ReLU. */
  outSignal: BufferRef;
  /** The validation batch's input activations and output signal at this node (Gram forms). */
  val: { n: number; inputs: readonly BufferRef[]; outSignal: BufferRef };
  /** The validation gradient G of this node's parameters. */
  direction: TensorRefs;
  /** s [n]: add ⟨∂f_i/∂θ_node, G_node⟩ to s_i (the first node of the pass overwrites; see `accumulate`). */
  s: BufferRef;
  accumulate: boolean;
  /** A scratch buffer of the output's size, shared by the nodes of the pass. */
  scratch(): BufferRef;
}

/** The recorded programs of one node, with its kernels compiled (by OpDef.load). */
export interface OpProgram {
  forward(c: ForwardCtx): Dispatch[];
  /** Signals into the inputs. */
  backward(c: BackwardCtx): Dispatch[];
  /** Parameter gradients (nodes with parameters). */
  weightGrads?(c: GradCtx): Dispatch[];
  /** Forward-mode tangent of the output along the direction and the input tangents. */
  tangent(c: TangentCtx): Dispatch[];
  /**
   * Fast path only (ops that do not couple examples): s_i += ⟨∂f_i/∂θ_node, G_node⟩ from the unit
   * signals. Nodes with parameters that leave it out get the interpreter's default: this node's
   * tangent along G alone (zero input tangents), dotted per example with the output signal.
   */
  alignment?(c: AlignCtx): Dispatch[] | null;
}

export interface OpDef<A extends OpAttrs = OpAttrs> {
  readonly name: string;
  readonly arity: number;
  /** True when an example's output depends on other examples of the batch (batch normalisation). */
  readonly couplesExamples: boolean;
  /** Can apply a ReLU to its output in the same kernel (a relu node reading only it is fused). */
  readonly fusesRelu?: boolean;
  /** The output is a view of input 0 with another shape (no kernel; the interpreter aliases buffers). */
  readonly view?: boolean;
  /** Checks and normalises the attributes (defaults filled in); `where` names the node in errors. */
  checkAttrs(raw: OpAttrs, where: string): A;
  /** The output shape, or an error naming the node. */
  outShape(inputs: Shape[], attrs: A, where: string): Shape;
  params?(inputs: Shape[], attrs: A): ParamDecl[];
  state?(inputs: Shape[], attrs: A): StateDecl[];
  /**
   * The kernels with per-adapter forms that load() creates (src/kernels/forms.ts). A model settles
   * their choices one at a time before it compiles anything (CompiledModel.load), so that a start-up
   * measurement never shares the CPU with other compiles. (`any`: each declaration keeps its own types.)
   */
  readonly kernelForms?: readonly KernelForms<any, any, any, any>[];
  /** Compiles the node's kernels (pipelines are cached per device, so repeated loads are cheap). */
  load(gpu: Gpu, node: { inShapes: Shape[]; outShape: Shape; attrs: A; fusedRelu: boolean }): Promise<OpProgram>;
}

const registry = new Map<string, OpDef>();

/** Adds an op to the registry (the built-in ones register in ./index.ts; tests may add their own). */
export function registerOp<A extends OpAttrs>(op: OpDef<A>): void {
  if (registry.has(op.name) && registry.get(op.name) !== (op as unknown as OpDef)) throw new Error(`op "${op.name}" is already registered`);
  registry.set(op.name, op as unknown as OpDef);
}

export function opDef(name: string, where: string): OpDef {
  const op = registry.get(name);
  if (!op) throw new Error(`${where}: unknown op "${name}" (known: ${[...registry.keys()].join(', ')})`);
  return op;
}

export function registeredOps(): string[] {
  return [...registry.keys()];
}

// ---- attribute helpers shared by the op modules ----

export function intAttr(raw: OpAttrs, key: string, where: string, opts: { min?: number; def?: number } = {}): number {
  const v = raw[key] ?? opts.def;
  const min = opts.min ?? 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${where}: attribute "${key}" must be an integer >= ${min}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
  return v;
}

/** checkAttrs of an op that takes no attributes. */
export function withoutAttrs(raw: OpAttrs, where: string): Record<string, never> {
  noAttrs(raw, where);
  return {};
}

/** The input of an op that needs an image [C, H, W], or an error naming the node and the op. */
export function imageInput(x: Shape, op: string, where: string): [number, number, number] {
  if (x.length !== 3) throw new Error(`${where}: ${op} takes an image [C, H, W], got [${x}]`);
  return [x[0], x[1], x[2]];
}

export function noAttrs(raw: OpAttrs, where: string, allowed: readonly string[] = []): void {
  const extra = Object.keys(raw).filter((k) => !allowed.includes(k));
  if (extra.length) throw new Error(`${where}: unknown attribute${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}`);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
