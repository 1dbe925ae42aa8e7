// Numerical guards (issue 15, item 6): a NaN or infinity in the training loss, the example weights or
// the parameters is reported with the step where it first appeared and the quantity; by default the
// run stops (status 'diverged') with its results and the last good checkpoint, never one holding the
// divergence; with --on-diverge rollback it goes back to the last good state, scales the learning
// rate down and continues, giving up after MAX_ROLLBACKS. A rollback run stopped and resumed ends as
// the uninterrupted one. Then through the bin: the one stderr line, and its resume command.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ROLLBACKS, UsageError, validateConfig, type RunConfig } from '../../src/experiments/config';
import { runExperiment, type Rollback, type RunResult } from '../../src/experiments/run';
import { NON_FINITE, STAT } from '../../src/kernels/step_stats';
import { readCheckpoint } from '../../src/train/checkpoint';
import { mlpSpec } from '../../src/train/models';
import { asF32 } from '../../src/train/safetensors';
import { Trainer, TrainingDivergedError, type TrainData } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { l2rwPiped as l2rw } from '../helpers/cli';
import { runFixture, tinyRun } from '../helpers/runs';
import { testGpu } from '../helpers/gpu';

const fx = runFixture('diverge');

/**
 * Plain SGD on a small MLP at lr 1000: the losses grow for a few dozen steps, then turn NaN at step 27
 * (seed 3). Statistics are read back every 10 steps; checkpoints every 5.
 */
const config = (o: Partial<RunConfig> = {}): RunConfig => tinyRun({ method: 'plain', lr: 1000, steps: 40, evalEvery: 10, lrDecayAt: [], seed: 3, ...o });

const finite = (r: RunResult) => [r.test_loss, r.val_loss, r.test_error].every((v) => typeof v === 'number' && Number.isFinite(v));

describe('divergence: stop (the default)', () => {
  it('a NaN training loss: status diverged with its step and quantity, the curves so far, the last good checkpoint', async () => {
    const file = join(fx.tmp, 'stop.safetensors');
    const written: number[] = [];
    const r = await runExperiment(await testGpu(), fx.mnist, config(), { checkpoint: { file, every: 5 }, onCheckpoint: (step) => written.push(step) });
    expect(r.status).toBe('diverged');
    expect(r.errorName).toBe('TrainingDivergedError');
    expect(r.divergence).toEqual({ step: 27, quantity: 'training loss' });
    expect(r.error).toMatch(/^training diverged: non-finite training loss at step 27 \(\d+ non-finite values in the 10 steps before step 30, mean loss NaN\)\. Lower the learning rate \(now 1000\)/);
    expect(r.test_error).toBeNull();
    expect(r.curves.map((p) => p.step)).toEqual([10, 20]);
    expect(r.rollbacks).toBeUndefined();
    // The checkpoint of step 30 would hold the NaN: it is never written, 25 stays.
    expect(written).toEqual([5, 10, 15, 20, 25]);
    expect([r.checkpoint, r.checkpoint_step]).toEqual([file, 25]);
    expect((await readCheckpoint(file)).state.info.step).toBe(25);
  });

  it('non-finite example weights (L2RW), between two checkpoints and not yet read back: the later checkpoint is refused', async () => {
    const file = join(fx.tmp, 'weights.safetensors');
    const written: number[] = [];
    const r = await runExperiment(await testGpu(), fx.mnist, config({ method: 'l2rw' }), { checkpoint: { file, every: 5 }, onCheckpoint: (step) => written.push(step) });
    expect(r.status).toBe('diverged');
    expect(r.divergence).toEqual({ step: 23, quantity: 'example weights' });
    expect(r.error).toMatch(/non-finite example weights at step 23/);
    // Step 25's state is read back before the statistics of steps 21-30 are: its own statistics
    // (steps 21-25, still on the GPU) hold the NaN of step 23, so it is not written.
    expect(written).toEqual([5, 10, 15, 20]);
    expect(r.checkpoint_step).toBe(20);
    expect((await readCheckpoint(file)).state.info.step).toBe(20);
  });

  it('Trainer.divergenceIn: a saved state with unread non-finite statistics, or a non-finite parameter, names the step and the quantity', async () => {
    const gpu = await testGpu();
    const rng = new Rng(5);
    const blobs = (n: number) => {
      const y = Uint32Array.from({ length: n }, () => rng.int(3));
      const x = Float32Array.from({ length: n * 6 }, (_, k) => rng.normal() + (k % 3 === y[Math.floor(k / 6)] ? 1 : 0));
      return { x, y, n, dim: 6 };
    };
    const data: TrainData = { train: blobs(40), clean: blobs(6), test: blobs(20) };
    const t = await Trainer.create(gpu, mlpSpec(6, [8], 3), data, { method: 'plain', steps: 10, batch: 8, lr: 0.1, momentum: 0.9, weightDecay: 0, seed: 1, logEvery: 5 });
    try {
      for (let i = 0; i < 3; i++) await t.trainStep();
      const state = await t.saveState();
      expect(t.divergenceIn(state)).toBeNull();
      // Steps 1-3 accumulated, a NaN seen at the second, in the weights.
      const stats = asF32(state.tensors.get('stats')!).slice();
      Object.assign(stats, { [STAT.nonFinite]: 4, [STAT.firstNonFinite]: 2, [STAT.nonFiniteKinds]: NON_FINITE.weight });
      const unread = t.divergenceIn({ ...state, tensors: new Map([...state.tensors, ['stats', { dtype: 'F32', shape: [stats.length], data: stats }]]) });
      expect(unread).toBeInstanceOf(TrainingDivergedError);
      expect([unread!.step, unread!.quantity]).toEqual([2, 'example weights']);
      const name = [...state.tensors.keys()].find((k) => k.endsWith('.weight') && !k.includes('/'))!;
      const w = asF32(state.tensors.get(name)!).slice();
      w[3] = Infinity;
      const params = t.divergenceIn({ ...state, tensors: new Map([...state.tensors, [name, { dtype: 'F32', shape: state.tensors.get(name)!.shape, data: w }]]) });
      expect([params!.step, params!.quantity]).toEqual([3, 'parameters']);
      expect(params!.message).toContain(`${name}[3] = Infinity`);
    } finally {
      t.destroy();
    }
  });
});

