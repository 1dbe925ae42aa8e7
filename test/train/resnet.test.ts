// The CIFAR ResNets of the model registry: their structure (ResNet-32 has He et al.'s 0.46M parameters),
// and L2RW on a tiny ResNet-8 against the literal float64 Algorithm 1 through batch normalisation:
// alignments (per-example gradients of the batch-coupled losses, and finite differences of the
// lookahead validation loss), whole steps with the running statistics, several steps in a row.
import { describe, expect, it } from 'vitest';
import { buildModel, MODEL_NAMES, resnetSpec } from '../../src/train/models';
import { numClasses, paramCount, resolveModel } from '../../src/train/spec';
import { METHODS } from '../../src/train/methods';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { expectStepsMatchReference, maxAbs, permuted, problemTrainer, randomProblem } from '../helpers/l2rw_problem';
import { alignments, epsGradFiniteDiff } from '../reference/l2rw';
import { minSigma } from '../reference/model_state';

describe('ResNet builders', () => {
  it('ResNet-32 on 32x32x3 with 10 classes has 464,154 parameters (He et al.: 0.46M)', () => {
    // Convolutions (no bias): 3·16·9 + 10·16·16·9 (stage 1) + 16·32·9 + 9·32·32·9 (stage 2)
    // + 32·64·9 + 9·64·64·9 (stage 3) = 461,232; dense 64·10 + 10 = 650; batch norm γ and β on
    // 1,136 channels (the stem, 9 + 9 + 9 units' pre-activations and second convolutions, the first
    // unit of each later stage normalising its input, and the final one) = 2,272.
    expect(paramCount(resnetSpec(32, 10, [3, 32, 32]))).toBe(461_232 + 650 + 2_272);
  });

  it('every depth builds for CIFAR and MNIST shapes; the 1x1 projection shortcut is the alternative', () => {
    for (const depth of [8, 14, 20, 32]) {
      for (const input of [[3, 32, 32], [1, 28, 28]] as const) {
        const m = resolveModel(resnetSpec(depth, 10, input));
        expect(m.couplesExamples).toBe(true);
        expect(m.output.inShapes[0]).toEqual([64]);
        // (6n + 2) weighted layers: 6n convolutions in the units, the stem, the dense layer.
        expect(m.nodes.filter((n) => n.op.name === 'conv2d' || n.op.name === 'dense').length).toBe(depth);
      }
    }
    const proj = resolveModel(resnetSpec(8, 10, [3, 32, 32], { shortcut: 'projection' }));
    expect(proj.nodes.filter((n) => n.op.name === 'pad_channels' || n.op.name === 'avgpool2')).toHaveLength(0);
    expect(proj.nodes.filter((n) => n.op.name === 'conv2d' && n.attrs.kernel === 1)).toHaveLength(2);
    expect(() => resnetSpec(10, 10, [3, 32, 32])).toThrow(/6n\+2/);
    expect(() => resnetSpec(8, 10, [3072])).toThrow(/image inputs/);
  });

  it('the registry names them', () => {
    for (const name of ['resnet8', 'resnet14', 'resnet20', 'resnet32'] as const) {
      expect(MODEL_NAMES).toContain(name);
      expect(numClasses(buildModel(name, { input: [1, 28, 28], classes: 2 }))).toBe(2);
    }
  });
});

/** ResNet-8 with 2/4/8 channels on 8x8x3 inputs: every op of ResNet-32, at a size float64 can follow. */
const TINY = resnetSpec(8, 3, [3, 8, 8], { width: 2 });
const SGD = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, decayBiases: false };

// fp32 forward, tangent and backward passes through 8 layers with batch statistics over 6-64 values
// per channel: each alignment and update is a sum of a few hundred fp32 products whose rounding
// (~1e-6 relative each) the normalisations amplify by 1/σ (σ > 0.2 is checked): 1e-3 relative plus
// 1e-4 of the largest entry leaves a wide margin over the ~1e-6 observed.
const tol = (ref: ArrayLike<number>) => ({ atol: 1e-4 * maxAbs(ref), rtol: 1e-3 });

describe('every method on a ResNet', () => {
  it('each trains three steps on a tiny ResNet-8: finite parameters, running statistics updated', async () => {
    const gpu = await testGpu();
    const p = randomProblem(TINY, 8, 12, 6);
    for (const method of METHODS) {
      const t = await problemTrainer(gpu, p, { ...SGD, seed: 9, method, batch: 6, valBatch: 3, finetuneSteps: 1, steps: 3 });
      const state0 = await t.model.readState();
      for (let i = 0; i < 3; i++) await t.trainStep();
      const theta = await t.model.readParams();
      expect(theta.every(Number.isFinite), method).toBe(true);
      expect(Array.from(theta), method).not.toEqual(Array.from(p.theta));
      expect(Array.from(await t.model.readState()), method).not.toEqual(Array.from(state0));
      t.destroy();
    }
  });
});

describe('L2RW through batch normalisation on a tiny ResNet-8', () => {
  it('takes the general path; alignments match per-example gradients and finite differences', async () => {
    const gpu = await testGpu();
    const p = randomProblem(TINY, 3, 6, 3);
    const t = await problemTrainer(gpu, p, { ...SGD, seed: 9 });
    expect(t.generalPath).toBe(true);
    await t.trainStep();
    const b = await t.inspectLastBatch();
    const { X, y } = permuted(p, b.indices);
    expect(minSigma(TINY, p.theta, X)).toBeGreaterThan(0.2);
    expect(minSigma(TINY, p.theta, p.Xg)).toBeGreaterThan(0.2);
    const ref = alignments(TINY, p.theta, X, y, p.Xg, p.yg);
    expectClose(b.alignments!, ref, tol(ref), 's');
    const alpha = 0.5;
    const fd = epsGradFiniteDiff(TINY, p.theta, X, y, p.Xg, p.yg, alpha, 1e-5);
    const worst = Math.max(...Array.from(fd, (v, i) => Math.abs(v + alpha * b.alignments![i]))) / maxAbs(fd);
    expect(worst).toBeLessThan(1e-3);
    t.destroy();
  });

  it('three whole steps (weights, parameters, velocity, running statistics) match the reference', async () => {
    const gpu = await testGpu();
    const p = randomProblem(TINY, 5, 8, 4);
    const t = await problemTrainer(gpu, p, { ...SGD, seed: 9 });
    await expectStepsMatchReference(t, p, SGD, 3, { update: tol, weights: { atol: 1e-5, rtol: 1e-3 }, state: (ref) => ({ atol: 1e-6 * maxAbs(ref), rtol: 1e-5 }) }, 'ResNet-8');
    t.destroy();
  });
});
