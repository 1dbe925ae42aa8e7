// 2x2 max pooling: the float64 reference against central finite differences and its tie rule, then
// the forward (values and argmax) and backward kernels against it, exactly.
import type { Gpu } from '../../../src/gpu/gpu';
import { runDispatches } from '../../../src/kernels/kernel';
import { MaxPoolBackward } from '../../../src/kernels/maxpool_backward';
import { MaxPoolForward, maxpoolOutputShape, type MaxPoolShape } from '../../../src/kernels/maxpool_forward';
import { Rng } from '../../../src/util/rng';
import { maxpoolBackwardRef, maxpoolForwardRef } from '../../reference/maxpool';
import { assertClose, assertEqual, assertSame, assertThrows, cpuCheck, gpuCheck, type CheckGroup, type Scratch } from './check';

// Max pooling and its gradient only copy values (no arithmetic), so results must match exactly.
const EXACT = { atol: 0, rtol: 0 };
const GUARD = 42;
const STALE = -777;

function guarded(s: Scratch, label: string, count: number, u32 = false): GPUBuffer {
  const init = u32 ? new Uint32Array(count + 1).fill(0xdeadbeef) : new Float32Array(count + 1).fill(STALE);
  init[count] = GUARD;
  return s.upload(label, init);
}

type Fill = 'normal' | 'ties' | 'negative' | 'constant';

function input(rng: Rng, n: number, fill: Fill): Float32Array {
  switch (fill) {
    case 'normal':
      return rng.normals(n);
    case 'ties': // three levels: most windows hold repeated maxima
      return Float32Array.from({ length: n }, () => rng.int(3) - 1);
    case 'negative': // a max that starts from 0 instead of the first element would be caught here
      return rng.normals(n).map((v) => -Math.abs(v) - 1);
    case 'constant': // every element ties: the argmax must be each window's top-left
      return new Float32Array(n).fill(-2.5);
  }
}

const CASES: { shape: MaxPoolShape; fill: Fill }[] = [
  { shape: { N: 1, C: 1, H: 2, W: 2 }, fill: 'normal' },
  { shape: { N: 1, C: 1, H: 3, W: 2 }, fill: 'normal' },
  { shape: { N: 2, C: 3, H: 7, W: 7 }, fill: 'normal' },
  { shape: { N: 2, C: 3, H: 7, W: 7 }, fill: 'ties' },
  { shape: { N: 3, C: 5, H: 9, W: 6 }, fill: 'ties' },
  { shape: { N: 2, C: 2, H: 5, W: 8 }, fill: 'constant' },
  { shape: { N: 3, C: 4, H: 6, W: 11 }, fill: 'negative' },
  { shape: { N: 7, C: 20, H: 24, W: 24 }, fill: 'normal' }, // LeNet pool1
  { shape: { N: 7, C: 50, H: 8, W: 8 }, fill: 'normal' }, // LeNet pool2
  { shape: { N: 7, C: 33, H: 13, W: 11 }, fill: 'ties' },
];

async function kernelCase(gpu: Gpu, s: Scratch, shape: MaxPoolShape, fill: Fill): Promise<void> {
  const { N, C, H, W } = shape;
  const rng = new Rng(N * 1000 + C * 100 + H * 10 + W);
  const { P, Q } = maxpoolOutputShape(shape);
  assertEqual([P, Q], [Math.floor(H / 2), Math.floor(W / 2)], 'output shape [P, Q]');
  const nx = N * C * H * W;
  const ny = N * C * P * Q;
  const x = input(rng, nx, fill);
  const dy = rng.normals(ny);
  const bx = s.upload('x', x);
  const bdy = s.upload('dy', dy);
  const by = guarded(s, 'y', ny);
  const barg = guarded(s, 'argmax', ny, true);
  const bdx = guarded(s, 'dx', nx);
  const fwd = await MaxPoolForward.create(gpu);
  const bwd = await MaxPoolBackward.create(gpu);
  runDispatches(gpu, [fwd.plan(bx, by, barg, shape), bwd.plan(bdy, barg, bdx, shape)]);

  const ref = maxpoolForwardRef(x, N, C, H, W);
  const y = await gpu.readF32(by, ny + 1);
  const argmax = await gpu.readU32(barg, ny + 1);
  const dx = await gpu.readF32(bdx, nx + 1);
  assertSame(y[ny], GUARD, 'y guard');
  assertSame(argmax[ny], GUARD, 'argmax guard');
  assertSame(dx[nx], GUARD, 'dx guard');
  assertClose(y.subarray(0, ny), ref.y, EXACT, 'y');
  assertEqual(Array.from(argmax.subarray(0, ny)), Array.from(ref.argmax), 'argmax');
  // Every dx element, including a dropped odd row or column, must be overwritten (0 there).
  assertClose(dx.subarray(0, nx), maxpoolBackwardRef(dy, ref.argmax, N, C, H, W), EXACT, 'dx');
}

export const maxpoolChecks: CheckGroup = {
  group: 'maxpool',
  checks: [
    // L = sum dy * maxpool(x) is linear in x near an input without ties, so central differences with
    // h = 1e-6 are exact up to float64 rounding of L.
    ...[
      [1, 1, 7, 7],
      [2, 3, 5, 8],
    ].map(([N, C, H, W]) =>
      cpuCheck(`float64 reference against central finite differences: x[${N},${C},${H},${W}]`, () => {
        const rng = new Rng(H * W);
        const x = Float64Array.from(rng.normals(N * C * H * W));
        const dy = Float64Array.from(rng.normals(N * C * Math.floor(H / 2) * Math.floor(W / 2)));
        const loss = () => maxpoolForwardRef(x, N, C, H, W).y.reduce((s, v, i) => s + v * dy[i], 0);
        const h = 1e-6;
        const fd = new Float64Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const keep = x[i];
          x[i] = keep + h;
          const up = loss();
          x[i] = keep - h;
          const down = loss();
          x[i] = keep;
          fd[i] = (up - down) / (2 * h);
        }
        const { argmax } = maxpoolForwardRef(x, N, C, H, W);
        assertClose(maxpoolBackwardRef(dy, argmax, N, C, H, W), fd, { atol: 1e-6, rtol: 1e-6 }, 'dx');
      }),
    ),

    cpuCheck('float64 reference: ties keep the first maximum in row-major window order', () => {
      // windows: [5 5 / 5 5] -> 0, [1 7 / 7 7] -> 1, [0 0 / 3 3] -> 2*W, [2 1 / 1 2] -> 0
      const W = 8;
      const x = [5, 5, 1, 7, 0, 0, 2, 1, 5, 5, 7, 7, 3, 3, 1, 2];
      const { y, argmax } = maxpoolForwardRef(x, 1, 1, 2, W);
      assertEqual(Array.from(y), [5, 7, 3, 2], 'y');
      assertEqual(Array.from(argmax), [0, 3, W + 4, 6], 'argmax');
    }),

    ...CASES.map(({ shape, fill }) => gpuCheck(`x[${shape.N},${shape.C},${shape.H},${shape.W}] ${fill}`, (gpu, s) => kernelCase(gpu, s, shape, fill))),

    cpuCheck('rejects planes smaller than the window', () => {
      assertThrows(() => maxpoolOutputShape({ N: 1, C: 1, H: 1, W: 4 }), /H, W >= 2/, 'H = 1');
    }),
  ],
};
