// The gather_batch checks of the shared table (test/kernels/checks/gather_batch.ts), one vitest test each.
import { gatherBatchChecks } from './checks/gather_batch';
import { runCheckGroup } from './run-checks';

runCheckGroup(gatherBatchChecks);
