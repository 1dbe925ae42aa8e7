import { describe, expect, it } from 'vitest';
import { Axpy } from '../../src/kernels/axpy';
import { runDispatches } from '../../src/kernels/kernel';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';
import { expectClose } from '../helpers/compare';
import { axpyRef } from '../reference/axpy';

// One fused multiply-add per element: fp32 rounding of the product and sum, relative 1e-6 suffices;
// atol covers cancellation when y ≈ -alpha x.
const TOL = { atol: 1e-6, rtol: 1e-6 };

describe('axpy', () => {
  for (const n of [1, 7, 33, 100, 257, 1000, 70_001]) {
    it(`n=${n}`, async () => {
      const gpu = await testGpu();
      const rng = new Rng(n);
      const x = rng.normals(n);
      const y = rng.normals(n);
      const alpha = -0.37;
      const bx = gpu.upload('x', x);
      // One guard element past n must stay untouched (catches an off-by-one bound).
      const yPadded = new Float32Array(n + 1);
      yPadded.set(y);
      yPadded[n] = 42;
      const by = gpu.upload('y', yPadded);
      const axpy = await Axpy.create(gpu);
      runDispatches(gpu, [axpy.plan(bx, by, n, alpha)]);
      const got = await gpu.readF32(by, n + 1);
      expectClose(got.subarray(0, n), axpyRef(x, y, alpha), TOL, `axpy n=${n}`);
      expect(got[n]).toBe(42);
      gpu.destroy(bx);
      gpu.destroy(by);
    });
  }
});
