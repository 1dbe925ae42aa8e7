// Shared pieces of the tests that train whole runs (runExperiment): a temporary folder and MNIST per
// test file, a tiny run configuration, and what a run computed (to compare two runs exactly).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { ImageDataset } from '../../src/data/index';
import { DEFAULT_CONFIG, type RunConfig } from '../../src/experiments/config';
import { loadData } from '../../src/experiments/data';
import type { RunResult } from '../../src/experiments/run';

/** A temporary folder and MNIST for one test file, made before its tests and removed after them. */
export function runFixture(prefix: string): { readonly tmp: string; readonly mnist: ImageDataset } {
  const state: { tmp?: string; mnist?: ImageDataset } = {};
  beforeAll(async () => {
    state.tmp = mkdtempSync(join(tmpdir(), `l2rw-${prefix}-`));
    state.mnist = await loadData(null);
  });
  afterAll(() => {
    if (state.tmp) rmSync(state.tmp, { recursive: true, force: true });
  });
  return {
    get tmp() {
      return state.tmp!;
    },
    get mnist() {
      return state.mnist!;
    },
  };
}

/** A run of seconds: an MLP (16 hidden units) on 400 MNIST images, 40% of labels flipped, 5 clean per class. */
export const tinyRun = (o: Partial<RunConfig> = {}): RunConfig => ({
  ...DEFAULT_CONFIG,
  task: 'noise',
  noise: 0.4,
  clean: 5,
  trainSize: 400,
  model: 'mlp',
  hidden: [16],
  ...o,
});

/** What training computed (no timings): equal between an uninterrupted run and a stopped-and-resumed one. */
export const computed = (r: RunResult) => ({
  status: r.status,
  steps: r.steps,
  test_error: r.test_error,
  test_loss: r.test_loss,
  val_loss: r.val_loss,
  selected: r.selected,
  curves: r.curves,
});
