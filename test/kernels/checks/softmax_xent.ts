// Softmax cross-entropy (per-example weighted loss and dlogits) against the float64 reference, and
// that reference against central finite differences.
import type { Gpu } from '../../../src/gpu/gpu';
import { runDispatches } from '../../../src/kernels/kernel';
import { SoftmaxXent, type LossSpec } from '../../../src/kernels/softmax_xent';
import { Rng } from '../../../src/util/rng';
import type { Tolerance } from '../../helpers/compare';
import { bootstrapRef, rowXentRef, softmaxXentRef } from '../../reference/softmax_xent';
import { assert, assertClose, assertSame, cpuCheck, gpuCheck, type CheckGroup, type KernelCheck, type Scratch } from './check';

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
async function runXent(gpu: Gpu, s: Scratch, c: Case, lossSpec: LossSpec = { kind: 'xent' }): Promise<{ loss: Float32Array; dlogits: Float32Array }> {
  const { n, k } = c;
  const bl = s.upload('logits', c.logits);
  const by = s.upload('labels', c.labels);
  const bw = s.upload('ex_weight', c.weights);
  const bloss = s.upload('loss', new Float32Array(n + 1).fill(GUARD));
  const bd = s.upload('dlogits', new Float32Array(n * k + 1).fill(GUARD));
  const xent = await SoftmaxXent.create(gpu, lossSpec);
  runDispatches(gpu, [xent.plan(bl, by, bw, bloss, bd, n, k)]);
  const loss = await gpu.readF32(bloss, n + 1);
  const dlogits = await gpu.readF32(bd, n * k + 1);
  s.release(); // this run's buffers (the check's scratch holds nothing else)
  assertSame(loss[n], GUARD, 'loss guard');
  assertSame(dlogits[n * k], GUARD, 'dlogits guard');
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

async function check(gpu: Gpu, s: Scratch, c: Case, tol: Tolerance = TOL): Promise<void> {
  const got = await runXent(gpu, s, c);
  const ref = softmaxXentRef(c.logits, c.labels, c.weights, c.n, c.k);
  assertClose(got.loss, ref.loss, tol, `loss n=${c.n} k=${c.k}`);
  assertClose(got.dlogits, ref.dlogits, tol, `dlogits n=${c.n} k=${c.k}`);
  for (let i = 0; i < c.n; i++) {
    if (c.weights[i] === 0) assert(got.dlogits.subarray(i * c.k, (i + 1) * c.k).every((d) => d === 0), `dlogits row ${i} (weight 0)`, 'not all zero');
  }
}

const randomChecks: KernelCheck[] = [];
for (const k of [1, 2, 10, 1000]) {
  for (const n of [1, 7, 33, 257]) {
    randomChecks.push(gpuCheck(`n=${n} k=${k}`, (gpu, s) => check(gpu, s, randomCase(n, k, 3, 1000 * k + n))));
  }
}

export const softmaxXentChecks: CheckGroup = {
  group: 'softmax_xent',
  checks: [
    ...randomChecks,

    gpuCheck('large-magnitude logits (uniform in ±80) stay finite and accurate', async (gpu, s) => {
      const n = 100;
      for (const k of [2, 10, 1000]) {
        const c = randomCase(n, k, 1, 7 + k);
        const rng = new Rng(99 + k);
        for (let i = 0; i < c.logits.length; i++) c.logits[i] = rng.uniform(-80, 80);
        // Rows whose label sits at the extremes: loss ≈ 160 (label at -80, another class at +80).
        c.logits[0] = -80;
        c.logits[1] = 80;
        c.labels[0] = 0;
        await check(gpu, s, c);
      }
    }),

    gpuCheck('confident rows keep their tiny loss and gradient (relative accuracy)', async (gpu, s) => {
      // Label logit ahead by 30: loss ≈ (k-1) e^-30 ≈ 1e-13, far below one ulp of the label's 1 - p.
      const n = 33;
      const k = 10;
      const c = randomCase(n, k, 0.1, 5);
      for (let i = 0; i < n; i++) {
        c.labels[i] = i % k;
        c.logits[i * k + (i % k)] += 30;
        c.weights[i] = 1;
      }
      const got = await runXent(gpu, s, c);
      const ref = softmaxXentRef(c.logits, c.labels, c.weights, n, k);
      // exp(-30 ± 0.3) costs the most: WGSL allows 3 + 2|x| ulp ≈ 4e-6 relative; 1e-4 is safe, atol 0.
      const rel = { atol: 0, rtol: 1e-4 };
      assertClose(got.loss, ref.loss, rel, 'confident loss');
      const labelGrads = (d: ArrayLike<number>) => Float64Array.from({ length: n }, (_, i) => d[i * k + (i % k)]);
      assertClose(labelGrads(got.dlogits), labelGrads(ref.dlogits), rel, 'confident label gradient');
      assert(got.loss.every((l) => l > 0), 'confident loss', 'not every loss is > 0');
    }),

    gpuCheck('a label >= k gives NaN loss and NaN gradients for that row only, and nothing out of bounds', async (gpu, s) => {
      const n = 7;
      const k = 10;
      const c = randomCase(n, k, 3, 11);
      c.labels[2] = k;
      c.labels[5] = 0xffffffff;
      c.weights[5] = 0;
      const got = await runXent(gpu, s, c);
      const ref = softmaxXentRef(c.logits, c.labels, c.weights, n, k);
      for (let i = 0; i < n; i++) {
        const bad = i === 2 || i === 5;
        const lossI = got.loss[i];
        const row = got.dlogits.subarray(i * k, (i + 1) * k);
        if (bad) {
          assert(Number.isNaN(lossI), `loss[${i}]`, `got ${lossI}, expected NaN`);
          assert(row.every(Number.isNaN), `dlogits row ${i}`, 'not all NaN');
        } else {
          assertClose([lossI], [ref.loss[i]], TOL, `loss[${i}]`);
          assertClose(row, ref.dlogits.subarray(i * k, (i + 1) * k), TOL, `dlogits row ${i}`);
        }
      }
    }),

    cpuCheck('the float64 reference gradient matches central finite differences of the reference loss', () => {
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
        assertClose(fd, idx.map((e) => ref.dlogits[e]), fdTol, `finite differences n=${n} k=${k}`);
      }
    }),
    // Bootstrapping (Reed et al.): the kernel against the float64 definition, and that against central
    // finite differences of Σ_i w_i loss_i (h = 1e-6 in float64: truncation ~h² ≈ 1e-12, rounding
    // ~1e-16/h ≈ 1e-10, so 1e-7 absolute and relative is ample; logits away from argmax ties, which
    // the hard variant's target jumps across).
    ...(['soft', 'hard'] as const).flatMap((kind) => [
      ...[[1, 2], [7, 10], [33, 3]].map(([n, k]) =>
        gpuCheck(`bootstrap-${kind} n=${n} k=${k}: kernel vs float64`, async (gpu, s) => {
          const beta = kind === 'soft' ? 0.95 : 0.8;
          const c = randomCase(n, k, 3, 900 + n * k);
          const got = await runXent(gpu, s, c, { kind: `bootstrap-${kind}`, beta });
          const ref = bootstrapRef(c.logits, c.labels, c.weights, n, k, kind, beta);
          assertClose(got.loss, ref.loss, TOL, `bootstrap-${kind} loss`);
          assertClose(got.dlogits, ref.dlogits, TOL, `bootstrap-${kind} dlogits`);
        }),
      ),
      cpuCheck(`bootstrap-${kind}: float64 gradient against central finite differences`, () => {
        const n = 5;
        const k = 4;
        const beta = 0.7;
        const c = randomCase(n, k, 2, 77);
        const z = Float64Array.from(c.logits);
        const total = (zz: Float64Array) => bootstrapRef(zz, c.labels, c.weights, n, k, kind, beta).loss.reduce((a, l, i) => a + c.weights[i] * l, 0);
        const ref = bootstrapRef(z, c.labels, c.weights, n, k, kind, beta);
        const h = 1e-6;
        const fd = Array.from(z, (_, e) => {
          const zp = z.slice();
          const zm = z.slice();
          zp[e] += h;
          zm[e] -= h;
          return (total(zp) - total(zm)) / (2 * h);
        });
        assertClose(fd, ref.dlogits, { atol: 1e-7, rtol: 1e-7 }, `bootstrap-${kind} finite differences`);
      }),
    ]),
  ],
};
