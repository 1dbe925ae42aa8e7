// The network interpreter: any model graph planned over fixed buffers for a batch of n examples.
// `CompiledModel` resolves the graph once per (device, model): it fuses a relu into the node that
// produces its input where that node can apply it and nothing else reads the pre-activation, aliases
// views (flatten) to their input's storage, and compiles every node's kernels. `BatchPlan` then makes
// the buffers of one batch size once (activations, signals, tangents, per-node scratch) and plans the
// passes as lists of dispatches; a training step only records them.
//
// Per tensor t: act[t] is its value, sig[t] = ∂(Σ_i c_i f_i)/∂t per example for the loss weights c of
// the pass, tan[t] its tangent along a parameter direction. For a node with a fused ReLU the backward
// pass first turns sig[out] in place into the signal at the pre-activation, which is what the node's
// own backward, weight gradients and alignments need. A tensor read by several nodes gets the sum of
// their signals: the first consumer in backward order writes it, later ones add theirs through a
// scratch buffer.
import type { BufferRef, Gpu } from '../gpu/gpu';
import { GpuScope } from '../gpu/scope';
import type { Dispatch } from '../kernels/kernel';
import { Elementwise } from '../kernels/elementwise';
import { ReluBackward } from '../kernels/relu_backward';
import { RowDots, ROW_DOTS_FORMS } from '../kernels/row_dots';
import { chooseForm } from '../kernels/forms';
import { SoftmaxXent } from '../kernels/softmax_xent';
import type { OpProgram, TensorRefs } from './ops/op';
import type { ParamLayout } from './param_layout';
import { INPUT, shapeSize, type ResolvedModel, type ResolvedNode } from './spec';

/** One node as the interpreter runs it. */
export interface ExecNode {
  node: ResolvedNode;
  program: OpProgram;
  /** The tensor this node writes: its own id, or the fused relu's id. */
  output: string;
  fusedRelu: boolean;
}

/** A model's graph with every node's kernels compiled, shared by all batch plans of a trainer. */
export class CompiledModel {
  private constructor(
    readonly model: ResolvedModel,
    readonly layout: ParamLayout,
    readonly exec: ExecNode[],
    /** Storage of each tensor: views share their input's. */
    private readonly storageOf: Map<string, string>,
    readonly kernels: { xent: SoftmaxXent; rowDots: RowDots; rowDotsAccumulate: RowDots; reluMask: ReluBackward; accumulate: Elementwise },
  ) {}

  /**
   * Settles the form of every kernel with per-adapter forms that this model uses (OpDef.kernelForms),
   * one after another: a start-up measurement (src/kernels/tune.ts) timed while the model's other
   * pipelines compiled on the same two cores once cached a matmul form 2x slower than another. Call it
   * before compiling anything else for the model; load() calls it too (a settled choice costs nothing).
   */
  static async chooseKernelForms(gpu: Gpu, layout: ParamLayout): Promise<void> {
    const forms = new Set([ROW_DOTS_FORMS, ...layout.model.nodes.flatMap((n) => n.op.kernelForms ?? [])]);
    for (const f of forms) await chooseForm(gpu, f);
  }

  static async load(gpu: Gpu, layout: ParamLayout): Promise<CompiledModel> {
    const model = layout.model;
    const fusedInto = new Map<string, string>(); // relu id -> producer id
    for (const n of model.nodes) {
      if (n.op.name !== 'relu') continue;
      const producer = n.inputs[0] === INPUT ? null : model.node(n.inputs[0]);
      if (producer?.op.fusesRelu && producer.consumers.length === 1 && producer !== model.output) fusedInto.set(n.id, producer.id);
    }
    const fusedRelu = new Map([...fusedInto].map(([r, p]) => [p, r]));
    const storageOf = new Map<string, string>([[INPUT, INPUT]]);
    const execNodes = model.nodes.filter((n) => !fusedInto.has(n.id));
    for (const n of model.nodes) {
      const producer = fusedInto.get(n.id);
      storageOf.set(n.id, producer ? n.id : n.op.view ? storageOf.get(n.inputs[0])! : n.id);
    }
    await CompiledModel.chooseKernelForms(gpu, layout);
    const [programs, xent, rowDots, rowDotsAccumulate, reluMask, accumulate] = await Promise.all([
      Promise.all(execNodes.map((n) => n.op.load(gpu, { inShapes: n.inShapes, outShape: n.outShape, attrs: n.attrs, fusedRelu: fusedRelu.has(n.id) }))),
      SoftmaxXent.create(gpu),
      RowDots.create(gpu, {}),
      RowDots.create(gpu, { accumulate: true }),
      ReluBackward.create(gpu),
      Elementwise.create(gpu, { accumulate: true }),
    ]);
    const exec = execNodes.map((node, i) => ({
      node,
      program: programs[i],
      output: fusedRelu.get(node.id) ?? node.id,
      fusedRelu: fusedRelu.has(node.id),
    }));
    return new CompiledModel(model, layout, exec, storageOf, { xent, rowDots, rowDotsAccumulate, reluMask, accumulate });
  }

