import { describe, expect, it } from 'vitest';
import { GraphBuilder, lenetSpec } from '../../src/train/models';
import { INPUT, numClasses, paramCount, resolveModel, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Rng } from '../../src/util/rng';
import { activationPattern as patternOf } from './graph';
import { initParams } from './l2rw';
import type { Maxpool2Saved } from './ops/maxpool2';
import {
  batchExample,
  batchGrad,
  batchLogits,
  batchLoss,
  crossEntropy,
  exampleGrad,
  exampleLoss,
  forward,
  kinkMargin,
  maxpool2Backward,
  maxpool2Forward,
  paramOffsets,
  predict,
  thetaLength,
} from './network';
import { tinyConv, tinyMlp } from '../helpers/specs';

// ---------------------------------------------------------------------------------------------
// Models under test.

// Caffe-LeNet shape scaled down to 12x12: conv (no ReLU), pool, conv (no ReLU), pool, dense ReLU, dense.
const lenetSmall: ModelSpec = (() => {
  const g = new GraphBuilder('lenet-small', [1, 12, 12]);
  let x = g.node('maxpool2', g.node('conv2d', INPUT, { channels: 4, kernel: 3 })); // 4x10x10 -> 4x5x5
  x = g.node('maxpool2', g.node('conv2d', x, { channels: 6, kernel: 2 })); // 6x4x4 -> 6x2x2
  x = g.node('relu', g.node('dense', g.node('flatten', x), { units: 16 }));
  g.node('dense', x, { units: 3 }, 'logits');
  return g.build();
})();

// The spec.ts LeNet-5 variant (ReLU after the convolutions, padded first conv) on 12x12 inputs.
const lenet5Small = lenetSpec(3, 'lenet5', [1, 12, 12]);

// ---------------------------------------------------------------------------------------------
// Helpers.

function randomExample(spec: ModelSpec, rng: Rng): Float64Array {
  return Float64Array.from({ length: shapeSize(spec.input) }, () => rng.normal());
}

/** The non-smooth choices of a forward pass: ReLU masks and pool selections. */
function activationPattern(spec: ModelSpec, theta: ArrayLike<number>, x: ArrayLike<number>): string {
  return patternOf(forward(spec, theta, x));
}

/**
 * Deterministically finds (θ, x) with every ReLU pre-activation and every non-tied pool gap at least
 * `margin` away from a kink; `makeX` may build structured inputs.
 */
function smoothPoint(spec: ModelSpec, seed: number, margin: number, makeX: (rng: Rng) => Float64Array) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const rng = new Rng(seed * 1000 + attempt);
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const x = makeX(rng);
    const y = rng.int(numClasses(spec));
    const m = kinkMargin(spec, theta, x);
    if (m.relu >= margin && m.pool >= margin) return { theta, x, y, margin: m };
  }
  throw new Error(`${spec.name}: no point away from kinks found`);
}

/** Coordinates to check: all of them when few, otherwise ~count random ones plus each tensor's first and last. */
function sampleCoords(spec: ModelSpec, count: number, rng: Rng): number[] {
  const n = thetaLength(spec);
  if (n <= count) return Array.from({ length: n }, (_, j) => j);
  const set = new Set<number>();
  for (const p of paramOffsets(spec)) {
    set.add(p.offset);
    set.add(p.offset + p.size - 1);
  }
  while (set.size < count) set.add(rng.int(n));
  return [...set].sort((a, b) => a - b);
}

// Central differences with h = 1e-6. Truncation error is h²/6·|f'''| ≈ 1e-13 (f''' is O(1) here).
// Rounding: the loss is an O(1) number computed to a few hundred ulps at most (sums of ≤ ~10⁴ terms),
// i.e. ≲ 1e-13 absolute, which divided by 2h gives ≲ 5e-8 in the worst case and ~1e-10 typically.
// So |fd − grad| ≤ 1e-7 + 1e-6·|grad|: the absolute floor covers rounding on near-zero components,
// the relative term everything else. A wrong index or a missing term is off by O(|grad|).
const FD_H = 1e-6;
const FD_TOL = { atol: 1e-7, rtol: 1e-6 };

