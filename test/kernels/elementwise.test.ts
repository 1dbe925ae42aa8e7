// The elementwise checks of the shared table (test/kernels/checks/elementwise.ts), one vitest test each.
import { elementwiseChecks } from './checks/elementwise';
import { runCheckGroup } from './run-checks';

runCheckGroup(elementwiseChecks);
