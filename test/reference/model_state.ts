// float64 reference of a model's state (batch normalisation's running statistics): the dense state
// vector (node order, each node's state tensors in declaration order), its update by a training batch,
// and the evaluation-mode forward pass that reads it.
import { INPUT, shapeSize, type ModelSpec } from '../../src/train/spec';
import { forwardBatch, paramOffsets, resolved } from './graph';
import { batchnormEvalForward, batchnormRunningUpdate, bnAttrs, bnGeometry, type BatchnormSaved } from './ops/batchnorm';
import { refOp } from './ops/index';


/** Each batchnorm node's running statistics: views into the dense state vector (node order, mean then var). */
export function stateViews(spec: ModelSpec, state: ArrayLike<number>): Map<string, { mean: Float64Array; variance: Float64Array }> {
  const all = Float64Array.from(state);
  const out = new Map<string, { mean: Float64Array; variance: Float64Array }>();
  let off = 0;
  for (const node of resolved(spec).nodes) {
    if (!node.state.length) continue;
    const [mean, variance] = node.state.map((s) => {
      const v = all.subarray(off, off + s.size);
      off += s.size;
      return v;
    });
    out.set(node.id, { mean, variance });
  }
  if (off !== all.length) throw new Error(`state has ${all.length} values, the model declares ${off}`);
  return out;
}

/** The state after a training batch X at θ: every batchnorm node's update from its batch statistics. */
export function stateAfter(spec: ModelSpec, theta: ArrayLike<number>, state: ArrayLike<number>, X: ArrayLike<number>): Float64Array {
  const fwd = forwardBatch(spec, theta, X);
  const views = stateViews(spec, state);
  const next: number[] = [];
  for (const node of resolved(spec).nodes) {
    const v = views.get(node.id);
    if (!v) continue;
    const u = batchnormRunningUpdate(v.mean, v.variance, fwd.saved.get(node.id) as BatchnormSaved, bnAttrs(node).momentum);
    next.push(...u.mean, ...u.variance);
  }
  return Float64Array.from(next);
}

/** Logits of X in evaluation mode: every batchnorm node normalises with the running statistics. */
export function evalLogits(spec: ModelSpec, theta: ArrayLike<number>, state: ArrayLike<number>, X: ArrayLike<number>): Float64Array {
  const model = resolved(spec);
  const n = X.length / shapeSize(spec.input);
  const th = Float64Array.from(theta);
  const params = new Map<string, Float64Array[]>(model.nodes.map((nd) => [nd.id, []]));
  for (const p of paramOffsets(spec)) params.get(p.node)!.push(th.subarray(p.offset, p.offset + p.size));
  const views = stateViews(spec, state);
  const acts = new Map<string, Float64Array>([[INPUT, Float64Array.from(X)]]);
  for (const node of model.nodes) {
    const inputs = node.inputs.map((i) => acts.get(i)!);
    const ps = params.get(node.id)!;
    let out: Float64Array;
    if (node.op.name === 'batchnorm') {
      const v = views.get(node.id)!;
      out = batchnormEvalForward(inputs[0], ps[0], ps[1], v.mean, v.variance, bnGeometry(node.inShapes[0]), n, bnAttrs(node).eps);
    } else {
      out = refOp(node.op.name, node.id).forward(inputs, ps, node, n).out;
    }
    acts.set(node.id, out);
  }
  return acts.get(model.output.id)!;
}

/** Smallest batch standard deviation of any batchnorm channel of a forward pass (the divisions' safety). */
export function minSigma(spec: ModelSpec, theta: ArrayLike<number>, X: ArrayLike<number>): number {
  const fwd = forwardBatch(spec, theta, X);
  let s = Infinity;
  for (const node of fwd.model.nodes) {
    if (node.op.name === 'batchnorm') for (const v of (fwd.saved.get(node.id) as BatchnormSaved).variance) s = Math.min(s, Math.sqrt(v));
  }
  return s;
}
