// The check groups the browser page runs (test/browser/kernel-checks.ts) and the vitest harness
// turns into one test each (test/browser/kernels.test.ts). No GPU code here: Node imports it.
// The kernel groups are those of the shared table (test/kernels/checks/index.ts, same order; the
// harness fails if the two lists drift apart); the engine groups live in engine-checks.ts.
export const KERNEL_GROUPS = ['matmul', 'conv2d', 'maxpool', 'maxpool_tangent', 'relu_backward', 'elementwise', 'softmax_xent', 'reductions', 'sgd_momentum', 'gather_batch', 'resnet_ops', 'batchnorm'] as const;
export const ENGINE_GROUPS = ['l2rw_step'] as const;
export const CHECK_GROUPS = [...KERNEL_GROUPS, ...ENGINE_GROUPS] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];
export type KernelGroup = (typeof KERNEL_GROUPS)[number];
export type EngineGroup = (typeof ENGINE_GROUPS)[number];

export interface CheckResult {
  /** For a kernel group, the check's name in the shared table. */
  label: string;
  ok: boolean;
  message: string;
  /** Wall time of the check (kernel groups). */
  ms?: number;
}

export interface GroupResult {
  group: CheckGroup;
  adapter: string;
  results: CheckResult[];
  ms: number;
}
