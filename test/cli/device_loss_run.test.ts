// Device loss mid-run (issue 15, item 5), simulated with device.destroy(): the run stops with status
// 'failed' and the runtime's device-lost reason, the last checkpoint stays as it was written (never
// replaced by one of the lost state), and a resume from it on a fresh device ends exactly as the
// uninterrupted run. Then through the real bin: one line on stderr ending with the exact command that
// continues the run, which does.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resumeCommand, shellQuote } from '../../src/cli/train';
import type { RunConfig } from '../../src/experiments/config';
import { runExperiment, type RunHooks, type RunResult } from '../../src/experiments/run';
import { Gpu } from '../../src/gpu/gpu';
import { readCheckpoint } from '../../src/train/checkpoint';
import { l2rwPiped as l2rw } from '../helpers/cli';
import { computed, runFixture, tinyRun } from '../helpers/runs';
import { testGpu } from '../helpers/gpu';

const fx = runFixture('devloss');

const config: RunConfig = tinyRun({ method: 'l2rw', steps: 15, evalEvery: 3, lrDecayAt: [0.5], seed: 3 });


/** A run on its own device, which `lose(gpu, hooks)` destroys from one of the hooks. */
async function runLosingDevice(file: string, lose: (gpu: Gpu) => RunHooks): Promise<{ result: RunResult; written: Map<number, Buffer> }> {
  const gpu = await Gpu.create();
  const written = new Map<number, Buffer>();
  const hooks = lose(gpu);
  const result = await runExperiment(gpu, fx.mnist, config, {
    ...hooks,
    checkpoint: { file, every: 3 },
    onCheckpoint: (step, f) => {
      written.set(step, readFileSync(f));
      hooks.onCheckpoint?.(step, f);
    },
  });
  return { result, written };
}

describe('runExperiment: the device lost mid-run', () => {
  let straight: RunResult;

  beforeAll(async () => {
    straight = await runExperiment(await testGpu(), fx.mnist, config);
    expect(straight.status).toBe('ok');
  });

  it('after a checkpoint: status failed with the runtime reason, the checkpoint intact, a resume on a fresh device ends as the uninterrupted run', async () => {
    const file = join(fx.tmp, 'after.safetensors');
    const { result, written } = await runLosingDevice(file, (gpu) => ({
      onCheckpoint: (step) => {
        if (step === 6) gpu.device.destroy();
      },
    }));
    expect(result.status).toBe('failed');
    expect(result.errorName).toBe('GpuLostError');
    expect(result.error).toMatch(/device was destroyed/);
    expect(result.steps).toBeGreaterThanOrEqual(6);
    expect(result.steps).toBeLessThan(config.steps);
    expect(result.test_error).toBeNull();
    expect([result.checkpoint, result.checkpoint_step]).toEqual([file, 6]);
    expect([...written.keys()]).toEqual([3, 6]);
    expect(readFileSync(file).equals(written.get(6)!)).toBe(true);
    const saved = await readCheckpoint(file);
    expect(saved.state.info.step).toBe(6);

    const resumed = await runExperiment(await testGpu(), fx.mnist, config, { checkpoint: { file, resume: true } });
    expect(resumed.resumed_from).toBe(6);
    expect(computed(resumed)).toEqual(computed(straight));
  });

  it('while a checkpoint is being read back: the previous checkpoint is not replaced', async () => {
    const file = join(fx.tmp, 'during.safetensors');
    // The evaluation at step 6 comes just before the checkpoint of step 6, whose readback then fails.
    const { result, written } = await runLosingDevice(file, (gpu) => ({
      onEval: (p) => {
        if (p.step === 6) gpu.device.destroy();
      },
    }));
    expect(result.status).toBe('failed');
    expect(result.errorName).toBe('GpuLostError');
    expect(result.error).toMatch(/^l2rw-gpu: the device was destroyed by this program \(runtime: device was destroyed\)$/);
    expect([...written.keys()]).toEqual([3]);
    expect([result.checkpoint, result.checkpoint_step]).toEqual([file, 3]);
    expect(readFileSync(file).equals(written.get(3)!)).toBe(true);
    expect((await readCheckpoint(file)).state.info.step).toBe(3);
    const resumed = await runExperiment(await testGpu(), fx.mnist, config, { checkpoint: { file, resume: true } });
    expect(computed(resumed)).toEqual(computed(straight));
  });

  it('between checkpoints (from a statistics callback): the run stops within the steps in flight and keeps the last checkpoint', async () => {
    const file = join(fx.tmp, 'between.safetensors');
    let lostAt = 0;
    const { result } = await runLosingDevice(file, (gpu) => ({
      onProgress: (step) => {
        if (step >= 7 && !lostAt) {
          lostAt = step;
          gpu.device.destroy();
        }
      },
    }));
    expect(result.status).toBe('failed');
    expect(result.errorName).toBe('GpuLostError');
    expect(lostAt).toBeGreaterThanOrEqual(7);
    // The steps in flight when the loss was seen, at most; not on to the end of the run.
    expect(result.steps).toBeLessThan(config.steps);
    expect(result.checkpoint_step).toBeGreaterThanOrEqual(6);
    expect((await readCheckpoint(file)).state.info.step).toBe(result.checkpoint_step);
  });
});

