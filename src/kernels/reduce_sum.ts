// out[0] = Σ x[i] over n floats (or out[0] += with `accumulate`).
//
// One workgroup of 64 invocations strides over the whole input and finishes with a tree reduction.
// Measured on lavapipe (Mesa 25.0, 2 cores shared with other jobs; best of 7 submits of 10-50
// dispatches) against a first pass of G workgroups writing partial sums plus a one-workgroup pass:
//   n = 1e5:  one workgroup 110-145 us;  G = 2: 125-155 us;  G = 8..64: 140-560 us
//   n = 1e6:  one workgroup 910-930 us;  G = 2: 945-985 us;  G = 8..64: 950-1600 us
//   n = 1e7:  one workgroup 49-67 ms;    G = 2..64: 25-60 ms (the only size where two passes can win)
// Every workgroup costs lavapipe several microseconds of barrier switching (~5 us at 64 invocations,
// ~40 us at 256), which eats the second core's gain below ~1e7, so this is one dispatch and needs no
// scratch buffer. Rounding: each invocation adds ~n/64 terms in sequence, then 6 tree levels.
import source from '../shaders/reduce_sum.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';

/** Workgroup size shared with dot.ts (a power of two, as workgroup_sum needs). */
export const REDUCE_WG = 64;

export interface ReduceOptions {
  /** Add the result to out[0] instead of overwriting it. */
  accumulate?: boolean;
}

export const reduceSumDef: KernelDef = {
  name: 'reduce_sum',
  source,
  bindings: ['read', 'rw', 'uniform'],
  uniforms: [['n', 'u32']],
};

export class ReduceSum {
  private constructor(private readonly kernel: Kernel) {}

  static async create(gpu: Gpu, opts: ReduceOptions = {}): Promise<ReduceSum> {
    return new ReduceSum(await Kernel.load(gpu, reduceSumDef, { WG: REDUCE_WG, ACCUMULATE: opts.accumulate ? 1 : 0 }));
  }

  /** out[0] = Σ_{i<n} x[i]; n = 0 writes 0 (or adds nothing). */
  plan(x: BufferRef, out: BufferRef, n: number, label = 'reduce_sum'): Dispatch {
    return this.kernel.plan(label, [x, out], { n }, [1]);
  }
}
