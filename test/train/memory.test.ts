// Memory (issue 15, item 7): buffers the device cannot hold are refused before any work, naming the
// buffer, the model and the batch (the training batch, the clean batch, the evaluation batch of
// EVAL_CHUNK examples, the uploaded data); and long runs keep the GPU's live-buffer count flat: many
// evaluate / step / checkpoint cycles, a stop and a resume, rollbacks after divergences, each run
// ending with every buffer it made freed.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, type RunConfig } from '../../src/experiments/config';
import { checkBatchFits, checkDataFits, runExperiment, type RunHooks, type RunResult } from '../../src/experiments/run';
import type { Gpu } from '../../src/gpu/gpu';
import { lenetSpec, mlpSpec } from '../../src/train/models';
import { EVAL_CHUNK } from '../../src/train/trainer';
import { testGpu } from '../helpers/gpu';
import { runFixture, tinyRun } from '../helpers/runs';

const fx = runFixture('memory');

const config = (o: Partial<RunConfig> = {}): RunConfig => tinyRun({ lrDecayAt: [0.5], seed: 7, ...o });

/** The same device seen with other limits (what checkRunFits reads), to refuse sizes cheaply. */
function withLimits(gpu: Gpu, limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }): Gpu {
  return Object.create(gpu, { limits: { value: { ...gpu.limits, ...limits } } }) as Gpu;
}

