// The ResNet-32 ops in the graph engine: a small graph with a bias-free convolution (its ReLU fused
// through the 'relu' epilogue), a strided bias-free convolution, the option-A shortcut (avgpool2 then
// pad_channels) into a residual add, global average pooling and a dense layer, trained by the Trainer
// with L2RW on both paths, against the literal float64 Algorithm 1 (test/reference/l2rw.ts): the
// alignments against per-example gradients and against finite differences of the look-ahead
// validation loss, and one whole step. Also the ops' attribute and shape errors.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/train/models';
import { INPUT, resolveModel, type ModelSpec } from '../../src/train/spec';
import { expectClose } from '../helpers/compare';
import { testGpu } from '../helpers/gpu';
import { thetaLength } from '../reference/graph';
import { maxAbs, permuted, problemTrainer, randomProblem } from '../helpers/l2rw_problem';
import { alignments, epsGradFiniteDiff, l2rwStep } from '../reference/l2rw';

/**
 * input [3,8,8] → conv2d(4, k3, pad 1, no bias) → relu → A [4,8,8];
 * A → conv2d(6, k3, stride 2, pad 1, no bias) → B [6,4,4];  A → avgpool2 → pad_channels(1, 1) → S [6,4,4];
 * add(B, S) → relu → global_avg_pool [6] → dense 3 'logits'.
 */
function resnetUnit(): ModelSpec {
  const g = new GraphBuilder('resnet-unit', [3, 8, 8]);
  const A = g.node('relu', g.node('conv2d', INPUT, { channels: 4, kernel: 3, pad: 1, bias: false }, 'conv0'), {}, 'A');
  const B = g.node('conv2d', A, { channels: 6, kernel: 3, stride: 2, pad: 1, bias: false }, 'B');
  const S = g.node('pad_channels', g.node('avgpool2', A, {}, 'pool'), { before: 1, after: 1 }, 'S');
  const sum = g.node('relu', g.node('add', [B, S], {}, 'sum'), {}, 'r');
  g.node('dense', g.node('global_avg_pool', sum, {}, 'gap'), { units: 3 }, 'logits');
  return g.build();
}

const SPEC = resnetUnit();
const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };


// GPU (fp32) against float64. Every quantity below is a chain of ≲ 8 fp32 passes whose dot products
// are ≲ 300 terms long (the largest: the first convolution's filter gradient, N·P·Q = 6·64), each
// adding ≲ 1e-6 relative error, so ≲ 1e-5 relative in the gradients; an alignment or a Δθ entry is
// then a sum of ≲ 350 signed terms that may cancel, which the atol (scaled by the largest entry)
// absorbs. 1e-3 relative and 1e-4 of the largest entry leave a ≥ 10x margin; a wrong or missing term
// (e.g. a bias gradient, a dropped shortcut signal) is off by O(1) relative.
const tol = (ref: ArrayLike<number>) => ({ atol: 1e-4 * maxAbs(ref), rtol: 1e-3 });

