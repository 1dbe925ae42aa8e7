import { describe, expect, it } from 'vitest';
import { lenetSpec, mlpSpec } from '../../src/train/models';
import { numClasses, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Rng } from '../../src/util/rng';
import { activationPattern as patternOf } from './graph';
import { alignments, epsGradFiniteDiff, initParams, l2rwStep, l2rwWeights, perExampleGrads, plainStep, sgdMomentumStep, validationGrad } from './l2rw';
import { batchExample, batchGrad, batchLoss, forward, kinkMargin, paramOffsets } from './network';
import { tinyConv, tinyMlp } from '../helpers/specs';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

interface Problem {
  theta: Float64Array;
  Xf: Float64Array;
  yf: Int32Array;
  Xg: Float64Array;
  yg: Int32Array;
}

function activationPattern(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>): string {
  return patternOf(forward(spec, theta, x));
}

/**
 * A random problem (θ, n training and m validation examples) whose every example is at least 1e-3 away
 * from a ReLU kink or a pooling switch, found deterministically by trying seeds in order.
 */
function smoothProblem(
  spec: ModelSpec,
  seed: number,
  n: number,
  m: number,
  labels: { train?: number[]; val?: number[] } = {},
): Problem {
  const d = shapeSize(spec.input);
  const K = numClasses(spec);
  const trainClasses = labels.train ?? Array.from({ length: K }, (_, k) => k);
  const valClasses = labels.val ?? Array.from({ length: K }, (_, k) => k);
  for (let attempt = 0; attempt < 500; attempt++) {
    const rng = new Rng(seed * 1000 + attempt);
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const Xf = Float64Array.from({ length: n * d }, () => rng.normal());
    const Xg = Float64Array.from({ length: m * d }, () => rng.normal());
    const yf = Int32Array.from({ length: n }, () => trainClasses[rng.int(trainClasses.length)]);
    const yg = Int32Array.from({ length: m }, () => valClasses[rng.int(valClasses.length)]);
    const xs = [...Array.from({ length: n }, (_, i) => batchExample(Xf, i, spec)), ...Array.from({ length: m }, (_, j) => batchExample(Xg, j, spec))];
    if (xs.every((x) => {
      const k = kinkMargin(spec, theta, x);
      return k.relu >= 1e-3 && k.pool >= 1e-3;
    })) {
      return { theta, Xf, yf, Xg, yg };
    }
  }
  throw new Error(`${spec.name}: no problem away from kinks found`);
}

// Finite differences of h(ε) = L_g(θ − α Σ ε_i ∇f_i) with τ = 1e-5, α = 0.5. Truncation error is
// (ατ)²/6 · |∇f_i|³ · |third derivative of L_g along ∇f_i| ≈ 1e-11 · O(10); rounding is
// ~1e-16 · |L_g| / 2τ ≈ 1e-11. So |fd − (−α s_i)| ≤ 1e-9 + 1e-6 · |α s_i|.
const ALPHA = 0.5;
const TAU = 1e-5;
const EPS_TOL = { atol: 1e-9, rtol: 1e-6 };

