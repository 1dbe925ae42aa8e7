// The kernel-check groups the browser page runs (test/browser/kernel-checks.ts) and the vitest
// harness turns into one test each (test/browser/kernels.test.ts). No GPU code here: Node imports it.
export const CHECK_GROUPS = ['matmul', 'conv2d', 'maxpool', 'relu_backward', 'softmax_xent', 'reductions', 'sgd_momentum', 'l2rw_step'] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

export interface CheckResult {
  label: string;
  ok: boolean;
  message: string;
}

export interface GroupResult {
  group: CheckGroup;
  adapter: string;
  results: CheckResult[];
  ms: number;
}
