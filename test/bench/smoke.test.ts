// The benchmark harness in smoke mode (one iteration of everything, peers included): it runs end to
// end in this process and its JSON has every field the results file promises, each number finite or
// null with a note saying why. The figures themselves are not checked (one iteration measures nothing).
import { describe, expect, it } from 'vitest';
import { runBench, type BenchResult } from '../../bench/run';

const finiteOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));

describe('bench --smoke', () => {
  it('produces the documented JSON', { timeout: 300_000 }, async () => {
    const result: BenchResult = JSON.parse(JSON.stringify(await runBench({ mode: 'smoke' })));

    expect(typeof result.adapter).toBe('string');
    expect(result.adapter.length).toBeGreaterThan(0);
    expect(['timestamp-query', 'wall-clock']).toContain(result.timer);

    expect(result.kernels.length).toBeGreaterThan(20);
    const names = result.kernels.map((k) => k.name);
    for (const want of ['matmul 128', 'matmul 256', 'matmul 512', 'matmul 1024', 'lenet conv1 fwd', 'lenet conv2 fwd', 'lenet conv2 bwd-data', 'lenet conv2 wgrad weighted', 'lenet dense 800->500 fwd', 'lenet dense 500->2 wgrad weighted', 'mlp dense 784->256 fwd', 'mlp dense 256->10 bwd-data']) {
      expect(names).toContain(want);
    }
    for (const k of result.kernels) {
      expect(typeof k.shape).toBe('string');
      expect(Number.isFinite(k.ms) && k.ms >= 0).toBe(true);
      expect(Number.isFinite(k.gflops) || k.ms === 0).toBe(true);
    }

    const s = result.steps!;
    expect(s).not.toBeNull();
    expect(s.model).toBe('lenet');
    for (const key of ['plain_ms', 'l2rw_ms', 'l2rw_over_plain'] as const) expect(Number.isFinite(s[key]) && s[key] > 0).toBe(true);
    // One submit per step and no readback between logging points: the engine's contract.
    expect(s.submits_per_step).toBe(1);
    expect(s.readbacks_per_step).toBe(0);
    expect(s.readbacks_per_log).toBe(1);
    const groups = s.l2rw_groups.map((g) => g.group);
    for (const g of ['2 gather', '4 forward', '5,6 loss+backward', '3,8,9 validation', '10 alignments', '11 weights', '12,13 weighted grads', '14 sgd']) {
      expect(groups).toContain(g);
    }
    expect(groups).not.toContain('other');
    expect(result.models.map((m) => m.model)).toEqual(['lenet', 'mlp']);

    const p = result.peers;
    const keys = [
      'tfjs_webgpu_step_ms',
      'ours_plain_step_ms',
      'speedup_vs_tfjs_webgpu',
      'tfjs_webgpu_matmul1024_gflops',
      'ours_matmul1024_gflops',
      'jaxjs_step_ms',
      'speedup_vs_jaxjs',
      'jaxjs_matmul1024_gflops',
    ] as const;
    for (const key of keys) {
      expect(key in p).toBe(true);
      expect(finiteOrNull(p[key])).toBe(true);
    }
    // A peer figure that is missing is explained.
    if (p.tfjs_webgpu_step_ms === null) expect(result.notes.some((n) => n.startsWith('tfjs-webgpu'))).toBe(true);
    if (p.jaxjs_step_ms === null) expect(result.notes.some((n) => n.startsWith('jaxjs-webgpu'))).toBe(true);
    expect(Number.isFinite(p.ours_plain_step_ms)).toBe(true);
    expect(Number.isFinite(p.ours_matmul1024_gflops)).toBe(true);
  });
});