describe('divergence: --on-diverge rollback', () => {
  it('goes back to the last good checkpoint with the learning rate scaled down, and finishes with finite losses', async () => {
    const gpu = await testGpu();
    const rolled: Rollback[] = [];
    const r = await runExperiment(gpu, fx.mnist, config({ onDiverge: 'rollback', rollbackFactor: 0.1 }), {
      checkpoint: { file: join(fx.tmp, 'rollback.safetensors'), every: 5 },
      onRollback: (x) => rolled.push(x),
    });
    expect(r.status, r.error).toBe('ok');
    expect(r.steps).toBe(40);
    expect(finite(r)).toBe(true);
    expect(r.rollbacks!.length).toBeGreaterThanOrEqual(1);
    expect(r.rollbacks).toEqual(rolled);
    expect(r.rollbacks![0]).toEqual({ step: 27, quantity: 'training loss', to_step: 25, lr: 100 });
    // The curves are those of the run that happened: one point per evaluation, the rate as it was.
    expect(r.curves.map((p) => p.step)).toEqual([10, 20, 30, 40]);
    expect(r.curves[1].lr).toBe(1000);
    expect(r.curves[2].lr).toBe(100);
    expect(r.config.onDiverge).toBe('rollback');
  });

  it('without checkpoints: back to the last evaluation (or the start), in memory', async () => {
    const r = await runExperiment(await testGpu(), fx.mnist, config({ onDiverge: 'rollback', rollbackFactor: 0.01 }));
    expect(r.status, r.error).toBe('ok');
    expect(finite(r)).toBe(true);
    expect(r.rollbacks![0]).toEqual({ step: 27, quantity: 'training loss', to_step: 20, lr: 10 });
  });

  it(`gives up after ${MAX_ROLLBACKS} rollbacks: status diverged, the rollbacks recorded`, async () => {
    // A factor of 0.99 barely lowers the rate: every retry diverges again.
    const r = await runExperiment(await testGpu(), fx.mnist, config({ onDiverge: 'rollback', rollbackFactor: 0.99 }), { checkpoint: { file: join(fx.tmp, 'giveup.safetensors'), every: 5 } });
    expect(r.status).toBe('diverged');
    expect(r.rollbacks).toHaveLength(MAX_ROLLBACKS);
    expect(r.rollbacks!.map((x) => x.lr)).toEqual([990, 980.1, 970.299].map((v, i) => expect.closeTo(v, 6 - i)));
    expect(r.error).toMatch(new RegExp(`gave up after ${MAX_ROLLBACKS} rollback\\(s\\)`));
    expect(r.divergence?.quantity).toBe('training loss');
    expect((await readCheckpoint(join(fx.tmp, 'giveup.safetensors'))).state.info.step).toBe(r.checkpoint_step);
  });

  it('stopped after a rollback and resumed: ends as the uninterrupted run (rollbacks, learning rate, curves)', async () => {
    const gpu = await testGpu();
    const c = config({ onDiverge: 'rollback', rollbackFactor: 0.1 });
    const straight = await runExperiment(gpu, fx.mnist, c, { checkpoint: { file: join(fx.tmp, 'straight.safetensors'), every: 5 } });
    const file = join(fx.tmp, 'stopped.safetensors');
    // Stop 7 steps after the first rollback (to step 25): at step 32.
    let after = -1;
    const stopped = await runExperiment(gpu, fx.mnist, c, {
      checkpoint: { file, every: 5 },
      onRollback: () => (after = 0),
      shouldStop: () => after >= 0 && after++ >= 7,
    });
    expect(stopped.status).toBe('interrupted');
    expect(stopped.steps).toBe(32);
    expect((await readCheckpoint(file)).state.info.lrScale).toBeCloseTo(0.1, 12);
    const resumed = await runExperiment(gpu, fx.mnist, c, { checkpoint: { file, every: 5, resume: true } });
    expect(resumed.resumed_from).toBe(32);
    const computed = (r: RunResult) => ({ status: r.status, steps: r.steps, test_error: r.test_error, test_loss: r.test_loss, val_loss: r.val_loss, curves: r.curves, rollbacks: r.rollbacks });
    expect(computed(resumed)).toEqual(computed(straight));
  });

  it('validateConfig: the factor in (0, 1), and only with rollback', () => {
    for (const [patch, message] of [
      [{ onDiverge: 'rollback', rollbackFactor: 1 }, /--rollback-factor must be in \(0, 1\), got 1/],
      [{ onDiverge: 'rollback', rollbackFactor: NaN }, /--rollback-factor/],
      [{ rollbackFactor: 0.5 }, /--rollback-factor applies only with --on-diverge rollback/],
      [{ onDiverge: 'explode' }, /--on-diverge must be stop or rollback/],
    ] as [Partial<RunConfig>, RegExp][]) {
      expect(() => validateConfig(config(patch)), JSON.stringify(patch)).toThrow(UsageError);
      expect(() => validateConfig(config(patch)), JSON.stringify(patch)).toThrow(message);
    }
    expect(() => validateConfig(config({ onDiverge: 'rollback', rollbackFactor: 0.25 }))).not.toThrow();
  });
});

