import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu';
import { runDispatches } from '../../src/kernels/kernel';
import { SoftmaxXent } from '../../src/kernels/softmax_xent';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';
import { expectClose } from '../helpers/compare';
import { rowXentRef, softmaxXentRef } from '../reference/softmax_xent';

// Each output is a few fp32 operations on O(1)-to-O(100) values plus exp and log (a few ulp each on
// lavapipe): relative error ~1e-6, so rtol 1e-5 leaves headroom and still flags any formula slip;
// atol 1e-6 covers entries that are differences of O(1) terms near zero (p - 1 for p near 1).
const TOL = { atol: 1e-6, rtol: 1e-5 };
const GUARD = 42;

interface Case {
  n: number;
  k: number;
  logits: Float32Array;
  labels: Uint32Array;
  weights: Float32Array;
}

/** Runs the kernel; loss and dlogits carry one guard element each, which must survive. */
async function runXent(gpu: Gpu, c: Case): Promise<{ loss: Float32Array; dlogits: Float32Array }> {
  const { n, k } = c;
  const bl = gpu.upload('logits', c.logits);
  const by = gpu.upload('labels', c.labels);
  const bw = gpu.upload('ex_weight', c.weights);
  const bloss = gpu.upload('loss', new Float32Array(n + 1).fill(GUARD));
  const bd = gpu.upload('dlogits', new Float32Array(n * k + 1).fill(GUARD));
  const xent = await SoftmaxXent.create(gpu);
  runDispatches(gpu, [xent.plan(bl, by, bw, bloss, bd, n, k)]);
  const loss = await gpu.readF32(bloss, n + 1);
  const dlogits = await gpu.readF32(bd, n * k + 1);
  for (const b of [bl, by, bw, bloss, bd]) gpu.destroy(b);
  expect(loss[n], 'loss guard').toBe(GUARD);
  expect(dlogits[n * k], 'dlogits guard').toBe(GUARD);
  return { loss: loss.subarray(0, n), dlogits: dlogits.subarray(0, n * k) };
}

/** Random case: logits ~ N(0, scale²), labels uniform, weights in [0, 2) with every third one zero. */
function randomCase(n: number, k: number, scale: number, seed: number): Case {
  const rng = new Rng(seed);
  const logits = rng.normals(n * k, scale);
  const labels = new Uint32Array(n).map(() => rng.int(k));
  const weights = new Float32Array(n).map((_, i) => (i % 3 === 1 ? 0 : 2 * rng.next()));
  return { n, k, logits, labels, weights };
}

async function check(c: Case, tol = TOL): Promise<void> {
  const gpu = await testGpu();
  const got = await runXent(gpu, c);
  const ref = softmaxXentRef(c.logits, c.labels, c.weights, c.n, c.k);
  expectClose(got.loss, ref.loss, tol, `loss n=${c.n} k=${c.k}`);
  expectClose(got.dlogits, ref.dlogits, tol, `dlogits n=${c.n} k=${c.k}`);
  for (let i = 0; i < c.n; i++) {
    if (c.weights[i] === 0) expect(got.dlogits.subarray(i * c.k, (i + 1) * c.k).every((d) => d === 0)).toBe(true);
  }
}

