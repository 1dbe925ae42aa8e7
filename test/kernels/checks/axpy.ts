// axpy: y += alpha * x over n floats, against the float64 reference.
import { Axpy } from '../../../src/kernels/axpy';
import { runDispatches } from '../../../src/kernels/kernel';
import { Rng } from '../../../src/util/rng';
import { axpyRef } from '../../reference/axpy';
import { assertClose, assertSame, gpuCheck, type CheckGroup } from './check';

// One fused multiply-add per element: fp32 rounding of the product and sum, relative 1e-6 suffices;
// atol covers cancellation when y ≈ -alpha x.
const TOL = { atol: 1e-6, rtol: 1e-6 };
const GUARD = 42;

export const axpyChecks: CheckGroup = {
  group: 'axpy',
  checks: [1, 7, 33, 100, 257, 1000, 70_001].map((n) =>
    gpuCheck(`n=${n}`, async (gpu, s) => {
      const rng = new Rng(n);
      const x = rng.normals(n);
      const y = rng.normals(n);
      const alpha = -0.37;
      const bx = s.upload('x', x);
      // One guard element past n must stay untouched (catches an off-by-one bound).
      const yPadded = new Float32Array(n + 1);
      yPadded.set(y);
      yPadded[n] = GUARD;
      const by = s.upload('y', yPadded);
      const axpy = await Axpy.create(gpu);
      runDispatches(gpu, [axpy.plan(bx, by, n, alpha)]);
      const got = await gpu.readF32(by, n + 1);
      assertClose(got.subarray(0, n), axpyRef(x, y, alpha), TOL, `axpy n=${n}`);
      assertSame(got[n], GUARD, 'guard element past n');
    }),
  ),
};