describe('l2rw train: divergence', () => {
  const args = (out: string) =>
    ['train', '--task', 'noise', '--method', 'plain', '--model', 'mlp', '--hidden', '16', '--train-size', '400', '--clean', '5', '--lr', '1000', '--lr-decay-at', 'none', '--steps', '40', '--eval-every', '10', '--seed', '3', '--checkpoint-every', '5', '--json', '--out', out];

  it('stops with one line naming the step and quantity; its command continues from the last good checkpoint with rollback, as a rollback run from the start would', async () => {
    const out = join(fx.tmp, 'cli-diverged');
    const r = await l2rw(args(out));
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines, r.stderr).toHaveLength(1);
    const m = /^l2rw: training diverged: non-finite training loss at step 27 .*mean loss NaN.*; what was computed is in (\S+); the checkpoint of step 25 is kept, continue with: (.*)$/.exec(lines[0]);
    expect(m, lines[0]).not.toBeNull();
    const command = m![2];
    expect(command).toBe(['l2rw', ...args(out), '--resume', '--on-diverge', 'rollback'].join(' '));
    const result = JSON.parse(readFileSync(m![1], 'utf8'));
    expect([result.status, result.divergence, result.checkpoint_step]).toEqual(['diverged', { step: 27, quantity: 'training loss' }, 25]);

    const resumed = await l2rw([...args(out), '--resume', '--on-diverge', 'rollback']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toBe('');
    const events = resumed.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const rollbacks = events.filter((e) => e.event === 'rollback').map((e) => [e.step, e.to_step, e.lr]);
    expect(rollbacks[0]).toEqual([27, 25, 500]);
    expect(rollbacks.every(([, to]) => to === 25)).toBe(true);
    const after = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(after.resumed_from).toBe(25);
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(false);

    const fresh = join(fx.tmp, 'cli-rollback');
    const f = await l2rw([...args(fresh), '--on-diverge', 'rollback']);
    expect(f.code, f.stderr).toBe(0);
    const whole = JSON.parse(readFileSync(join(fresh, 'result.json'), 'utf8'));
    expect([after.status, after.steps, after.test_error, after.test_loss, after.rollbacks, after.curves]).toEqual([whole.status, whole.steps, whole.test_error, whole.test_loss, whole.rollbacks, whole.curves]);
  }, 300_000);

  it('--rollback-factor: a number in (0, 1), only with --on-diverge rollback', async () => {
    const bad = await l2rw(['train', '--on-diverge', 'rollback', '--rollback-factor', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^l2rw: error: option '--rollback-factor <x>' argument '1' is invalid\. expected a number in \(0, 1\)/);
    const alone = await l2rw(['train', '--rollback-factor', '0.2']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/^l2rw: error: --rollback-factor applies only with --on-diverge rollback$/m);
  });
});
