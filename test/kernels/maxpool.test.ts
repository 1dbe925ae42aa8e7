// The maxpool checks of the shared table (test/kernels/checks/maxpool.ts), one vitest test each.
import { maxpoolChecks } from './checks/maxpool';
import { runCheckGroup } from './run-checks';

runCheckGroup(maxpoolChecks);
