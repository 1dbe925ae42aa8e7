// The relu_backward checks of the shared table (test/kernels/checks/relu_backward.ts), one vitest test each.
import { reluBackwardChecks } from './checks/relu_backward';
import { runCheckGroup } from './run-checks';

runCheckGroup(reluBackwardChecks);
