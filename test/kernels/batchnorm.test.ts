// The batchnorm checks of the shared table (test/kernels/checks/batchnorm.ts), one vitest test each.
import { batchnormChecks } from './checks/batchnorm';
import { runCheckGroup } from './run-checks';

runCheckGroup(batchnormChecks);