describe('buffers the device cannot hold are refused before any work', () => {
  it('the evaluation batch: EVAL_CHUNK examples whatever --batch, naming its buffer and the model', () => {
    expect(EVAL_CHUNK).toBe(500);
    const limits = { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30 };
    // 784 inputs x 4 bytes x 100 = 313,600 bytes per training batch; x 500 = 1,568,000 for evaluation.
    const spec = mlpSpec(784, [16], 10);
    expect(() => checkBatchFits(limits, spec, 100, 50)).toThrow(UsageError);
    expect(() => checkBatchFits(limits, spec, 100, 50)).toThrow(
      /^mlp.* is too large for this GPU: evaluation runs 500 examples at a time \(whatever --batch, here 100\), and its largest tensor \("input", 784 values per example\) needs 1568000 bytes for them in one buffer \("eval\.x"\), but one buffer may hold at most 1048576 bytes \(maxStorageBufferBindingSize\); use a smaller model$/,
    );
    // A hidden layer wider than the input: the buffer is its activation.
    expect(() => checkBatchFits({ maxStorageBufferBindingSize: 8 << 20, maxBufferSize: 1 << 30 }, mlpSpec(784, [5000], 10), 100, 50)).toThrow(/\("eval\.act\.[^"]+"\)/);
    // The training batch is checked first, and names --batch with one that fits.
    expect(() => checkBatchFits(limits, spec, 1000, 50)).toThrow(/^--batch 1000 is too large for this GPU: .*use --batch 334 or less$/);
    // LeNet at the default limits: training and evaluation fit.
    expect(() => checkBatchFits({ maxStorageBufferBindingSize: 128 << 20, maxBufferSize: 256 << 20 }, lenetSpec(10), 100, 100)).not.toThrow();
  });

  it('the clean validation batch is bounded by the training batch: a large clean set needs no more than --batch rows', () => {
    const limits = { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30 };
    // Gram rows: min(clean, batch) floats per example. 300 x 300 x 4 = 360,000 bytes; 600 x 600 x 4 > 1 MiB.
    const spec = mlpSpec(16, [8], 2);
    expect(() => checkBatchFits(limits, spec, 300, 100000)).not.toThrow();
    expect(() => checkBatchFits(limits, spec, 600, 100000)).toThrow(/^--batch 600 is too large for this GPU: .*use --batch 436 or less$/);
  });

  it('the data: a split larger than one buffer names the split, its buffer and the option that shrinks it', () => {
    const limits = { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30 };
    const images = (n: number) => ({ x: new Uint8Array(n * 784), y: new Uint32Array(n), n, dim: 784 });
    expect(() => checkDataFits(limits, { train: images(1337), clean: images(10), test: images(100) })).not.toThrow();
    expect(() => checkDataFits(limits, { train: images(2000), clean: images(10), test: images(100) })).toThrow(
      /^the training set is too large for this GPU: 2000 examples of 784 bytes need 1568000 bytes in one buffer \("train\.x"\), but one buffer may hold at most 1048576 bytes \(maxStorageBufferBindingSize\); use --train-size 1337 or less$/,
    );
    const floats = (n: number) => ({ x: new Float32Array(n * 784), y: new Uint32Array(n), n, dim: 784 });
    expect(() => checkDataFits(limits, { train: images(10), clean: floats(400), test: images(10) })).toThrow(/^the clean set .*784 values.*\("clean\.x"\).*use a smaller --clean$/);
    expect(() => checkDataFits(limits, { train: images(10), clean: images(10), test: images(5000) })).toThrow(/^the test set .*\("test\.x"\).*use at most 1337 examples$/);
  });

  it('runExperiment refuses them before it allocates or submits anything', async () => {
    const gpu = await testGpu();
    const before = { ...gpu.counters };
    const small = withLimits(gpu, { maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 30 });
    await expect(runExperiment(small, fx.mnist, config({ steps: 4, evalEvery: 2 }))).rejects.toThrow(/evaluation runs 500 examples at a time.*"eval\.x"/);
    const tiny = withLimits(gpu, { maxStorageBufferBindingSize: 2 << 20, maxBufferSize: 1 << 30 });
    await expect(runExperiment(tiny, fx.mnist, config({ steps: 4, evalEvery: 2, trainSize: 3000 }))).rejects.toThrow(/^the training set is too large.*"train\.x".*use --train-size 2674 or less$/);
    expect([gpu.counters.buffersCreated, gpu.counters.submits, gpu.counters.liveBuffers]).toEqual([before.buffersCreated, before.submits, before.liveBuffers]);
  });
});

describe('long runs keep the live-buffer count flat', () => {
  /** Live buffers and bytes at every evaluation and checkpoint of a run (after the first evaluation, which plans evaluation's buffers). */
  async function sampled(gpu: Gpu, c: RunConfig, hooks: RunHooks = {}): Promise<{ result: RunResult; samples: string[] }> {
    const samples: string[] = [];
    let evaluated = false;
    const sample = () => evaluated && samples.push(`${gpu.counters.liveBuffers} buffers, ${gpu.counters.liveBytes} bytes`);
    const result = await runExperiment(gpu, fx.mnist, c, {
      ...hooks,
      onEval: (p) => {
        evaluated = true;
        sample();
        hooks.onEval?.(p);
      },
      onCheckpoint: (step, file) => {
        sample();
        hooks.onCheckpoint?.(step, file);
      },
    });
    return { result, samples };
  }

  const live = (gpu: Gpu) => `${gpu.counters.liveBuffers} buffers, ${gpu.counters.liveBytes} bytes`;

  it('60 steps of L2RW with early stopping: 20 evaluations and 29 checkpoints, a stop and a resume, then rollbacks', async () => {
    const gpu = await testGpu();
    const base = live(gpu);
    const c = config({ method: 'l2rw', steps: 60, evalEvery: 3 });
    const file = join(fx.tmp, 'long.safetensors');
    const straight = await sampled(gpu, c, { checkpoint: { file, every: 2 } });
    expect(straight.result.status).toBe('ok');
    expect(straight.samples.length).toBeGreaterThanOrEqual(20 + 28);
    const steady = straight.samples[0];
    expect(new Set(straight.samples)).toEqual(new Set([steady]));
    expect(live(gpu)).toBe(base);

    // Early stopping keeps a model copy (made at the first evaluation); stop at step 31 and resume.
    const es = config({ method: 'early-stop', steps: 60, evalEvery: 3 });
    let calls = 0;
    const stopped = await sampled(gpu, es, { checkpoint: { file: join(fx.tmp, 'es.safetensors'), every: 2 }, shouldStop: () => calls++ >= 31 });
    expect(stopped.result.status).toBe('interrupted');
    expect(live(gpu)).toBe(base);
    const resumed = await sampled(gpu, es, { checkpoint: { file: join(fx.tmp, 'es.safetensors'), every: 2, resume: true } });
    expect(resumed.result.status).toBe('ok');
    expect(resumed.result.resumed_from).toBe(31);
    expect(new Set([...stopped.samples, ...resumed.samples]).size).toBe(1);
    expect(live(gpu)).toBe(base);

    // Divergences rolled back (state reloaded into the same buffers), then a run that gives up.
    const diverging = config({ method: 'plain', lr: 1000, seed: 3, steps: 40, evalEvery: 10, lrDecayAt: [], onDiverge: 'rollback', rollbackFactor: 0.1 });
    const rolled = await sampled(gpu, diverging, { checkpoint: { file: join(fx.tmp, 'rollback.safetensors'), every: 5 } });
    expect(rolled.result.status).toBe('ok');
    expect(rolled.result.rollbacks!.length).toBeGreaterThan(0);
    expect(new Set(rolled.samples).size).toBe(1);
    expect(live(gpu)).toBe(base);
    const gaveUp = await sampled(gpu, { ...diverging, rollbackFactor: 0.99 });
    expect(gaveUp.result.status).toBe('diverged');
    expect(live(gpu)).toBe(base);
  });
});
