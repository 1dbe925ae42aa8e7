// The matmul checks of the shared table (test/kernels/checks/matmul.ts), one vitest test each.
import { matmulChecks } from './checks/matmul';
import { runCheckGroup } from './run-checks';

runCheckGroup(matmulChecks);
