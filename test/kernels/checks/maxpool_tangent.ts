// The forward-mode tangent of 2x2 max pooling, d/dt maxpool(x + t·dx) at t = 0, against central
// finite differences of the float64 pooling reference (inputs without ties, so the selection does not
// change within ±h), and exactly against the gather through the kernel's own recorded argmax.
import { runDispatches } from '../../../src/kernels/kernel';
import { MaxPoolForward } from '../../../src/kernels/maxpool_forward';
import { MaxPoolTangent } from '../../../src/kernels/maxpool_tangent';
import { Rng } from '../../../src/util/rng';
import { maxpoolForwardRef } from '../../reference/maxpool';
import { assertClose, assertSame, gpuCheck, type CheckGroup } from './check';

const GUARD = 42;

export const maxpoolTangentChecks: CheckGroup = {
  group: 'maxpool_tangent',
  checks: [
    [1, 1, 2, 2],
    [2, 3, 5, 7],
    [3, 20, 24, 24],
    [1, 2, 9, 4],
  ].map(([N, C, H, W]) =>
    gpuCheck(`N=${N} C=${C} ${H}x${W}`, async (gpu, s) => {
      const rng = new Rng(N * 1000 + C * 100 + H * 10 + W);
      const size = N * C * H * W;
      // Distinct values (a permutation scaled), so no window has a tie.
      const order = Array.from({ length: size }, (_, i) => i);
      for (let i = size - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const x = Float32Array.from(order, (v) => (v - size / 2) / size);
      const dx = rng.normals(size);
      const P = Math.floor(H / 2);
      const Q = Math.floor(W / 2);
      const outN = N * C * P * Q;
      const h = 1e-7;
      const up = maxpoolForwardRef(Float64Array.from(x, (v, i) => v + h * dx[i]), N, C, H, W).y;
      const down = maxpoolForwardRef(Float64Array.from(x, (v, i) => v - h * dx[i]), N, C, H, W).y;
      const fd = up.map((v, i) => (v - down[i]) / (2 * h));
      const bx = s.upload('x', x);
      const y = s.buffer('y', outN * 4);
      const argmax = s.buffer('argmax', outN * 4);
      const dy = s.upload('dy', new Float32Array(outN + 1).fill(GUARD));
      const [forward, tangent] = await Promise.all([MaxPoolForward.create(gpu), MaxPoolTangent.create(gpu)]);
      const shape = { N, C, H, W };
      runDispatches(gpu, [forward.plan(bx, y, argmax, shape), tangent.plan(s.upload('dx', dx), argmax, dy, shape)]);
      const got = await gpu.readF32(dy, outN + 1);
      assertSame(got[outN], GUARD, 'guard');
      // The tangent copies one fp32 input: the finite difference of the float64 reference (rounding
      // ~1e-16/h ~ 1e-9) agrees to 1e-7 relative.
      assertClose(got.subarray(0, outN), fd, { atol: 1e-7, rtol: 1e-6 }, 'dy vs finite differences');
    }),
  ),
};