function checkAlignmentsFd(spec: ModelSpec, p: Problem) {
  const s = alignments(spec, p.theta, p.Xf, p.yf, p.Xg, p.yg);
  const fd = epsGradFiniteDiff(spec, p.theta, p.Xf, p.yf, p.Xg, p.yg, ALPHA, TAU);
  // The lookahead points θ ∓ ατ∇f_i must keep every validation example in the same smooth piece.
  const grads = perExampleGrads(spec, p.theta, p.Xf, p.yf);
  const m = p.yg.length;
  for (let j = 0; j < m; j++) {
    const xv = batchExample(p.Xg, j, spec);
    const base = activationPattern(spec, p.theta, xv);
    for (const gi of grads) {
      for (const sign of [1, -1]) {
        const t = Float64Array.from(p.theta, (v, k) => v - sign * ALPHA * TAU * gi[k]);
        expect(activationPattern(spec, t, xv)).toBe(base);
      }
    }
  }
  expect(s.length).toBe(p.yf.length);
  s.forEach((si, i) => {
    const expected = -ALPHA * si;
    expect(Math.abs(fd[i] - expected), `example ${i}: −α s = ${expected}, finite difference ${fd[i]}`).toBeLessThanOrEqual(
      EPS_TOL.atol + EPS_TOL.rtol * Math.abs(expected),
    );
  });
  expect(s.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  return s;
}

describe('alignments s_i = <∇f_i, g> match finite differences of the lookahead validation loss', () => {
  it('tiny MLP, n = 7, m = 3', () => {
    checkAlignmentsFd(tinyMlp, smoothProblem(tinyMlp, 1, 7, 3));
  });

  it('tiny conv net, n = 7, m = 3', () => {
    checkAlignmentsFd(tinyConv, smoothProblem(tinyConv, 2, 7, 3));
  });

  it('m = 1', () => {
    checkAlignmentsFd(tinyMlp, smoothProblem(tinyMlp, 3, 7, 1));
    checkAlignmentsFd(tinyConv, smoothProblem(tinyConv, 4, 5, 1));
  });

  it('one class absent from the training batch, another from the validation batch', () => {
    const p = smoothProblem(tinyConv, 5, 7, 3, { train: [0, 1], val: [1, 2] });
    expect(Array.from(p.yf).every((y) => y !== 2)).toBe(true);
    expect(Array.from(p.yg).every((y) => y !== 0)).toBe(true);
    const s = checkAlignmentsFd(tinyConv, p);
    const w = l2rwWeights(s);
    expect(w.every((v) => v >= 0)).toBe(true);
    if (s.some((v) => v > 0)) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
  });

  it('Σ_i s_i = <∇ Σ_i f_i, g>', () => {
    for (const [spec, seed] of [
      [tinyMlp, 6],
      [tinyConv, 7],
      [lenetSpec(3, 'lenet5', [1, 12, 12]), 8],
    ] as const) {
      const rng = new Rng(seed);
      const d = shapeSize(spec.input);
      const theta = initParams(spec, rng, { biasStd: 0.1 });
      const n = 7;
      const m = 3;
      const Xf = rng.normals(n * d);
      const Xg = rng.normals(m * d);
      const yf = Int32Array.from({ length: n }, () => rng.int(3));
      const yg = Int32Array.from({ length: m }, () => rng.int(3));
      const s = alignments(spec, theta, Xf, yf, Xg, yg);
      const sumS = s.reduce((a, b) => a + b, 0);
      const g = validationGrad(spec, theta, Xg, yg);
      const direct = dot(batchGrad(spec, theta, Xf, yf, new Float64Array(n).fill(1)), g);
      expect(Math.abs(sumS - direct)).toBeLessThanOrEqual(1e-12 * (1 + s.reduce((a, b) => a + Math.abs(b), 0)));
    }
  });
});

describe('l2rwWeights', () => {
  const arr = (w: Float64Array) => Array.from(w);

  it('all s ≤ 0 gives all zeros', () => {
    expect(arr(l2rwWeights([-1, 0, -0, -3e-12]))).toEqual([0, 0, 0, 0]);
    expect(arr(l2rwWeights([0]))).toEqual([0]);
    expect(arr(l2rwWeights([]))).toEqual([]);
  });

  it('otherwise non-negative, proportional to max(s, 0), summing to 1', () => {
    expect(arr(l2rwWeights([1, -2, 3, 0]))).toEqual([0.25, 0, 0.75, 0]);
    expect(arr(l2rwWeights([5]))).toEqual([1]);
    expect(arr(l2rwWeights([1e-300, -1]))).toEqual([1, 0]);
    const rng = new Rng(12);
    const s = Float64Array.from({ length: 37 }, () => rng.normal());
    const w = l2rwWeights(s);
    expect(w.every((v, i) => (s[i] > 0 ? v > 0 : v === 0))).toBe(true);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    // α > 0 cancels: scaling s by a positive constant leaves w unchanged.
    const w2 = l2rwWeights(s.map((v) => 0.37 * v));
    w.forEach((v, i) => expect(w2[i]).toBeCloseTo(v, 14));
  });
});

describe('sgdMomentumStep (PyTorch convention)', () => {
  it('v = μ v + (g + wd θ); θ = θ − lr v, on fresh arrays', () => {
    const theta = Float64Array.from([1, -2]);
    const v = Float64Array.from([0.5, 0]);
    const g = Float64Array.from([0.1, 0.2]);
    const r = sgdMomentumStep(theta, v, g, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    expect(r.velocity[0]).toBeCloseTo(0.56, 15);
    expect(r.velocity[1]).toBeCloseTo(0.18, 15);
    expect(r.theta[0]).toBeCloseTo(0.944, 15);
    expect(r.theta[1]).toBeCloseTo(-2.018, 15);
    expect(Array.from(theta)).toEqual([1, -2]);
    expect(Array.from(v)).toEqual([0.5, 0]);
    expect(r.theta).not.toBe(theta);
    expect(r.velocity).not.toBe(v);
  });
});

describe('l2rwStep', () => {
  // Logistic regression with tiny weights (p ≈ uniform), training inputs close to the validation
  // input but with other labels: s_i ≈ (|p|² − p_{y_i} − p_{y_v})(x_i·x_v + 1) ≈ −(1/3)(|x|² + 1) < 0.
  function allNegativeProblem() {
    const spec = mlpSpec(5, [], 3);
    const rng = new Rng(21);
    const theta = initParams(spec, rng).map((v) => 0.01 * v);
    const xv = Float64Array.from({ length: 5 }, () => rng.normal());
    const n = 7;
    const Xf = new Float64Array(n * 5);
    for (let i = 0; i < n; i++) for (let k = 0; k < 5; k++) Xf[i * 5 + k] = xv[k] + 0.05 * rng.normal();
    const yf = Int32Array.from({ length: n }, (_, i) => 1 + (i % 2));
    return { spec, theta, Xf, yf, Xg: xv, yg: Int32Array.from([0]) };
  }

  it('every s ≤ 0: w = 0, the gradient is exactly zero, θ moves only by momentum and weight decay', () => {
    const { spec, theta, Xf, yf, Xg, yg } = allNegativeProblem();
    const rng = new Rng(22);
    const velocity = Float64Array.from(theta, () => 0.01 * rng.normal());
    const opts = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
    const r = l2rwStep(spec, theta, velocity, Xf, yf, Xg, yg, opts);
    expect(r.s.every((v) => v < 0)).toBe(true);
    expect(Array.from(r.w)).toEqual(new Array(7).fill(0));
    expect(r.grad.every((v) => Object.is(v, 0))).toBe(true);
    const expected = sgdMomentumStep(theta, velocity, new Float64Array(theta.length), opts);
    expect(Array.from(r.theta)).toEqual(Array.from(expected.theta));
    expect(Array.from(r.velocity)).toEqual(Array.from(expected.velocity));
    // Without momentum history and weight decay nothing moves at all.
    const still = l2rwStep(spec, theta, new Float64Array(theta.length), Xf, yf, Xg, yg, { lr: 0.1, momentum: 0.9, weightDecay: 0 });
    expect(Array.from(still.theta)).toEqual(Array.from(theta));
    expect(still.velocity.every((v) => v === 0)).toBe(true);
  });

  it('mixed signs: w ≥ 0 sums to 1, grad = Σ w_i ∇f_i, and a small step lowers the validation loss', () => {
    const spec = tinyConv;
    const d = shapeSize(spec.input);
    const rng = new Rng(31);
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const m = 3;
    const Xg = rng.normals(m * d);
    const yg = Int32Array.from({ length: m }, () => rng.int(3));
    // Training batch: the validation examples with their labels, the same inputs with other labels,
    // and one unrelated example (n = 7).
    const n = 7;
    const Xf = new Float32Array(n * d);
    Xf.set(Xg, 0);
    Xf.set(Xg, m * d);
    Xf.set(rng.normals(d), 2 * m * d);
    const yf = Int32Array.from([...yg, ...Array.from(yg, (y) => (y + 1) % 3), rng.int(3)]);
    const velocity = new Float64Array(theta.length);
    const opts = { lr: 1e-3, momentum: 0, weightDecay: 0 };
    const r = l2rwStep(spec, theta, velocity, Xf, yf, Xg, yg, opts);
    expect(r.s.some((v) => v > 0)).toBe(true);
    expect(r.s.some((v) => v <= 0)).toBe(true);
    expect(r.w.every((v, i) => (r.s[i] > 0 ? v > 0 : v === 0))).toBe(true);
    expect(r.w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    const ref = batchGrad(spec, theta, Xf, yf, r.w);
    ref.forEach((v, j) => expect(Math.abs(r.grad[j] - v)).toBeLessThanOrEqual(1e-14 + 1e-12 * Math.abs(v)));
    const step = sgdMomentumStep(theta, velocity, r.grad, opts);
    expect(Array.from(r.theta)).toEqual(Array.from(step.theta));
    // <grad, g> = Σ w_i s_i > 0: the reweighted step is a descent direction for the validation loss.
    const g = validationGrad(spec, theta, Xg, yg);
    const wsum = r.w.reduce((a, wi, i) => a + wi * r.s[i], 0);
    expect(dot(r.grad, g)).toBeCloseTo(wsum, 12);
    expect(wsum).toBeGreaterThan(0);
    expect(batchLoss(spec, r.theta, Xg, yg)).toBeLessThan(batchLoss(spec, theta, Xg, yg));
  });

  it('plainStep uses w_i = 1/n: the mean gradient', () => {
    const p = smoothProblem(tinyMlp, 41, 7, 3);
    const rng = new Rng(42);
    const velocity = Float64Array.from(p.theta, () => 0.01 * rng.normal());
    const opts = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 };
    const r = plainStep(tinyMlp, p.theta, velocity, p.Xf, p.yf, opts);
    expect(Array.from(r.w)).toEqual(new Array(7).fill(1 / 7));
    const mean = batchGrad(tinyMlp, p.theta, p.Xf, p.yf);
    mean.forEach((v, j) => expect(Math.abs(r.grad[j] - v)).toBeLessThanOrEqual(1e-15 + 1e-13 * Math.abs(v)));
    const step = sgdMomentumStep(p.theta, velocity, r.grad, opts);
    expect(Array.from(r.theta)).toEqual(Array.from(step.theta));
    expect(Array.from(r.velocity)).toEqual(Array.from(step.velocity));
  });
});

describe('initParams', () => {
  it('He-normal weights, zero biases, deterministic', () => {
    const spec = lenetSpec(10);
    const a = initParams(spec, new Rng(5));
    const b = initParams(spec, new Rng(5));
    expect(Array.from(a)).toEqual(Array.from(b));
    for (const p of paramOffsets(spec)) {
      const t = a.subarray(p.offset, p.offset + p.size);
      if (p.name.endsWith('.bias')) {
        expect(t.every((v) => v === 0)).toBe(true);
      } else if (p.size > 10000) {
        const std = Math.sqrt(t.reduce((s, v) => s + v * v, 0) / p.size);
        const fanIn = p.size / p.shape[0];
        expect(std / Math.sqrt(2 / fanIn)).toBeGreaterThan(0.97);
        expect(std / Math.sqrt(2 / fanIn)).toBeLessThan(1.03);
      }
    }
  });
});
