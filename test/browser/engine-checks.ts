// End-to-end checks of the engine inside Chromium (demo/kernel-checks.html), against the float64
// references of the Node suites in test/train/: one whole L2RW step. Run by kernel-checks.ts as the
// engine groups of check-groups.ts; each returns labelled results and the vitest harness
// (kernels.test.ts) fails on any result that is not ok.
import type { Gpu } from '../../src/gpu/gpu';
import { mlpSpec } from '../../src/train/models';
import { numClasses, shapeSize } from '../../src/train/spec';
import { Trainer } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { compareClose, type Tolerance } from '../helpers/compare';
import { alignments, initParams, l2rwStep } from '../reference/l2rw';
import type { CheckResult, EngineGroup } from './check-groups';
import { tinyConv as TINY_CONV } from '../helpers/specs';

/** Collects labelled results; a check never throws on a mismatch, so every case gets reported. */
export class Report {
  readonly results: CheckResult[] = [];
  close(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): void {
    const r = compareClose(got, want, tol);
    this.results.push({ label, ok: r.ok, message: r.message });
  }
  equal(label: string, got: unknown, want: unknown): void {
    const ok = Object.is(got, want) || JSON.stringify(got) === JSON.stringify(want);
    this.results.push({ label, ok, message: ok ? 'ok' : `got ${String(got)}, expected ${String(want)}` });
  }
  that(label: string, ok: boolean, detail = ''): void {
    this.results.push({ label, ok, message: ok ? 'ok' : detail || 'failed' });
  }
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

// ---- one whole L2RW step (test/train/l2rw_step.test.ts) ------------------------------------------


async function l2rwStepCheck(gpu: Gpu, rep: Report): Promise<void> {
  const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };
  for (const [spec, n, m] of [
    [mlpSpec(5, [7, 3], 3), 9, 4],
    [TINY_CONV, 7, 3],
  ] as const) {
    const rng = new Rng(23);
    const d = shapeSize(spec.input);
    const K = numClasses(spec);
    const theta = Float32Array.from(initParams(spec, rng, { biasStd: 0.1 }));
    const Xf = rng.normals(n * d);
    const yf = Uint32Array.from({ length: n }, () => rng.int(K));
    const Xg = rng.normals(m * d);
    const yg = Uint32Array.from({ length: m }, () => rng.int(K));
    const t = await Trainer.create(
      gpu,
      spec,
      { train: { x: Xf, y: yf, n, dim: d }, clean: { x: Xg, y: yg, n: m, dim: d } },
      { method: 'l2rw', steps: 100, batch: n, valBatch: m, seed: 5, logEvery: 1000, ...SGD },
      { params: theta },
    );
    try {
      await t.trainStep();
      const b = await t.inspectLastBatch();
      // The training rows in the order the GPU's minibatch took them.
      const X = new Float32Array(n * d);
      b.indices.forEach((j, i) => X.set(Xf.subarray(j * d, (j + 1) * d), i * d));
      const y = Uint32Array.from(b.indices, (j) => yf[j]);
      const name = spec.name;
      const sRef = alignments(spec, theta, X, y, Xg, yg);
      rep.close(`${name} alignments s_i`, b.alignments!, sRef, { atol: 1e-4 * maxAbs(sRef), rtol: 1e-3 });
      const ref = l2rwStep(spec, theta, new Float64Array(theta.length), X, y, Xg, yg, SGD);
      const margin = 1e-3 * maxAbs(ref.s);
      rep.that(`${name}: no alignment too close to 0 to compare weights`, Array.from(ref.s).every((s) => Math.abs(s) > margin));
      rep.close(`${name} weights w`, b.weights, ref.w, { atol: 1e-5, rtol: 1e-3 });
      const theta1 = await t.model.readParams();
      const dGpu = theta1.map((v, i) => v - theta[i]);
      const dRef = ref.theta.map((v, i) => v - theta[i]);
      rep.close(`${name} Δθ`, dGpu, dRef, { atol: 1e-4 * maxAbs(dRef), rtol: 1e-3 });
      const v1 = await t.model.readVelocity();
      rep.close(`${name} velocity`, v1, ref.velocity, { atol: 1e-4 * maxAbs(ref.velocity), rtol: 1e-3 });
    } finally {
      t.destroy();
    }
  }
}

export const ENGINE_CHECKS: Record<EngineGroup, (gpu: Gpu, rep: Report) => Promise<void>> = {
  l2rw_step: l2rwStepCheck,
};