function checkGradFd(spec: ModelSpec, theta: Float64Array, x: Float64Array, y: number, coords: number[]) {
  const grad = exampleGrad(spec, theta, x, y);
  const pattern = activationPattern(spec, theta, x);
  let worst = 0;
  let maxAbs = 0;
  for (const j of coords) {
    const tp = Float64Array.from(theta);
    const tm = Float64Array.from(theta);
    tp[j] += FD_H;
    tm[j] -= FD_H;
    // The perturbed points must lie in the same smooth piece as θ.
    expect(activationPattern(spec, tp, x), `pattern changed at +h on coordinate ${j}`).toBe(pattern);
    expect(activationPattern(spec, tm, x), `pattern changed at -h on coordinate ${j}`).toBe(pattern);
    const fd = (exampleLoss(spec, tp, x, y) - exampleLoss(spec, tm, x, y)) / (2 * FD_H);
    const err = Math.abs(fd - grad[j]);
    maxAbs = Math.max(maxAbs, err);
    worst = Math.max(worst, err / (FD_TOL.atol + FD_TOL.rtol * Math.abs(grad[j])));
    expect(err, `coordinate ${j}: backprop ${grad[j]}, finite difference ${fd}`).toBeLessThanOrEqual(FD_TOL.atol + FD_TOL.rtol * Math.abs(grad[j]));
  }
  // The gradient must not be trivially zero on the checked coordinates.
  expect(coords.some((j) => Math.abs(grad[j]) > 1e-3)).toBe(true);
  return { worst, maxAbs };
}

// ---------------------------------------------------------------------------------------------

describe('parameter layout', () => {
  it('offsets are dense, in resolveModel order, weight then bias', () => {
    for (const spec of [tinyMlp, tinyConv, lenetSmall, lenet5Small, lenetSpec(10)]) {
      const offs = paramOffsets(spec);
      const expected = resolveModel(spec).nodes.flatMap((n) => n.params);
      expect(offs.map((p) => p.name)).toEqual(expected.map((p) => p.fullName));
      expect(offs.map((p) => p.shape)).toEqual(expected.map((p) => p.shape));
      // Per node: weight, then bias.
      for (const n of resolveModel(spec).nodes) if (n.params.length) expect(n.params.map((p) => p.name)).toEqual(['weight', 'bias']);
      let off = 0;
      for (const p of offs) {
        expect(p.offset).toBe(off);
        expect(p.size).toBe(shapeSize(p.shape));
        off += p.size;
      }
      expect(off).toBe(paramCount(spec));
      expect(thetaLength(spec)).toBe(paramCount(spec));
    }
    // Caffe LeNet on MNIST: 520 + 25050 + 400500 + 5010.
    expect(thetaLength(lenetSpec(10))).toBe(431080);
    expect(paramOffsets(tinyMlp).map((p) => [p.name, p.offset, p.size])).toEqual([
      ['dense1.weight', 0, 35],
      ['dense1.bias', 35, 7],
      ['dense2.weight', 42, 21],
      ['dense2.bias', 63, 3],
      ['logits.weight', 66, 9],
      ['logits.bias', 75, 3],
    ]);
  });

  it('conv weight [K,C,R,S], dense weight [out,in] and C,H,W flattening index θ as documented', () => {
    const spec: ModelSpec = {
      name: 'layout',
      input: [2, 3, 4],
      nodes: [
        { id: 'conv', op: 'conv2d', inputs: [INPUT], attrs: { channels: 2, kernel: 2 } }, // 2x2x3
        { id: 'flat', op: 'flatten', inputs: ['conv'] },
        { id: 'logits', op: 'dense', inputs: ['flat'], attrs: { units: 3 } },
      ],
    };
    const [cw, cb, dw, db] = paramOffsets(spec);
    expect(cw.shape).toEqual([2, 2, 2, 2]);
    expect(dw.shape).toEqual([3, 12]);
    const x = Float64Array.from({ length: 24 }, (_, i) => i + 1); // x[c,h,w] = 12c + 4h + w + 1
    const theta = new Float64Array(thetaLength(spec));
    // Conv output channel 1 reads x[c=1, p+0, q+1]: W[k=1, c=1, r=0, s=1].
    theta[cw.offset + ((1 * 2 + 1) * 2 + 0) * 2 + 1] = 1;
    theta[cb.offset + 1] = 0.5;
    // Logit 2 = conv output [k=1, p=1, q=2] (flat index 1*6 + 1*3 + 2 = 11): W[o=2, i=11].
    theta[dw.offset + 2 * 12 + 11] = 1;
    theta[db.offset + 0] = -3;
    const fwd = forward(spec, theta, x);
    const conv = fwd.acts.get('conv')!;
    expect(Array.from(fwd.acts.get('flat')!)).toEqual(Array.from(conv));
    for (let p = 0; p < 2; p++) for (let q = 0; q < 3; q++) expect(conv[6 + p * 3 + q]).toBe(x[12 + 4 * p + q + 1] + 0.5);
    for (let i = 0; i < 6; i++) expect(conv[i]).toBe(0);
    expect(Array.from(fwd.logits)).toEqual([-3, 0, x[12 + 4 * 1 + 2 + 1] + 0.5]);
  });

  it('layer output shapes follow resolveModel (stride, pad, floor pooling)', () => {
    const rng = new Rng(3);
    for (const spec of [tinyConv, lenetSmall, lenet5Small]) {
      const theta = initParams(spec, rng);
      const fwd = forward(spec, theta, randomExample(spec, rng));
      resolveModel(spec).nodes.forEach((n) => expect(fwd.acts.get(n.id)!.length).toBe(shapeSize(n.outShape)));
    }
    expect(resolveModel(tinyConv).nodes.map((n) => [n.op.name, n.outShape])).toEqual([
      ['conv2d', [4, 9, 8]],
      ['relu', [4, 9, 8]],
      ['maxpool2', [4, 4, 4]],
      ['conv2d', [3, 1, 1]],
      ['flatten', [3]],
      ['dense', [5]],
      ['relu', [5]],
      ['dense', [3]],
    ]);
  });
});