describe('resumeCommand', () => {
  it('repeats the arguments, quoted for a shell, with --resume once', () => {
    expect(resumeCommand(['train', '--steps', '10', '--out', 'runs/a b'])).toBe("l2rw train --steps 10 --out 'runs/a b' --resume");
    expect(resumeCommand(['train', '--resume', '--out', 'x'])).toBe('l2rw train --resume --out x');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('--hidden=16,8')).toBe('--hidden=16,8');
  });
});

describe('l2rw train: the device lost mid-run', () => {
  it('one line on stderr with the exact resume command; running it ends as the uninterrupted run', async () => {
    const args = (out: string) => ['train', '--task', 'noise', '--method', 'l2rw', '--model', 'mlp', '--hidden', '16', '--train-size', '400', '--clean', '5', '--steps', '200', '--eval-every', '50', '--seed', '4', '--checkpoint-every', '40', '--out', out, '--json'];
    const whole = join(fx.tmp, 'cli-whole');
    const w = await l2rw(args(whole));
    expect(w.code, w.stderr).toBe(0);
    const expected = JSON.parse(readFileSync(join(whole, 'result.json'), 'utf8'));

    const out = join(fx.tmp, 'cli-lost');
    const r = await l2rw(args(out), { L2RW_TEST_DEVICE_LOSS_AT_STEP: '100' });
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines, r.stderr).toHaveLength(1);
    const m = /^l2rw: training failed: l2rw-gpu: the device was destroyed by this program \(runtime: device was destroyed\); what was computed is in (\S+); the checkpoint of step (\d+) is kept, continue with: (.*)$/.exec(lines[0]);
    expect(m, lines[0]).not.toBeNull();
    const [, json, step, command] = m!;
    expect(json).toBe(join(out, 'result.json'));
    expect(command).toBe(['l2rw', ...args(out), '--resume'].join(' '));
    const failed = JSON.parse(readFileSync(json, 'utf8'));
    expect([failed.status, failed.errorName, failed.checkpoint_step]).toEqual(['failed', 'GpuLostError', Number(step)]);
    expect(Number(step)).toBeGreaterThanOrEqual(80);
    const file = join(out, 'checkpoint.safetensors');
    expect((await readCheckpoint(file)).state.info.step).toBe(Number(step));

    const again = await l2rw(command.split(' ').slice(1));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe('');
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(res.resumed_from).toBe(Number(step));
    expect([res.status, res.steps, res.test_error, res.test_loss, res.val_loss]).toEqual([expected.status, expected.steps, expected.test_error, expected.test_loss, expected.val_loss]);
    expect(res.curves).toEqual(expected.curves);
    expect(existsSync(file)).toBe(false);
  }, 300_000);
});
