// batchnorm: batch normalisation per channel (input [C, H, W]: over the N·H·W values of a channel;
// input [D]: D channels, over the N examples), M values per channel:
//   training:   x̂ = (x − μ)·invstd, μ the batch mean, σ² the biased batch variance (1/M),
//               invstd = 1/sqrt(σ² + eps); y = γ x̂ + β (ReLU fused);
//   evaluation: y = γ (x − running_mean)/sqrt(running_var + eps) + β.
// The training batch's forward pass (updateState) also updates the running statistics, as PyTorch:
//   running_mean ← (1 − momentum)·running_mean + momentum·μ,
//   running_var  ← (1 − momentum)·running_var + momentum·σ²·M/(M − 1)   (σ² itself when M = 1).
// Backward (training mode), dy the signal at the pre-activation output, S1 = Σ dy, S2 = Σ dy·x̂:
//   dx = γ·invstd·(dy − S1/M − x̂·S2/M),  dγ = S2,  dβ = S1.
// Tangent along (G_γ, G_β) with input tangent dx, T1 = Σ dx, T2 = Σ dx·x̂:
//   dy = γ·invstd·(dx − T1/M − x̂·T2/M) + G_γ x̂ + G_β.
// It couples the examples of a batch, so the engine takes the general L2RW path (tangent pass and a
// weighted backward pass) and never asks for per-example-weighted gradients.
//
// Every pass is two dispatches (src/kernels/batchnorm.ts): a per-channel reduction that leaves the
// coefficients of out = A·src + B·x̂ + D, then the elementwise apply. Per batch plan and node the
// forward pass keeps μ and invstd (aux 'stats', read by the backward and tangent passes of the same
// batch; x̂ is recomputed from x), and each pass its own coefficients (aux 'coef.<pass>'); the weight
// gradients copy S1 and S2 out of the backward pass's coefficients.
import type { Gpu } from '../../gpu/gpu';
import { BatchnormApply, BatchnormReduce, COEF_SECTIONS, coefSection, sectionStride, STATS_SECTIONS, type BatchnormShape } from '../../kernels/batchnorm';
import { Elementwise } from '../../kernels/elementwise';
import type { Shape } from '../spec';
import { noAttrs, type OpAttrs, type OpDef } from './op';

type BatchnormAttrs = { momentum: number; eps: number };

