// The reductions checks of the shared table (test/kernels/checks/reductions.ts), one vitest test each.
import { reductionsChecks } from './checks/reductions';
import { runCheckGroup } from './run-checks';

runCheckGroup(reductionsChecks);
