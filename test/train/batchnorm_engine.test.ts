// Batch normalisation in the graph engine: a small residual graph with two batchnorm nodes (one with a
// fused ReLU, one feeding an add) trained by L2RW. Batch statistics couple the examples of a batch, so
// the trainer must take its general path (a tangent pass for the alignments, a weighted backward pass
// for the gradient). Against the literal float64 Algorithm 1 (test/reference/l2rw.ts over the graph
// reference with the batchnorm RefOp): the alignments (and central finite differences of the lookahead
// validation loss), one whole step (weights, gradient, parameters, velocity, and the running
// statistics against the reference's update from the training batch's statistics), three steps in a
// row, and evaluation with the running statistics.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/train/models';
import { INPUT, numClasses, type ModelSpec } from '../../src/train/spec';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { crossEntropy, forwardBatch, resolved } from '../reference/graph';
import { expectStepsMatchReference, maxAbs, permuted, problemTrainer, randomProblem } from '../helpers/l2rw_problem';
import { alignments, epsGradFiniteDiff, l2rwStep } from '../reference/l2rw';
import { evalLogits, minSigma, stateAfter, stateViews } from '../reference/model_state';

/**
 * input [2,6,6] → conv2d(4, k3, pad 1) → batchnorm → relu → A; A → conv2d(4, k3, pad 1) → batchnorm
 * (momentum 0.25, eps 1e-3) → add(·, A) → relu → maxpool2 → flatten → dense 3. (The second conv has 4
 * channels, not 3, so that the add's inputs match.) bn1's ReLU is fused into it; bn2 feeds the add.
 */
function bnGraph(): ModelSpec {
  const g = new GraphBuilder('bn-skip', [2, 6, 6]);
  const A = g.node('relu', g.node('batchnorm', g.node('conv2d', INPUT, { channels: 4, kernel: 3, pad: 1 }, 'c1'), {}, 'bn1'), {}, 'A');
  const B = g.node('batchnorm', g.node('conv2d', A, { channels: 4, kernel: 3, pad: 1 }, 'c2'), { momentum: 0.25, eps: 1e-3 }, 'bn2');
  const x = g.node('flatten', g.node('maxpool2', g.node('relu', g.node('add', [B, A], {}, 'sum'), {}, 'r2'), {}, 'pool'), {}, 'flat');
  g.node('dense', x, { units: 3 }, 'logits');
  return g.build();
}

const SPEC = bnGraph();
const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };


// ---- tolerances -----------------------------------------------------------------------------------
// The alignments, the weighted gradient and the update are fp32 results of a forward pass, a tangent
// or backward pass and a few sums of up to a few hundred products each (conv: 36 terms, batchnorm: 216
// per channel, dense: 36), each adding a relative error of a few u = 2^-24 of the largest terms: ~1e-6
// of the largest value in all. Batch normalisation divides by the batch σ of the conv outputs, which
// the test asserts is above 0.2 for every channel, so it amplifies that by a few at most. 1e-5 of the
// largest value absolute plus 1e-4 relative is ~10x above that (observed: ~1e-7 of the largest value).
const tol = (ref: ArrayLike<number>) => ({ atol: 1e-5 * maxAbs(ref), rtol: 1e-4 });
// The weights w = max(s, 0)/Σ: guarded by |s_i| > 1e-3·max|s|, an error of 1e-6·max|s| in s_i is at
// most 1e-3 of s_i, so 1e-3 relative (as graph_engine.test.ts).
const W_TOL = { atol: 1e-5, rtol: 1e-3 };
// Running statistics: (1 − momentum)·old + momentum·(batch μ or unbiased σ²); μ and σ² are fp32 sums of
// 216 conv outputs (themselves 18-term fp32 sums), so their relative error is a few u of the
// statistics' scale: 1e-6 of the largest value plus 1e-6 relative is ~10x above (observed ~7e-8).
const stateTol = (ref: ArrayLike<number>) => ({ atol: 1e-6 * maxAbs(ref), rtol: 1e-6 });