describe('the ResNet-32 ops in a graph trained with L2RW', () => {
  it('resolves: bias-free convolutions declare only a weight, and the shapes are as drawn', () => {
    const m = resolveModel(SPEC);
    expect(m.node('conv0').params.map((p) => p.name)).toEqual(['weight']);
    expect(m.node('B').params.map((p) => p.name)).toEqual(['weight']);
    expect(m.node('S').outShape).toEqual([6, 4, 4]);
    expect(m.node('gap').outShape).toEqual([6]);
    expect(m.node('A').consumers).toEqual(['B', 'pool']);
    expect(thetaLength(SPEC)).toBe(4 * 3 * 9 + 6 * 4 * 9 + 6 * 3 + 3);
  });

  for (const l2rwPath of ['fast', 'general'] as const) {
    it(`${l2rwPath} path: alignments against literal per-example gradients and finite differences`, async () => {
      const gpu = await testGpu();
      const p = randomProblem(SPEC, 41, 6, 3);
      const t = await problemTrainer(gpu, p, { ...SGD, seed: 3, steps: 10, l2rwPath });
      try {
        expect(t.generalPath).toBe(l2rwPath === 'general');
        await t.trainStep();
        const b = await t.inspectLastBatch();
        const { X, y } = permuted(p, b.indices);
        const s = b.alignments!;
        const ref = alignments(SPEC, p.theta, X, y, p.Xg, p.yg);
        expect(maxAbs(ref)).toBeGreaterThan(1e-4);
        expectClose(s, ref, tol(ref), `${l2rwPath} s`);
        // ∂/∂ε_i L_val(θ − α Σ_j ε_j ∇f_j) at ε = 0 is −α s_i: central differences of the float64
        // model with τ = 1e-5 (truncation O(τ²), rounding ~1e-16/τ: both far below 1e-3).
        const alpha = 0.5;
        const fd = epsGradFiniteDiff(SPEC, p.theta, X, y, p.Xg, p.yg, alpha, 1e-5);
        expectClose(Float64Array.from(s, (v) => -alpha * v), fd, tol(fd), `${l2rwPath} −α s vs finite differences`);
      } finally {
        t.destroy();
      }
    });

    it(`${l2rwPath} path: one whole step matches the literal float64 Algorithm 1`, async () => {
      const gpu = await testGpu();
      const p = randomProblem(SPEC, 43, 7, 3);
      const t = await problemTrainer(gpu, p, { ...SGD, seed: 3, steps: 10, l2rwPath });
      try {
        await t.trainStep();
        const b = await t.inspectLastBatch();
        const { X, y } = permuted(p, b.indices);
        const ref = l2rwStep(SPEC, p.theta, new Float64Array(p.theta.length), X, y, p.Xg, p.yg, SGD);
        expectClose(b.alignments!, ref.s, tol(ref.s), `${l2rwPath} s`);
        // The weights are max(s, 0) normalised: compared where no s_i is within rounding of the clip.
        if (Array.from(ref.s).every((v) => Math.abs(v) > 1e-3 * maxAbs(ref.s))) expectClose(b.weights, ref.w, { atol: 1e-5, rtol: 1e-3 }, `${l2rwPath} w`);
        expect(ref.w.some((v) => v > 0)).toBe(true);
        const next = await t.model.readParams();
        const dRef = Float64Array.from(ref.theta, (v, i) => v - p.theta[i]);
        expectClose(Float64Array.from(next, (v, i) => v - p.theta[i]), dRef, tol(dRef), `${l2rwPath} Δθ`);
        expectClose(await t.model.readVelocity(), ref.velocity, tol(ref.velocity), `${l2rwPath} velocity`);
      } finally {
        t.destroy();
      }
    });
  }
});

describe('the ResNet-32 ops reject malformed nodes, naming the node', () => {
  const build = (f: (g: GraphBuilder) => void, input = [3, 8, 8]) => () => {
    const g = new GraphBuilder('bad', input);
    f(g);
    return g.build();
  };
  it('avgpool2 needs an even height and width', () => {
    expect(build((g) => g.node('avgpool2', INPUT, {}, 'oddpool'), [2, 5, 4])).toThrow(/oddpool.*even height and width, got 5x4/);
    expect(build((g) => g.node('avgpool2', INPUT, {}, 'oddpool'), [2, 4, 3])).toThrow(/oddpool.*got 4x3/);
    expect(build((g) => g.node('avgpool2', g.node('global_avg_pool', INPUT), {}, 'flatpool'))).toThrow(/flatpool.*\[C, H, W\]/);
  });
  it('pad_channels takes integers >= 0, at least one of them > 0', () => {
    expect(build((g) => g.node('pad_channels', INPUT, { before: 0, after: 0 }, 'nopad'))).toThrow(/nopad.*"before" or "after" > 0/);
    expect(build((g) => g.node('pad_channels', INPUT, {}, 'nopad'))).toThrow(/nopad/);
    expect(build((g) => g.node('pad_channels', INPUT, { before: -1, after: 2 }, 'neg'))).toThrow(/neg.*"before" must be an integer >= 0/);
    expect(build((g) => g.node('pad_channels', INPUT, { before: 1.5 }, 'frac'))).toThrow(/frac.*"before"/);
    expect(build((g) => g.node('pad_channels', INPUT, { before: 1, side: 2 }, 'extra'))).toThrow(/extra.*unknown attribute "side"/);
    expect(resolveModel(build((g) => g.node('dense', g.node('global_avg_pool', g.node('pad_channels', INPUT, { after: 2 })), { units: 2 }))()).nodes[0].outShape).toEqual([5, 8, 8]);
  });
  it('global_avg_pool takes an image; conv2d bias is a boolean', () => {
    expect(build((g) => g.node('global_avg_pool', g.node('global_avg_pool', INPUT), {}, 'twice'))).toThrow(/twice.*\[C, H, W\]/);
    expect(build((g) => g.node('conv2d', INPUT, { channels: 2, kernel: 3, bias: 0 }, 'c'))).toThrow(/c.*"bias" must be true or false/);
    const withBias = resolveModel(build((g) => g.node('dense', g.node('global_avg_pool', g.node('conv2d', INPUT, { channels: 2, kernel: 3 }, 'c')), { units: 2 }))());
    expect(withBias.node('c').params.map((p) => p.name)).toEqual(['weight', 'bias']);
    expect(withBias.node('c').attrs.bias).toBe(true);
  });
});
