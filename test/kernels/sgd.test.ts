// The sgd_momentum checks of the shared table (test/kernels/checks/sgd_momentum.ts), one vitest test each.
import { sgdMomentumChecks } from './checks/sgd_momentum';
import { runCheckGroup } from './run-checks';

runCheckGroup(sgdMomentumChecks);