describe('batch normalisation in the graph engine', () => {
  it('the model couples examples: L2RW takes the general path (and refuses the fast one)', async () => {
    const gpu = await testGpu();
    const p = randomProblem(SPEC, 3, 6, 3, { inputOffset: 0.3, test: 40 });
    expect(resolved(SPEC).couplesExamples).toBe(true);
    await expect(problemTrainer(gpu, p, { ...SGD, l2rwPath: 'fast' })).rejects.toThrow(/couples the examples/);
    const t = await problemTrainer(gpu, p, { ...SGD });
    expect(t.generalPath).toBe(true);
    t.destroy();
  });

  it('alignments vs literal per-example gradients and finite differences of the lookahead validation loss', async () => {
    const gpu = await testGpu();
    const p = randomProblem(SPEC, 31, 6, 3, { inputOffset: 0.3, test: 40 });
    const t = await problemTrainer(gpu, p, { ...SGD });
    expect(t.generalPath).toBe(true);
    await t.trainStep();
    const b = await t.inspectLastBatch();
    const { X, y } = permuted(p, b.indices);
    expect(minSigma(SPEC, p.theta, X)).toBeGreaterThan(0.2);
    expect(minSigma(SPEC, p.theta, p.Xg)).toBeGreaterThan(0.2);
    const ref = alignments(SPEC, p.theta, X, y, p.Xg, p.yg);
    expectClose(b.alignments!, ref, tol(ref), 's');
    // ∂/∂ε_i L_val(θ − α Σ ε_i ∇f_i) = −α s_i, by central differences of the float64 model (the
    // validation batch normalised with its own statistics, as the GPU's step 8 does).
    const alpha = 0.5;
    const fd = epsGradFiniteDiff(SPEC, p.theta, X, y, p.Xg, p.yg, alpha, 1e-5);
    const worst = Math.max(...Array.from(fd, (v, i) => Math.abs(v + alpha * b.alignments![i]))) / maxAbs(fd);
    expect(worst).toBeLessThan(1e-3);
    t.destroy();
  });

  it('one whole L2RW step: weights, gradient, parameters, velocity and running statistics', async () => {
    const gpu = await testGpu();
    const p = randomProblem(SPEC, 37, 6, 3, { inputOffset: 0.3, test: 40 });
    const t = await problemTrainer(gpu, p, { ...SGD });
    const state0 = await t.model.readState();
    // Initial state: running means 0, running variances 1.
    expect(Array.from(state0)).toEqual(Array.from(stateViews(SPEC, state0).values()).flatMap((v) => [...v.mean.map(() => 0), ...v.variance.map(() => 1)]));
    await t.trainStep();
    const b = await t.inspectLastBatch();
    const { X, y } = permuted(p, b.indices);
    const velocity0 = new Float64Array(p.theta.length);
    const ref = l2rwStep(SPEC, p.theta, velocity0, X, y, p.Xg, p.yg, SGD);
    expectClose(b.alignments!, ref.s, tol(ref.s), 's');
    const margin = 1e-3 * maxAbs(ref.s);
    expect(Array.from(ref.s).every((s) => Math.abs(s) > margin)).toBe(true);
    expect(ref.w.some((w) => w === 0) && ref.w.some((w) => w > 0)).toBe(true); // some examples dropped, some kept
    expectClose(b.weights, ref.w, W_TOL, 'w');
    expectClose(await t.model.readGrads(), ref.grad, tol(ref.grad), 'Σ w_i ∇f_i');
    const next = await t.model.readParams();
    expectClose(
      next.map((v, i) => v - p.theta[i]),
      ref.theta.map((v, i) => v - p.theta[i]),
      tol(ref.theta.map((v, i) => v - p.theta[i])),
      'Δθ',
    );
    expectClose(await t.model.readVelocity(), ref.velocity, tol(ref.velocity), 'velocity');
    // The training batch's forward pass updated the state once; the validation batch's did not.
    const refState = stateAfter(SPEC, p.theta, state0, X);
    expectClose(await t.model.readState(), refState, stateTol(refState), 'running statistics');
    t.destroy();
  });

  it('three L2RW steps in a row, and evaluation with the running statistics', async () => {
    const gpu = await testGpu();
    const p = randomProblem(SPEC, 41, 6, 3, { inputOffset: 0.3, test: 40 });
    const t = await problemTrainer(gpu, p, { ...SGD });
    const { theta, state } = await expectStepsMatchReference(t, p, SGD, 3, { update: tol, weights: W_TOL, alignments: true, state: stateTol }, 'batchnorm graph');

    // Evaluation: the running statistics, not the test set's own batch statistics.
    const Xt = p.Xt!;
    const yt = p.yt!;
    const logits = evalLogits(SPEC, theta, state, Xt);
    const K = numClasses(SPEC);
    let errors = 0;
    let loss = 0;
    let minGap = Infinity;
    for (let i = 0; i < yt.length; i++) {
      const z = logits.subarray(i * K, (i + 1) * K);
      const order = Array.from(z.keys()).sort((a, b) => z[b] - z[a]);
      minGap = Math.min(minGap, z[order[0]] - z[order[1]]);
      if (order[0] !== yt[i]) errors++;
      loss += crossEntropy(z, yt[i]);
    }
    // An error count is exact only where no prediction is within fp32 rounding of a tie.
    expect(minGap).toBeGreaterThan(1e-4);
    const e = await t.evaluate('test');
    expect(e.n).toBe(yt.length);
    expect(e.error).toBe(errors / yt.length);
    // The mean loss: fp32 logits (relative errors ~1e-7) through a log-sum-exp per row, summed over 40
    // rows in fp32: a few u of the loss; 2e-6 of (1 + loss) is ~10x above (observed 4e-7 at loss 5.3).
    expect(Math.abs(e.loss - loss / yt.length)).toBeLessThan(2e-6 * (1 + loss / yt.length));
    // The same logits with the batch statistics of the test set would give another loss.
    const batchLogits = forwardBatch(SPEC, theta, Xt).logits;
    const batchLoss = yt.reduce((a, yi, i) => a + crossEntropy(batchLogits.subarray(i * K, (i + 1) * K), yi), 0) / yt.length;
    expect(Math.abs(batchLoss - loss / yt.length)).toBeGreaterThan(1e-3);
    // Evaluation leaves the state alone.
    expect(Array.from(await t.model.readState())).toEqual(Array.from(state));
    t.destroy();
  });
});