  /** The tensor whose buffers hold `id` (views resolve to their input's storage). */
  storage(id: string): string {
    return this.storageOf.get(id)!;
  }

  /** True when the L2RW fast path is exact for this model (no op couples examples). */
  get fastPathExact(): boolean {
    return !this.model.couplesExamples;
  }
}

export interface BatchPlanOptions {
  /**
   * 'train': batch statistics (the training and validation batches of a step); 'eval': the model
   * state's running statistics.
   */
  mode: 'train' | 'eval';
  /** The forward pass updates the model state (running statistics): the training batch's plan only. */
  updatesState?: boolean;
  /** Allocate signal buffers (training and validation batches); evaluation needs only the forward. */
  signals: boolean;
  /** Allocate tangent buffers (the general L2RW path's forward-mode pass). */
  tangents?: boolean;
  label: string;
}

export class BatchPlan {
  /** Input [n, input size] (written by the gather kernel) and labels [n]. */
  readonly x: GPUBuffer;
  readonly y: GPUBuffer;
  /** Per-example losses [n] (unweighted). */
  readonly loss: GPUBuffer;
  private readonly act = new Map<string, GPUBuffer>();
  private readonly sig = new Map<string, GPUBuffer>();
  private readonly tan = new Map<string, GPUBuffer>();
  private readonly aux = new Map<string, GPUBuffer>();
  private scratchBuffer: GPUBuffer | null = null;
  private readonly scope: GpuScope;
  private readonly model: ResolvedModel;
  private readonly layout: ParamLayout;

  constructor(
    gpu: Gpu,
    private readonly compiled: CompiledModel,
    readonly n: number,
    readonly options: BatchPlanOptions,
  ) {
    const { label } = options;
    this.scope = new GpuScope(gpu, label);
    this.model = compiled.model;
    this.layout = compiled.layout;
    this.x = this.scope.buffer(`${label}.x`, n * shapeSize(this.model.input) * 4);
    this.y = this.scope.buffer(`${label}.y`, n * 4);
    this.loss = this.scope.buffer(`${label}.loss`, n * 4);
    this.act.set(INPUT, this.x);
    for (const e of compiled.exec) {
      if (compiled.storage(e.output) !== e.output) continue; // a view: no storage of its own
      const bytes = n * shapeSize(this.model.shape(e.output)) * 4;
      this.act.set(e.output, this.scope.buffer(`${label}.act.${e.output}`, bytes));
      if (options.signals) this.sig.set(e.output, this.scope.buffer(`${label}.sig.${e.output}`, bytes));
      if (options.tangents) this.tan.set(e.output, this.scope.buffer(`${label}.tan.${e.output}`, bytes));
    }
  }

  /** Frees the plan's buffers and every dispatch it planned. */
  destroy(): void {
    this.scope.destroy();
  }

  private actOf(id: string): GPUBuffer {
    return this.act.get(this.compiled.storage(id))!;
  }

  private sigOf(id: string): GPUBuffer | null {
    const s = this.compiled.storage(id);
    return s === INPUT ? null : this.sig.get(s) ?? null;
  }

  private requireSignals(what: string): void {
    if (!this.options.signals) throw new Error(`${this.options.label}: planned without signals, cannot plan ${what}`);
  }

  get logits(): GPUBuffer {
    return this.actOf(this.model.output.id);
  }

  /** Scratch of the largest tensor's size, shared by all passes (each use is finished before the next). */
  private scratch(): GPUBuffer {
    const widest = Math.max(...this.compiled.exec.map((e) => shapeSize(this.model.shape(e.output))));
    this.scratchBuffer ??= this.scope.buffer(`${this.options.label}.scratch`, this.n * widest * 4);
    return this.scratchBuffer;
  }

