// Runs that survive interruption: a run stopped at step s writes a checkpoint, and the run resumed
// from it ends exactly as the run never stopped (curves, test error and losses to the last bit), also
// when stopped between logging points, during fine-tuning, after the learning-rate cut and with
// early stopping; a checkpoint of another run is refused naming the difference. Then the same through
// the real bin: SIGTERM mid-run, refusal without --resume, and `train --resume`.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/experiments/config';
import { runExperiment, type RunResult } from '../../src/experiments/run';
import { l2rw, l2rwEvents } from '../helpers/cli';
import { testGpu } from '../helpers/gpu';
import { computed, runFixture, tinyRun } from '../helpers/runs';

const fx = runFixture('resume');
const config = (o: Partial<RunConfig>): RunConfig => tinyRun({ steps: 12, evalEvery: 4, lrDecayAt: [0.5], seed: 5, ...o });

async function stopAndResume(c: RunConfig, stopAt: number, name: string): Promise<{ straight: RunResult; stopped: RunResult; resumed: RunResult }> {
  const gpu = await testGpu();
  const straight = await runExperiment(gpu, fx.mnist, c);
  const file = join(fx.tmp, `${name}.safetensors`);
  let step = 0;
  const stopped = await runExperiment(gpu, fx.mnist, c, {
    onProgress: () => undefined,
    shouldStop: () => step++ >= stopAt,
    checkpoint: { file },
  });
  expect(stopped.status).toBe('interrupted');
  expect(stopped.steps).toBe(stopAt);
  expect(existsSync(file)).toBe(true);
  const resumed = await runExperiment(gpu, fx.mnist, c, { checkpoint: { file, resume: true } });
  expect(resumed.resumed_from).toBe(stopAt);
  return { straight, stopped, resumed };
}

describe('runExperiment: stop, checkpoint, resume', () => {
  it('between logging points and before the lr cut: the resumed run equals the uninterrupted one', async () => {
    const c = config({ method: 'l2rw' });
    const { straight, stopped, resumed } = await stopAndResume(c, 7, 'l2rw');
    expect(straight.status).toBe('ok');
    expect(computed(resumed)).toEqual(computed(straight));
    // The stopped run reports where it got to: its regular point at 4, and one made at the stop.
    expect(stopped.curves.map((p) => [p.step, p.interrupted ?? false])).toEqual([
      [4, false],
      [7, true],
    ]);
    expect(stopped.test_error).toBe(stopped.curves[1].test_error);
    expect(stopped.checkpoint).toMatch(/l2rw\.safetensors$/);
  });

  it('after the learning-rate cut, during fine-tuning, and with early stopping', async () => {
    const afterCut = await stopAndResume(config({ method: 'plain', momentum: 0.9 }), 9, 'cut');
    expect(computed(afterCut.resumed)).toEqual(computed(afterCut.straight));
    // l2rw-finetune: the last tenth of 20 steps (2) on the clean set; stop inside it.
    const ft = await stopAndResume(config({ method: 'l2rw-finetune', steps: 20, evalEvery: 5 }), 19, 'finetune');
    expect(computed(ft.resumed)).toEqual(computed(ft.straight));
    const es = await stopAndResume(config({ method: 'early-stop', evalEvery: 3 }), 8, 'early');
    expect(es.straight.selected).toBe(true);
    expect(computed(es.resumed)).toEqual(computed(es.straight));
  });

  it('periodic checkpoints: a copy taken mid-run (as a crash would leave it) resumes to the same end', async () => {
    const gpu = await testGpu();
    const c = config({ method: 'l2rw', steps: 15, evalEvery: 5 });
    const file = join(fx.tmp, 'periodic.safetensors');
    const crash = join(fx.tmp, 'crash.safetensors');
    const written: number[] = [];
    const straight = await runExperiment(gpu, fx.mnist, c, {
      checkpoint: { file, every: 3 },
      onCheckpoint: (step) => {
        written.push(step);
        if (step === 6) copyFileSync(file, crash);
      },
    });
    expect(written).toEqual([3, 6, 9, 12]);
    const resumed = await runExperiment(gpu, fx.mnist, c, { checkpoint: { file: crash, resume: true } });
    expect(resumed.resumed_from).toBe(6);
    expect(computed(resumed)).toEqual(computed(straight));
  });

  it("refuses another run's checkpoint, naming the difference", async () => {
    const gpu = await testGpu();
    const file = join(fx.tmp, 'other.safetensors');
    let step = 0;
    await runExperiment(gpu, fx.mnist, config({ method: 'plain' }), { shouldStop: () => step++ >= 3, checkpoint: { file } });
    await expect(runExperiment(gpu, fx.mnist, config({ method: 'plain', lr: 0.01 }), { checkpoint: { file, resume: true } })).rejects.toThrow(
      /--resume: .*other\.safetensors belongs to another run: the checkpoint was made with lr 0\.005, this run has lr 0\.01/,
    );
    await expect(runExperiment(gpu, fx.mnist, config({ method: 'plain', seed: 6 }), { checkpoint: { file, resume: true } })).rejects.toThrow(/seed/);
  });
});

describe('l2rw train: SIGTERM, --resume', () => {
  const args = (out: string) => ['train', '--task', 'noise', '--method', 'l2rw', '--model', 'mlp', '--hidden', '16', '--train-size', '400', '--clean', '5', '--steps', '300', '--eval-every', '100', '--seed', '2', '--out', out];

  it('SIGTERM mid-run leaves a checkpoint and a result with metrics; --resume ends as the uninterrupted run', async () => {
    const whole = join(fx.tmp, 'train-whole');
    const w = await l2rw(args(whole));
    expect(w.code, w.stderr).toBe(0);
    const expected = JSON.parse(readFileSync(join(whole, 'result.json'), 'utf8'));
    expect(existsSync(join(whole, 'checkpoint.safetensors'))).toBe(false);

    const out = join(fx.tmp, 'train-stopped');
    let sent = false;
    const { code } = await l2rwEvents(args(out), (e, child) => {
      // After the first evaluation, between logging points.
      if (!sent && e.event === 'progress' && (e.step as number) > 100) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    expect(code).toBe(143);
    const stopped = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(stopped.status).toBe('interrupted');
    expect(stopped.steps).toBeGreaterThan(100);
    expect(stopped.steps).toBeLessThan(300);
    expect(stopped.test_error).toEqual(expect.any(Number));
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(true);

    const refused = await l2rw(args(out));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds the checkpoint of an interrupted run .*--resume.*--force/);

    const other = await l2rw([...args(out), '--resume', '--lr', '0.01']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/belongs to another run: the checkpoint was made with lr 0\.005, this run has lr 0\.01/);

    const resumed = await l2rw([...args(out), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(r.resumed_from).toBe(stopped.steps);
    expect([r.status, r.steps, r.test_error, r.test_loss, r.val_loss]).toEqual([expected.status, expected.steps, expected.test_error, expected.test_loss, expected.val_loss]);
    expect(r.curves).toEqual(expected.curves);
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(false);
  }, 300_000);
});
