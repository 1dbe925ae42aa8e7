// The GPU side of the test-only coupling op `center` (its float64 reference: test/reference/ops/center.ts).
// It makes every example's loss depend on the whole batch, so the engine must take its general L2RW
// path; importing this module registers it (before the reference module registers a CPU-only stand-in).
import source from './center.wgsl?raw';
import { Kernel, workgroups1d, type KernelDef } from '../../../src/kernels/kernel';
import { registerOp, registeredOps, withoutAttrs, type OpDef } from '../../../src/train/ops/op';

const WG = 64;

export const centerDef: KernelDef = {
  name: 'center',
  source,
  bindings: ['read', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['features', 'u32'],
  ],
};

export const centerGpu: OpDef<Record<string, never>> = {
  name: 'center',
  arity: 1,
  couplesExamples: true,
  checkAttrs: withoutAttrs,
  outShape: ([x]) => x,
  async load(gpu, node) {
    const features = node.outShape.reduce((a, b) => a * b, 1);
    const kernel = await Kernel.load(gpu, centerDef, { WG });
    const plan = (from: GPUBuffer | { buffer: GPUBuffer }, to: GPUBuffer | { buffer: GPUBuffer }, n: number, label: string) =>
      kernel.plan(label, [from, to], { n, features }, workgroups1d(gpu, features, WG));
    return {
      forward: (c) => [plan(c.inputs[0], c.output, c.n, c.label)],
      backward: (c) => (c.inSignals[0] ? [plan(c.outSignal, c.inSignals[0], c.n, c.label)] : []),
      tangent: (c) => (c.inTangents[0] ? [plan(c.inTangents[0], c.outTangent, c.n, c.label)] : []),
    };
  },
};

if (!registeredOps().includes('center')) registerOp(centerGpu);
