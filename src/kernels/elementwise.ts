// Elementwise kernels over n floats: out = act(a (+ b)) (+ out). See elementwise.wgsl.
import source from '../shaders/elementwise.wgsl?raw';
import { refBuffer, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

const WG = 256;

export const elementwiseDef: KernelDef = {
  name: 'elementwise',
  source,
  bindings: ['read', 'read', 'rw', 'uniform'],
  uniforms: [['n', 'u32']],
};

export interface ElementwiseOptions {
  /** out = a + b (two inputs) instead of out = a. */
  add?: boolean;
  /** max(·, 0) before the store. */
  relu?: boolean;
  /** out += result instead of out = result. */
  accumulate?: boolean;
}

export class Elementwise {
  private constructor(private readonly gpu: Gpu, private readonly kernel: Kernel, readonly options: Readonly<ElementwiseOptions>) {}

  static async create(gpu: Gpu, options: ElementwiseOptions = {}): Promise<Elementwise> {
    const kernel = await Kernel.load(gpu, elementwiseDef, {
      WG,
      ADD_B: options.add ? 1 : 0,
      RELU: options.relu ? 1 : 0,
      ACCUMULATE: options.accumulate ? 1 : 0,
    });
    return new Elementwise(gpu, kernel, options);
  }

  /** `b` exactly when created with `add`. `out` must be in a GPUBuffer other than a's and b's. */
  plan(a: BufferRef, b: BufferRef | null, out: BufferRef, n: number, label = 'elementwise'): Dispatch {
    if (Boolean(this.options.add) !== (b !== null)) throw new Error(`${label}: a second input is needed exactly for the add variant`);
    if (refBuffer(out) === refBuffer(a) || (b && refBuffer(out) === refBuffer(b))) {
      throw new Error(`${label}: the output must be in a buffer other than the inputs' (WebGPU forbids binding one buffer read-only and writable in a dispatch)`);
    }
    return this.kernel.plan(label, [a, b ?? a, out], { n }, workgroups1d(this.gpu, n, WG));
  }
}
