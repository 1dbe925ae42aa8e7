// The softmax_xent checks of the shared table (test/kernels/checks/softmax_xent.ts), one vitest test each.
import { softmaxXentChecks } from './checks/softmax_xent';
import { runCheckGroup } from './run-checks';

runCheckGroup(softmaxXentChecks);