describe('max pooling', () => {
  it('selects the first maximum in row-major window order and floors odd sizes', () => {
    // One channel 3x5 -> 1x2; row 2 and column 4 are dropped.
    const x = [
      [1, 7, 2, 2, 9],
      [7, 7, 2, 2, 9],
      [99, 99, 99, 99, 99],
    ].flat();
    const { y, argmax } = maxpool2Forward([1, 3, 5], x);
    expect(Array.from(y)).toEqual([7, 2]);
    expect(Array.from(argmax)).toEqual([1, 2]); // (0,1) before (1,0),(1,1); (0,2) among four equal 2s
    const dx = maxpool2Backward([1, 3, 5], argmax, [10, 20]);
    expect(Array.from(dx)).toEqual([0, 10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('ties on a model input route the whole signal to one element', () => {
    const spec: ModelSpec = {
      name: 'pool-first',
      input: [1, 4, 4],
      nodes: [
        { id: 'pool', op: 'maxpool2', inputs: [INPUT] },
        { id: 'flat', op: 'flatten', inputs: ['pool'] },
        { id: 'logits', op: 'dense', inputs: ['flat'], attrs: { units: 3 } },
      ],
    };
    const rng = new Rng(11);
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const x = new Float64Array(16).fill(0.25); // every window fully tied
    const fwd = forward(spec, theta, x);
    expect(Array.from((fwd.saved.get('pool') as Maxpool2Saved).argmax)).toEqual([0, 2, 8, 10]);
    // Finite differences in θ agree (the pooled values do not depend on θ).
    checkGradFd(spec, theta, x, 1, sampleCoords(spec, 200, rng));
  });
});

describe('exampleGrad matches central finite differences of exampleLoss', () => {
  it('tiny MLP 5-7-3-3 (all coordinates)', () => {
    const p = smoothPoint(tinyMlp, 1, 1e-4, (rng) => randomExample(tinyMlp, rng));
    const coords = sampleCoords(tinyMlp, 200, new Rng(1));
    expect(coords.length).toBe(78);
    checkGradFd(tinyMlp, p.theta, p.x, p.y, coords);
  });

  it('tiny conv net (random input)', () => {
    const p = smoothPoint(tinyConv, 2, 1e-4, (rng) => randomExample(tinyConv, rng));
    checkGradFd(tinyConv, p.theta, p.x, p.y, sampleCoords(tinyConv, 200, new Rng(2)));
  });

  it('tiny conv net (repeated input values: tied pooling windows)', () => {
    // Each channel constant: the interior 3x3 patches are identical, so interior conv outputs are
    // exactly equal for every θ and whole pooling windows stay tied under any perturbation.
    const p = smoothPoint(tinyConv, 3, 1e-4, (rng) => {
      const [c, h, w] = tinyConv.input;
      const x = new Float64Array(c * h * w);
      for (let ch = 0; ch < c; ch++) x.fill(rng.normal(), ch * h * w, (ch + 1) * h * w);
      return x;
    });
    const poolNode = resolveModel(tinyConv).nodes.find((n) => n.op.name === 'maxpool2')!;
    const fwd = forward(tinyConv, p.theta, p.x);
    const conv = fwd.acts.get(poolNode.inputs[0])!; // the first conv's output after its ReLU
    const pooled = fwd.acts.get(poolNode.id)!;
    // Count pooling windows (conv output 4x9x8, pooled 4x4x4) whose maximum occurs more than once.
    let tiedWindows = 0;
    for (let o = 0; o < pooled.length; o++) {
      const c = Math.floor(o / 16);
      const p0 = 2 * Math.floor((o % 16) / 4);
      const q0 = 2 * (o % 4);
      const win = [0, 1, 8, 9].map((d) => conv[c * 72 + p0 * 8 + q0 + d]);
      if (win.filter((v) => v === pooled[o]).length > 1) tiedWindows++;
    }
    expect(tiedWindows).toBeGreaterThan(8);
    checkGradFd(tinyConv, p.theta, p.x, p.y, sampleCoords(tinyConv, 200, new Rng(3)));
  });

  it('LeNet-shaped net on 12x12 (conv, pool, conv, pool, dense ReLU, dense)', () => {
    const p = smoothPoint(lenetSmall, 4, 1e-4, (rng) => randomExample(lenetSmall, rng));
    checkGradFd(lenetSmall, p.theta, p.x, p.y, sampleCoords(lenetSmall, 200, new Rng(4)));
  });

  it('LeNet-5 variant on 12x12 (padded conv with ReLU, 3 dense layers)', () => {
    const p = smoothPoint(lenet5Small, 5, 1e-4, (rng) => randomExample(lenet5Small, rng));
    checkGradFd(lenet5Small, p.theta, p.x, p.y, sampleCoords(lenet5Small, 200, new Rng(5)));
  });
});

describe('losses and batches', () => {
  it('cross-entropy is stable for large logits', () => {
    expect(crossEntropy([1000, 0, -1000], 0)).toBeCloseTo(0, 12);
    expect(crossEntropy([1000, 0, -1000], 1)).toBeCloseTo(1000, 9);
    expect(crossEntropy([0, 0, 0, 0], 2)).toBeCloseTo(Math.log(4), 14);
    expect(() => crossEntropy([0, 0], 2)).toThrow();
  });

  it('batchExample slices float32 and float64 batches exactly', () => {
    const rng = new Rng(7);
    const d = shapeSize(tinyConv.input);
    const X32 = rng.normals(4 * d);
    const X64 = Float64Array.from(X32);
    for (let i = 0; i < 4; i++) {
      const e32 = batchExample(X32, i, tinyConv);
      expect(e32).toBeInstanceOf(Float64Array);
      expect(Array.from(e32)).toEqual(Array.from(X32.subarray(i * d, (i + 1) * d)));
      expect(Array.from(batchExample(X64, i, tinyConv))).toEqual(Array.from(e32));
    }
    expect(() => batchExample(X32, 4, tinyConv)).toThrow();
    expect(() => batchExample(X32.subarray(1), 0, tinyConv)).toThrow();
  });

  it('batchLoss / batchGrad are weighted sums of the per-example values (mean by default)', () => {
    const rng = new Rng(8);
    const spec = tinyConv;
    const n = 5;
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const X = rng.normals(n * shapeSize(spec.input));
    const Y = Int32Array.from({ length: n }, () => rng.int(3));
    const w = Float64Array.from({ length: n }, () => rng.uniform(0, 1));
    let loss = 0;
    let lossW = 0;
    const grad = new Float64Array(theta.length);
    const gradW = new Float64Array(theta.length);
    for (let i = 0; i < n; i++) {
      const x = batchExample(X, i, spec);
      const f = exampleLoss(spec, theta, x, Y[i]);
      const g = exampleGrad(spec, theta, x, Y[i]);
      loss += f / n;
      lossW += w[i] * f;
      g.forEach((v, j) => {
        grad[j] += v / n;
        gradW[j] += w[i] * v;
      });
    }
    expect(batchLoss(spec, theta, X, Y)).toBeCloseTo(loss, 13);
    expect(batchLoss(spec, theta, X, Y, w)).toBeCloseTo(lossW, 13);
    const bg = batchGrad(spec, theta, X, Y);
    const bgw = batchGrad(spec, theta, X, Y, w);
    grad.forEach((v, j) => expect(Math.abs(bg[j] - v)).toBeLessThan(1e-14 + 1e-12 * Math.abs(v)));
    gradW.forEach((v, j) => expect(Math.abs(bgw[j] - v)).toBeLessThan(1e-14 + 1e-12 * Math.abs(v)));
  });

  it('predict is the argmax of the logits', () => {
    const rng = new Rng(9);
    const spec = lenetSmall;
    const n = 6;
    const theta = initParams(spec, rng, { biasStd: 0.1 });
    const X = rng.normals(n * shapeSize(spec.input));
    const logits = batchLogits(spec, theta, X);
    const pred = predict(spec, theta, X);
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      expect(pred[i]).toBe(row.indexOf(Math.max(...row)));
    }
  });
});
