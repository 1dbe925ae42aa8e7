// Turns one group of the shared kernel-check table (test/kernels/checks/) into vitest tests: one test
// per check, on the file's Dawn device. Imported by the thin test/kernels/*.test.ts files.
import { describe, it } from 'vitest';
import { testGpu } from '../helpers/gpu';
import type { CheckGroup } from './checks';

export function runCheckGroup({ group, checks }: CheckGroup): void {
  describe(group, () => {
    for (const check of checks) it(check.name, async () => check.run(await testGpu()));
  });
}
