import { afterEach, describe, expect, it } from 'vitest';
import { Fill } from '../../src/kernels/fill';
import { runDispatches } from '../../src/kernels/kernel';
import { Scale } from '../../src/kernels/scale';
import { Rng } from '../../src/util/rng';
import { testGpu } from '../helpers/gpu';
import { expectClose } from '../helpers/compare';

const GUARD = 42;
// An input bound 256 bytes into its buffer; the element just before the binding must survive too.
const OFFSET = 256;

afterEach(async () => (await testGpu()).destroyAll());

/** [GUARD × 64, data, GUARD] in one buffer, with the binding covering exactly `data`. */
function padded(data: Float32Array): Float32Array {
  const pad = OFFSET / 4;
  const a = new Float32Array(pad + data.length + 1).fill(GUARD);
  a.set(data, pad);
  return a;
}

describe('scale', () => {
  for (const n of [1, 7, 33, 100, 257, 1000, 70_001]) {
    it(`n=${n}`, async () => {
      const gpu = await testGpu();
      const x = new Rng(n).normals(n);
      const alpha = -0.37;
      const buf = gpu.upload('x', padded(x));
      runDispatches(gpu, [(await Scale.create(gpu)).plan({ buffer: buf, offset: OFFSET, size: 4 * n }, n, alpha)]);
      const got = await gpu.readF32(buf);
      const pad = OFFSET / 4;
      // One fp32 product per element, correctly rounded: relative error at most 2^-24.
      expectClose(got.subarray(pad, pad + n), Array.from(x, (v) => v * Math.fround(alpha)), { atol: 0, rtol: 2 ** -24 }, `scale n=${n}`);
      expect(got[pad - 1]).toBe(GUARD);
      expect(got[pad + n]).toBe(GUARD);
    });
  }
});

describe('fill', () => {
  for (const n of [1, 7, 33, 100, 257, 1000, 70_001]) {
    it(`n=${n}`, async () => {
      const gpu = await testGpu();
      const buf = gpu.upload('x', padded(new Rng(n).normals(n)));
      runDispatches(gpu, [(await Fill.create(gpu)).plan({ buffer: buf, offset: OFFSET, size: 4 * n }, n, 0.1)]);
      const got = await gpu.readF32(buf);
      const pad = OFFSET / 4;
      expect(got.subarray(pad, pad + n).every((v) => v === Math.fround(0.1))).toBe(true);
      expect(got[pad - 1]).toBe(GUARD);
      expect(got[pad + n]).toBe(GUARD);
    });
  }

  it('more than 65535 workgroups (launch folded over y)', async () => {
    const gpu = await testGpu();
    const n = 65_535 * 256 + 7;
    const buf = gpu.upload('x', new Float32Array(n + 1).fill(GUARD));
    runDispatches(gpu, [(await Fill.create(gpu)).plan(buf, n, -2)]);
    const got = await gpu.readF32(buf);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (got[i] !== -2) wrong++;
    expect(wrong).toBe(0);
    expect(got[n]).toBe(GUARD);
  });
});