function numberAttr(raw: OpAttrs, key: string, where: string, def: number, ok: (v: number) => boolean, range: string): number {
  const v = raw[key] ?? def;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    throw new Error(`${where}: attribute "${key}" must be a number ${range}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** [C, HW] of an input [C, H, W] or [D]. */
function channels(x: Shape): { C: number; HW: number } {
  return { C: x[0], HW: x.slice(1).reduce((a, b) => a * b, 1) };
}

export const batchnorm: OpDef<BatchnormAttrs> = {
  name: 'batchnorm',
  arity: 1,
  couplesExamples: true,
  fusesRelu: true,
  checkAttrs(raw, where) {
    noAttrs(raw, where, ['momentum', 'eps']);
    return {
      momentum: numberAttr(raw, 'momentum', where, 0.1, (v) => v > 0 && v <= 1, 'in (0, 1]'),
      eps: numberAttr(raw, 'eps', where, 1e-5, (v) => v > 0, '> 0'),
    };
  },
  outShape([x], _a, where) {
    if (x.length !== 1 && x.length !== 3) throw new Error(`${where}: batchnorm takes an image [C, H, W] or a vector [D], got [${x}]`);
    return x;
  },
  params([x]) {
    return [
      { name: 'gamma', shape: [x[0]], init: 'ones', decay: false },
      { name: 'beta', shape: [x[0]], init: 'zeros', decay: false },
    ];
  },
  state([x]) {
    return [
      { name: 'running_mean', shape: [x[0]], init: 'zeros' },
      { name: 'running_var', shape: [x[0]], init: 'ones' },
    ];
  },
  async load(gpu: Gpu, node) {
    const { C, HW } = channels(node.inShapes[0]);
    const { eps, momentum } = node.attrs;
    const stride = sectionStride(gpu, C);
    const [fwdBatch, fwdBatchUpdate, fwdRunning, sums, sumsAffine, affineOnly, applyRelu, applySrc, applyNoSrc, copy] = await Promise.all([
      BatchnormReduce.create(gpu, { stats: 'batch', affine: true }),
      BatchnormReduce.create(gpu, { stats: 'batch', updateRunning: true, affine: true }),
      BatchnormReduce.create(gpu, { stats: 'running', affine: true }),
      BatchnormReduce.create(gpu, { stats: 'given', sums: true }),
      BatchnormReduce.create(gpu, { stats: 'given', sums: true, affine: true }),
      BatchnormReduce.create(gpu, { stats: 'given', affine: true }),
      node.fusedRelu ? BatchnormApply.create(gpu, { relu: true }) : null,
      BatchnormApply.create(gpu, { src: true }),
      BatchnormApply.create(gpu, {}),
      Elementwise.create(gpu, {}),
    ]);
    const shape = (n: number): BatchnormShape => ({ N: n, C, HW });
    type Ctx = { n: number; label: string; aux(name: string, floats: number): GPUBuffer };
    const stats = (c: Ctx) => c.aux('stats', STATS_SECTIONS * stride);
    const coef = (c: Ctx, pass: string) => c.aux(`coef.${pass}`, COEF_SECTIONS * stride);
    // Each batch plan's stats buffer, by whether its forward pass used batch statistics: the backward
    // and tangent formulas hold for training mode only.
    const training = new WeakMap<GPUBuffer, boolean>();
    const requireTraining = (c: Ctx, pass: string) => {
      if (training.get(stats(c)) === false) {
        throw new Error(`${c.label}: batchnorm ${pass} of a batch planned in evaluation mode (running statistics); plan the batch in training mode`);
      }
    };
    return {
      forward(c) {
        const s = stats(c);
        training.set(s, c.training);
        const k = !c.training ? fwdRunning : c.updateState ? fwdBatchUpdate : fwdBatch;
        const out = coef(c, 'fwd');
        const running = c.training && !c.updateState ? undefined : { mean: c.state.running_mean, var: c.state.running_var };
        if (c.relu && !applyRelu) throw new Error(`${c.label}: a fused ReLU, but the node was loaded without one`);
        return [
          k.plan({ x: c.inputs[0], stats: s, coef: out, a: c.params.gamma, b: c.params.beta, running }, shape(c.n), { eps, momentum }, `${c.label}.stats`),
          (c.relu ? applyRelu! : applyNoSrc).plan(c.inputs[0], null, s, out, c.output, shape(c.n), c.label),
        ];
      },
      backward(c) {
        requireTraining(c, 'backward');
        const s = stats(c);
        const out = coef(c, 'bwd');
        // The sums run even when the input needs no signal: the weight gradients read S1 and S2.
        const ds = [sums.plan({ src: c.outSignal, x: c.inputs[0], gamma: c.params.gamma, stats: s, coef: out }, shape(c.n), { eps }, `${c.label}.sums`)];
        if (c.inSignals[0]) ds.push(applySrc.plan(c.inputs[0], c.outSignal, s, out, c.inSignals[0], shape(c.n), c.label));
        return ds;
      },
      // dβ = S1, dγ = S2 of the backward pass just run with the same signal (the interpreter plans the
      // weight gradients after the backward pass, from the signals it left).
      weightGrads(c) {
        if (c.exWeight) {
          throw new Error(
            `${c.label}: batchnorm couples the examples of a batch; per-example-weighted gradients from unit signals would be wrong ` +
              `(the engine's general path passes loss-weighted signals)`,
          );
        }
        requireTraining(c, 'weight gradients');
        const out = coef(c, 'bwd');
        return [copy.plan(coefSection(gpu, out, 3, C), null, c.grads.beta, C, `${c.label}.beta`), copy.plan(coefSection(gpu, out, 4, C), null, c.grads.gamma, C, `${c.label}.gamma`)];
      },
      tangent(c) {
        requireTraining(c, 'tangent');
        const [dx] = c.inTangents;
        const dir = c.direction;
        if (!dx && !dir) throw new Error(`${c.label}: batchnorm tangent with neither an input tangent nor a direction (it is zero; the interpreter skips such nodes)`);
        const s = stats(c);
        const out = coef(c, 'tan');
        const x = c.inputs[0];
        const affine = dir ? { a: dir.gamma, b: dir.beta } : {};
        const reduce = dx ? (dir ? sumsAffine : sums) : affineOnly;
        return [
          reduce.plan({ x, stats: s, coef: out, ...(dx ? { src: dx, gamma: c.params.gamma } : {}), ...affine }, shape(c.n), { eps }, `${c.label}.sums`),
          (dx ? applySrc : applyNoSrc).plan(x, dx, s, out, c.outTangent, shape(c.n), c.label),
        ];
      },
    };
  },
};