  private ctx(e: ExecNode, pass: string) {
    const label = `${this.options.label}.${pass}.${e.node.id}`;
    const key = (name: string) => `${e.node.id}.${name}`;
    return {
      n: this.n,
      label,
      aux: (name: string, floats: number) => {
        let b = this.aux.get(key(name));
        if (!b) this.aux.set(key(name), (b = this.scope.buffer(`${this.options.label}.${key(name)}`, floats * 4)));
        return b;
      },
      constant: (name: string, data: Float32Array) => {
        let b = this.aux.get(key(name));
        if (!b) this.aux.set(key(name), (b = this.scope.upload(`${this.options.label}.${key(name)}`, data)));
        return b;
      },
      inputs: e.node.inputs.map((i) => this.actOf(i)),
    };
  }

  private own(ds: Dispatch[]): Dispatch[] {
    return this.scope.ownAll(ds);
  }

  private params(buffer: GPUBuffer, e: ExecNode): TensorRefs {
    return this.layout.refs(buffer, e.node.id);
  }

  /** Forward pass with the parameters in `params` (a buffer in the model's layout). */
  forward(params: GPUBuffer, state: GPUBuffer): Dispatch[] {
    return this.own(
      this.compiled.exec.flatMap((e) =>
        e.program.forward({
          ...this.ctx(e, 'fwd'),
          output: this.actOf(e.output),
          params: this.params(params, e),
          state: this.layout.state.refs(state, e.node.id),
          relu: e.fusedRelu,
          training: this.options.mode === 'train',
          updateState: this.options.updatesState ?? false,
        }),
      ),
    );
  }

  /**
   * Per-example losses, and the logits' signal scaled per example by `exWeight` (n floats); `xent` a
   * loss kernel other than plain cross-entropy (bootstrapping).
   */
  lossAndSignal(exWeight: BufferRef, xent: SoftmaxXent = this.compiled.kernels.xent): Dispatch {
    this.requireSignals('the loss signal');
    return this.own([xent.plan(this.logits, this.y, exWeight, this.loss, this.sigOf(this.model.output.id)!, this.n, this.model.classes, `${this.options.label}.xent`)])[0];
  }

  /** The signal at node e's output before its fused ReLU: the ReLU's mask applied in place first. */
  private unmask(e: ExecNode, buffer: GPUBuffer, label: string): Dispatch[] {
    if (!e.fusedRelu) return [];
    const size = this.n * shapeSize(this.model.shape(e.output));
    return [this.compiled.kernels.reluMask.planInPlace(this.actOf(e.output), buffer, size, `${label}.relu`)];
  }

  /** Backpropagates the logits' signal to every tensor (no weight gradients). */
  backward(params: GPUBuffer): Dispatch[] {
    this.requireSignals('the backward pass');
    const out: Dispatch[] = [];
    const written = new Set<string>();
    const { accumulate } = this.compiled.kernels;
    for (const e of [...this.compiled.exec].reverse()) {
      if (e.node.op.view) continue;
      const c = this.ctx(e, 'bwd');
      const outSignal = this.sigOf(e.output)!;
      out.push(...this.unmask(e, outSignal, c.label));
      // Each input's signal: written directly by its first contributor, added by the others.
      const adds: Dispatch[] = [];
      const inSignals = e.node.inputs.map((id, j) => {
        const target = this.sigOf(id);
        if (!target) return null;
        const storage = this.compiled.storage(id);
        if (!written.has(storage)) {
          written.add(storage);
          return target;
        }
        const scratch = this.scratch();
        adds.push(accumulate.plan(scratch, null, target, this.n * shapeSize(this.model.shape(id)), `${c.label}.add${j}`));
        return scratch;
      });
      // One scratch buffer per plan: at most one input of a node can take its signal through it.
      if (adds.length > 1) throw new Error(`${c.label}: two inputs of one node both need accumulated signals; not supported yet`);
      out.push(...e.program.backward({ ...c, output: this.actOf(e.output), params: this.params(params, e), outSignal, inSignals }), ...adds);
    }
    return this.own(out);
  }

  /**
   * Parameter gradients into `grads` (a buffer in the model's layout) at `params`, from the signals the backward
   * pass left. `exWeight` [n]: Σ_i w_i ∇f_i built from unit signals (the fast path: no layer couples
   * examples, so example i's signals under loss weight w_i are w_i times its unit signals). null: the
   * signals already carry their loss weights.
   */
  weightGrads(params: GPUBuffer, grads: GPUBuffer, exWeight: BufferRef | null): Dispatch[] {
    this.requireSignals('weight gradients');
    return this.own(
      this.compiled.exec.flatMap((e) =>
        e.program.weightGrads && e.node.params.length
          ? e.program.weightGrads({ ...this.ctx(e, 'grad'), params: this.params(params, e), outSignal: this.sigOf(e.output)!, grads: this.params(grads, e), exWeight })
          : [],
      ),
    );
  }

