// The conv2d checks of the shared table (test/kernels/checks/conv2d.ts), one vitest test each.
import { conv2dChecks } from './checks/conv2d';
import { runCheckGroup } from './run-checks';

runCheckGroup(conv2dChecks);
