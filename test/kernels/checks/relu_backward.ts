// ReLU backward: the float64 reference against central finite differences, then the kernel (out of
// place and in place) against it, exactly.
import { runDispatches } from '../../../src/kernels/kernel';
import { ReluBackward } from '../../../src/kernels/relu_backward';
import { Rng } from '../../../src/util/rng';
import { reluBackwardRef, reluRef } from '../../reference/relu';
import { assertClose, assertEqual, assertSame, assertThrows, cpuCheck, gpuCheck, type CheckGroup, type KernelCheck } from './check';

// The gradient either copies dy or writes 0, so it must match exactly.
const EXACT = { atol: 0, rtol: 0 };
const GUARD = 42;

/** Pre-activations with about a tenth exactly 0 (ReLU's kink: the gradient there is taken as 0). */
function preActivations(rng: Rng, n: number): Float32Array {
  return rng.normals(n).map((v, i) => (i % 10 === 3 ? 0 : v));
}

const kernelChecks: KernelCheck[] = [];
for (const n of [1, 7, 33, 100, 257, 70_001]) {
  for (const inPlace of [false, true]) {
    kernelChecks.push(
      gpuCheck(`n=${n} ${inPlace ? 'in place' : 'out of place'}`, async (gpu, s) => {
        const rng = new Rng(n + (inPlace ? 1 : 0));
        const y = Float32Array.from(reluRef(preActivations(rng, n)));
        const dy = rng.normals(n);
        dy[0] = Infinity; // behind a dead unit this must still give 0, not NaN
        y[0] = 0;
        const withGuard = (d: Float32Array) => {
          const a = new Float32Array(n + 1);
          a.set(d);
          a[n] = GUARD;
          return a;
        };
        const by = s.upload('y', y);
        const bdy = s.upload('dy', withGuard(dy));
        const bdx = inPlace ? bdy : s.upload('dx', withGuard(new Float32Array(n).fill(-777)));
        const relu = await ReluBackward.create(gpu);
        runDispatches(gpu, [relu.plan(by, bdy, bdx, n)]);
        const got = await gpu.readF32(bdx, n + 1);
        assertSame(got[n], GUARD, 'guard');
        assertClose(got.subarray(0, n), reluBackwardRef(y, dy), EXACT, `relu_backward n=${n}`);
        if (!inPlace) assertEqual(Array.from(await gpu.readF32(bdy, n)), Array.from(dy), 'dy after an out-of-place run');
      }),
    );
  }
}

export const reluBackwardChecks: CheckGroup = {
  group: 'relu_backward',
  checks: [
    cpuCheck('float64 reference against central finite differences: n=257, away from the kink', () => {
      const rng = new Rng(5);
      const z = Float64Array.from(rng.normals(257), (v) => (Math.abs(v) < 1e-3 ? 0.5 : v));
      const dy = Float64Array.from(rng.normals(257));
      const loss = () => reluRef(z).reduce((s, v, i) => s + v * dy[i], 0);
      const h = 1e-6;
      const fd = new Float64Array(z.length);
      for (let i = 0; i < z.length; i++) {
        const keep = z[i];
        z[i] = keep + h;
        const up = loss();
        z[i] = keep - h;
        const down = loss();
        z[i] = keep;
        fd[i] = (up - down) / (2 * h);
      }
      assertClose(reluBackwardRef(reluRef(z), dy), fd, { atol: 1e-6, rtol: 1e-6 }, 'dz');
    }),

    ...kernelChecks,

    gpuCheck('in place at a 256-byte offset via planInPlace; other ranges of one buffer rejected', async (gpu, s) => {
      const rng = new Rng(3);
      const n = 100;
      const y = Float32Array.from(reluRef(preActivations(rng, n)));
      const g = rng.normals(n);
      const buf = new Float32Array(64 + n + 1).fill(9);
      buf.set(g, 64);
      buf[64 + n] = GUARD;
      const by = s.upload('y', y);
      const bg = s.upload('g', buf);
      const relu = await ReluBackward.create(gpu);
      const ref = { buffer: bg, offset: 256, size: n * 4 };
      runDispatches(gpu, [relu.planInPlace(by, ref, n)]);
      const got = await gpu.readF32(bg, 64 + n + 1);
      assertSame(got[63], 9, 'the element before the binding');
      assertSame(got[64 + n], GUARD, 'the guard after the binding');
      assertClose(got.subarray(64, 64 + n), reluBackwardRef(y, g), EXACT, 'in place at offset');
      assertThrows(() => relu.plan(by, { buffer: bg, offset: 0, size: n * 4 }, ref, n), /one buffer/, 'dy and dx in different ranges of one buffer');
    }),
  ],
};
