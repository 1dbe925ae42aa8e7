// The resnet_ops checks of the shared table (test/kernels/checks/resnet_ops.ts), one vitest test each.
import { resnetOpsChecks } from './checks/resnet_ops';
import { runCheckGroup } from './run-checks';

runCheckGroup(resnetOpsChecks);
