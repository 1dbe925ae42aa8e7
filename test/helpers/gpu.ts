// One GPU per test file. A missing adapter fails the tests (never skips): a suite that silently
// proves nothing on a machine without WebGPU would be worse than a red one.
import { Gpu } from '../../src/gpu/gpu';

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.create();
  return shared;
}