describe('softmax_xent', () => {
  for (const k of [1, 2, 10, 1000]) {
    for (const n of [1, 7, 33, 257]) {
      it(`n=${n} k=${k}`, () => check(randomCase(n, k, 3, 1000 * k + n)));
    }
  }

  it('large-magnitude logits (uniform in ±80) stay finite and accurate', async () => {
    const n = 100;
    for (const k of [2, 10, 1000]) {
      const c = randomCase(n, k, 1, 7 + k);
      const rng = new Rng(99 + k);
      for (let i = 0; i < c.logits.length; i++) c.logits[i] = rng.uniform(-80, 80);
      // Rows whose label sits at the extremes: loss ≈ 160 (label at -80, another class at +80).
      c.logits[0] = -80;
      c.logits[1] = 80;
      c.labels[0] = 0;
      await check(c);
    }
  });

  it('confident rows keep their tiny loss and gradient (relative accuracy)', async () => {
    // Label logit ahead by 30: loss ≈ (k-1) e^-30 ≈ 1e-13, far below one ulp of the label's 1 - p.
    const n = 33;
    const k = 10;
    const c = randomCase(n, k, 0.1, 5);
    for (let i = 0; i < n; i++) {
      c.labels[i] = i % k;
      c.logits[i * k + (i % k)] += 30;
      c.weights[i] = 1;
    }
    const gpu = await testGpu();
    const got = await runXent(gpu, c);
    const ref = softmaxXentRef(c.logits, c.labels, c.weights, n, k);
    // exp(-30 ± 0.3) costs the most: WGSL allows 3 + 2|x| ulp ≈ 4e-6 relative; 1e-4 is safe, atol 0.
    const rel = { atol: 0, rtol: 1e-4 };
    expectClose(got.loss, ref.loss, rel, 'confident loss');
    const labelGrads = (d: ArrayLike<number>) => Float64Array.from({ length: n }, (_, i) => d[i * k + (i % k)]);
    expectClose(labelGrads(got.dlogits), labelGrads(ref.dlogits), rel, 'confident label gradient');
    expect(got.loss.every((l) => l > 0)).toBe(true);
  });

  it('a label >= k gives NaN loss and NaN gradients for that row only, and nothing out of bounds', async () => {
    const n = 7;
    const k = 10;
    const c = randomCase(n, k, 3, 11);
    c.labels[2] = k;
    c.labels[5] = 0xffffffff;
    c.weights[5] = 0;
    const gpu = await testGpu();
    const got = await runXent(gpu, c);
    const ref = softmaxXentRef(c.logits, c.labels, c.weights, n, k);
    for (let i = 0; i < n; i++) {
      const bad = i === 2 || i === 5;
      const lossI = got.loss[i];
      const row = got.dlogits.subarray(i * k, (i + 1) * k);
      if (bad) {
        expect(Number.isNaN(lossI), `loss[${i}]`).toBe(true);
        expect(row.every(Number.isNaN), `dlogits row ${i}`).toBe(true);
      } else {
        expectClose([lossI], [ref.loss[i]], TOL, `loss[${i}]`);
        expectClose(row, ref.dlogits.subarray(i * k, (i + 1) * k), TOL, `dlogits row ${i}`);
      }
    }
  });

  it('the float64 reference gradient matches central finite differences of the reference loss', () => {
    // Central differences in float64 with h = 1e-6: truncation O(h²) ~ 1e-12 and rounding
    // ~ 1e-16 * loss / h ~ 1e-9 at worst, so agreement to 1e-6 relative (+1e-8 absolute) is a real check.
    const fdTol = { atol: 1e-8, rtol: 1e-6 };
    const h = 1e-6;
    for (const [n, k] of [[7, 1], [7, 2], [5, 10], [2, 1000]] as const) {
      const c = randomCase(n, k, 3, 31 * k + n);
      const z = Float64Array.from(c.logits);
      const ref = softmaxXentRef(z, c.labels, c.weights, n, k);
      const rng = new Rng(k);
      const idx = n * k <= 200 ? [...Array(n * k).keys()] : Array.from({ length: 200 }, () => rng.int(n * k));
      const fd = idx.map((e) => {
        const i = Math.floor(e / k);
        const zp = Float64Array.from(z);
        const zm = Float64Array.from(z);
        zp[e] += h;
        zm[e] -= h;
        return (c.weights[i] * (rowXentRef(zp, i * k, k, c.labels[i]) - rowXentRef(zm, i * k, k, c.labels[i]))) / (2 * h);
      });
      expectClose(fd, idx.map((e) => ref.dlogits[e]), fdTol, `finite differences n=${n} k=${k}`);
    }
  });
});