  /**
   * Fast path (no op couples examples): per-example alignments s_i = ⟨∇f_i(θ), G⟩ with the validation
   * gradient G (a buffer in the model's layout) from this batch's unit signals, node by node: each
   * node's own tangent along G (zero input tangents) dotted with its output signal, or the op's cheaper
   * exact form (dense: Gram matrices with the validation batch `val`).
   */
  alignments(G: GPUBuffer, s: BufferRef, val: BatchPlan): Dispatch[] {
    this.requireSignals('alignments');
    if (!this.compiled.fastPathExact) throw new Error(`${this.options.label}: the model couples examples; per-node alignments would be wrong (use the general path)`);
    const out: Dispatch[] = [];
    const { rowDots, rowDotsAccumulate } = this.compiled.kernels;
    let first = true;
    for (const e of this.compiled.exec) {
      if (!e.node.params.length) continue;
      const c = this.ctx(e, 'align');
      const outSignal = this.sigOf(e.output)!;
      const direction = this.params(G, e);
      const scratch = this.scratch();
      const own = e.program.alignment?.({
        ...c,
        outSignal,
        val: { n: val.n, inputs: e.node.inputs.map((i) => val.actOf(i)), outSignal: val.sigOf(e.output)! },
        direction,
        s,
        accumulate: !first,
        scratch: () => scratch,
      });
      if (own) {
        out.push(...own);
      } else {
        out.push(
          ...e.program.tangent({
            ...c,
            output: this.actOf(e.output),
            params: this.params(G, e),
            inTangents: e.node.inputs.map(() => null),
            direction,
            outTangent: scratch,
            scratch: () => {
              throw new Error(`${c.label}: a tangent with zero input tangents needs no scratch`);
            },
          }),
        );
        out.push((first ? rowDots : rowDotsAccumulate).plan(outSignal, scratch, s, this.n, shapeSize(this.model.shape(e.output)), `${c.label}.dot`));
      }
      first = false;
    }
    return this.own(out);
  }

  /**
   * General path (any graph, coupled examples included): s_i = d/dt f_i(θ + tG) at t = 0 by one
   * forward-mode pass along G over the whole batch (batch couplings are part of f_i), then
   * s_i = ⟨∂C_i/∂logits_i, tan[logits]_i⟩ with the unit logits' signal left by lossAndSignal(ones).
   */
  tangentAlignments(params: GPUBuffer, G: GPUBuffer, s: BufferRef): Dispatch[] {
    this.requireSignals('alignments');
    if (!this.options.tangents) throw new Error(`${this.options.label}: planned without tangents`);
    const out: Dispatch[] = [];
    const live = new Set<string>(); // storages whose tangent is not identically zero
    for (const e of this.compiled.exec) {
      if (e.node.op.view) {
        if (live.has(this.compiled.storage(e.node.inputs[0]))) live.add(this.compiled.storage(e.output));
        continue;
      }
      const inTangents = e.node.inputs.map((i) => (live.has(this.compiled.storage(i)) ? this.tan.get(this.compiled.storage(i))! : null));
      const hasParams = e.node.params.length > 0;
      if (!hasParams && inTangents.every((t) => t === null)) continue;
      const c = this.ctx(e, 'tan');
      const outTangent = this.tan.get(e.output)!;
      const scratch = this.scratch();
      out.push(
        ...e.program.tangent({
          ...c,
          output: this.actOf(e.output),
          params: this.params(params, e),
          inTangents,
          direction: hasParams ? this.params(G, e) : null,
          outTangent,
          scratch: () => scratch,
        }),
        ...this.unmask(e, outTangent, c.label),
      );
      live.add(e.output);
    }
    const logits = this.compiled.storage(this.model.output.id);
    if (!live.has(logits)) throw new Error(`${this.options.label}: the model has no parameters on the way to its output`);
    out.push(this.compiled.kernels.rowDots.plan(this.sigOf(logits)!, this.tan.get(logits)!, s, this.n, this.model.classes, `${this.options.label}.tan.dot`));
    return this.own(out);
  }
}
