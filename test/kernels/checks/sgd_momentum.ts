// SGD with momentum and weight decay (the PyTorch convention) against the float64 reference and
// hand-computed torch.optim.SGD steps.
import { runDispatches } from '../../../src/kernels/kernel';
import { SgdMomentum, type SgdHyperparams } from '../../../src/kernels/sgd_momentum';
import { Rng } from '../../../src/util/rng';
import { sgdMomentumRef } from '../../reference/sgd';
import { assertClose, assertSame, gpuCheck, type CheckGroup } from './check';

// Each step is ~4 fp32 roundings of O(1) values per element (|p|, |v| stay below ~10 here), and the
// float64 reference carries no rounding, so after three steps the difference is a few ulp of ~10:
// atol 4e-6 (≈ 6 ulp at 10) with rtol 1e-6 for the larger entries.
const TOL = { atol: 4e-6, rtol: 1e-6 };
const GUARD = 42;

function withGuard(data: Float32Array): Float32Array {
  const a = new Float32Array(data.length + 1);
  a.set(data);
  a[data.length] = GUARD;
  return a;
}

export const sgdMomentumChecks: CheckGroup = {
  group: 'sgd_momentum',
  checks: [
    ...[1, 7, 33, 257, 1000, 100_003].map((n) =>
      gpuCheck(`n=${n}: three steps with weight decay, lr changed before the third via setUniforms`, async (gpu, s) => {
        const rng = new Rng(n + 17);
        const p0 = rng.normals(n);
        const bp = s.upload('p', withGuard(p0));
        const bv = s.upload('v', withGuard(new Float32Array(n)));
        const bg = s.buffer('g', 4 * n);
        const hp: SgdHyperparams = { lr: 0.1, momentum: 0.9, weightDecay: 5e-3 };
        const sgd = await SgdMomentum.create(gpu);
        const step = sgd.plan(bp, bv, bg, n, hp);
        const p = Float64Array.from(p0);
        const v = new Float64Array(n);
        const lrs = [0.1, 0.1, 0.03];
        for (let t = 0; t < 3; t++) {
          const g = rng.normals(n);
          gpu.write(bg, g);
          if (lrs[t] !== hp.lr) step.setUniforms(SgdMomentum.uniforms(n, { ...hp, lr: lrs[t] }));
          runDispatches(gpu, [step]);
          sgdMomentumRef(p, v, g, { ...hp, lr: lrs[t] });
          const gotP = await gpu.readF32(bp, n + 1);
          const gotV = await gpu.readF32(bv, n + 1);
          assertClose(gotP.subarray(0, n), p, TOL, `p after step ${t + 1}`);
          assertClose(gotV.subarray(0, n), v, TOL, `v after step ${t + 1}`);
          assertSame(gotP[n], GUARD, `p guard after step ${t + 1}`);
          assertSame(gotV[n], GUARD, `v guard after step ${t + 1}`);
        }
      }),
    ),

    gpuCheck('follows the PyTorch convention (hand-computed torch.optim.SGD steps)', async (gpu, s) => {
      // torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), p = 1, grad 0.5 twice:
      //   step 1: d = 0.5 + 0.1*1 = 0.6;      buf = 0.6;                 p = 1 - 0.06 = 0.94
      //   step 2: d = 0.5 + 0.1*0.94 = 0.594; buf = 0.9*0.6 + 0.594 = 1.134; p = 0.94 - 0.1134 = 0.8266
      const bp = s.upload('p', new Float32Array([1]));
      const bv = s.upload('v', new Float32Array([0]));
      const bg = s.upload('g', new Float32Array([0.5]));
      const step = (await SgdMomentum.create(gpu)).plan(bp, bv, bg, 1, { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
      runDispatches(gpu, [step]);
      assertClose(await gpu.readF32(bp, 1), [0.94], { atol: 1e-7, rtol: 1e-6 }, 'p after one step');
      runDispatches(gpu, [step]);
      assertClose(await gpu.readF32(bv, 1), [1.134], { atol: 1e-7, rtol: 1e-6 }, 'v after two steps');
      assertClose(await gpu.readF32(bp, 1), [0.8266], { atol: 1e-7, rtol: 1e-6 }, 'p after two steps');
    }),

    gpuCheck('momentum 0 and weight decay 0 is plain SGD', async (gpu, s) => {
      const n = 100;
      const rng = new Rng(8);
      const p0 = rng.normals(n);
      const g = rng.normals(n);
      const bp = s.upload('p', p0);
      const bv = s.upload('v', rng.normals(n)); // stale momentum must be ignored when momentum = 0
      runDispatches(gpu, [(await SgdMomentum.create(gpu)).plan(bp, bv, s.upload('g', g), n, { lr: 0.5, momentum: 0, weightDecay: 0 })]);
      assertClose(await gpu.readF32(bp, n), Array.from(p0, (x, i) => x - 0.5 * g[i]), { atol: 1e-6, rtol: 1e-6 }, 'plain sgd');
    }),
  ],
};
