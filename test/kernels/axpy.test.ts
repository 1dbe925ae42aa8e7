// The axpy checks of the shared table (test/kernels/checks/axpy.ts), one vitest test each.
import { axpyChecks } from './checks/axpy';
import { runCheckGroup } from './run-checks';

runCheckGroup(axpyChecks);
