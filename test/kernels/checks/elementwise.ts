// The elementwise kernel (residual add with a fused ReLU, standalone ReLU, copy, signal accumulation)
// against a float64 reference, exactly: each output is one fp32 add (or none) of the same operands
// the reference adds in float64, then rounded once, so with fp32 inputs the results agree bit for bit
// (the float64 sum of two fp32 numbers rounds to their fp32 sum).
import { Elementwise, type ElementwiseOptions } from '../../../src/kernels/elementwise';
import { runDispatches } from '../../../src/kernels/kernel';
import { Rng } from '../../../src/util/rng';
import { assertClose, assertSame, assertThrows, gpuCheck, type CheckGroup, type KernelCheck } from './check';

const GUARD = 42;

function reference(a: Float32Array, b: Float32Array | null, out: Float32Array, o: ElementwiseOptions): Float32Array {
  return Float32Array.from(a, (v, i) => {
    let r = v + (b ? b[i] : 0);
    if (o.relu) r = Math.max(r, 0);
    return Math.fround(o.accumulate ? Math.fround(r) + out[i] : r);
  });
}

const variants: [string, ElementwiseOptions][] = [
  ['copy', {}],
  ['relu', { relu: true }],
  ['add', { add: true }],
  ['add+relu', { add: true, relu: true }],
  ['accumulate', { accumulate: true }],
];

const checks: KernelCheck[] = [];
for (const [name, options] of variants) {
  for (const n of [1, 7, 257, 70_001]) {
    checks.push(
      gpuCheck(`${name} n=${n}`, async (gpu, s) => {
        const rng = new Rng(n * 31 + name.length);
        const a = rng.normals(n);
        const b = options.add ? rng.normals(n) : null;
        const before = rng.normals(n);
        const withGuard = new Float32Array(n + 1);
        withGuard.set(before);
        withGuard[n] = GUARD;
        const out = s.upload('out', withGuard);
        const kernel = await Elementwise.create(gpu, options);
        runDispatches(gpu, [kernel.plan(s.upload('a', a), b ? s.upload('b', b) : null, out, n)]);
        const got = await gpu.readF32(out, n + 1);
        assertSame(got[n], GUARD, 'guard');
        assertClose(got.subarray(0, n), reference(a, b, before, options), { atol: 0, rtol: 0 }, `${name} n=${n}`);
      }),
    );
  }
}

export const elementwiseChecks: CheckGroup = {
  group: 'elementwise',
  checks: [
    ...checks,
    gpuCheck('refuses a missing or extra second input, and an output that aliases an input', async (gpu, s) => {
      const [add, copy] = await Promise.all([Elementwise.create(gpu, { add: true }), Elementwise.create(gpu, {})]);
      const x = s.buffer('x', 64);
      const y = s.buffer('y', 64);
      assertThrows(() => add.plan(x, null, y, 4), /second input/, 'add without b');
      assertThrows(() => copy.plan(x, x, y, 4), /second input/, 'copy with b');
      assertThrows(() => copy.plan(x, null, x, 4), /other than the inputs/, 'aliased output');
    }),
  ],
};
