// The one table of kernel checks. test/kernels/<group>.test.ts runs each group under vitest (Node,
// Dawn); test/browser/kernel-checks.ts runs every group inside Chromium (WebGPU on SwiftShader), and
// test/browser/kernels.test.ts fails unless the page ran exactly BROWSER_CHECK_NAMES, all passing.
import type { CheckGroup, KernelCheck } from './check';
import { batchnormChecks } from './batchnorm';
import { conv2dChecks } from './conv2d';
import { elementwiseChecks } from './elementwise';
import { gatherBatchChecks } from './gather_batch';
import { matmulChecks } from './matmul';
import { maxpoolChecks } from './maxpool';
import { maxpoolTangentChecks } from './maxpool_tangent';
import { reductionsChecks } from './reductions';
import { resnetOpsChecks } from './resnet_ops';
import { reluBackwardChecks } from './relu_backward';
import { sgdMomentumChecks } from './sgd_momentum';
import { softmaxXentChecks } from './softmax_xent';

export type { CheckGroup, KernelCheck } from './check';

export const KERNEL_CHECKS: readonly CheckGroup[] = [
  matmulChecks,
  conv2dChecks,
  maxpoolChecks,
  maxpoolTangentChecks,
  reluBackwardChecks,
  elementwiseChecks,
  softmaxXentChecks,
  reductionsChecks,
  sgdMomentumChecks,
  gatherBatchChecks,
  resnetOpsChecks,
  batchnormChecks,
];

/** A check's name across the table: `group/name`. */
export function checkId(group: string, name: string): string {
  return `${group}/${name}`;
}

function ids(filter: (c: KernelCheck) => boolean): string[] {
  return KERNEL_CHECKS.flatMap(({ group, checks }) => checks.filter(filter).map((c) => checkId(group, c.name)));
}

/** Every check of the table, as `group/name`. */
export const KERNEL_CHECK_NAMES: readonly string[] = ids(() => true);

/** The checks the browser page runs: all but the node-only ones. */
export const BROWSER_CHECK_NAMES: readonly string[] = ids((c) => !c.nodeOnly);

/** The checks the browser page skips, with the reason for each. */
export const NODE_ONLY_CHECKS: readonly { id: string; reason: string }[] = KERNEL_CHECKS.flatMap(({ group, checks }) =>
  checks.filter((c) => c.nodeOnly).map((c) => ({ id: checkId(group, c.name), reason: c.nodeOnly! })),
);

export function checkGroup(group: string): CheckGroup | undefined {
  return KERNEL_CHECKS.find((g) => g.group === group);
}

// Names are how Node and the browser are compared: a duplicate would hide a check.
{
  const seen = new Set<string>();
  for (const id of KERNEL_CHECK_NAMES) {
    if (seen.has(id)) throw new Error(`kernel check table: duplicate check ${id}`);
    seen.add(id);
  }
}
