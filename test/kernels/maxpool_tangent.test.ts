// The maxpool_tangent checks of the shared table (test/kernels/checks/maxpool_tangent.ts), one vitest test each.
import { maxpoolTangentChecks } from './checks/maxpool_tangent';
import { runCheckGroup } from './run-checks';

runCheckGroup(maxpoolTangentChecks);
