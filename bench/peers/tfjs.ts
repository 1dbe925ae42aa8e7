// TensorFlow.js on its WebGPU backend (and its wasm and cpu backends, for context): the same LeNet
// (Caffe) and MLP 784-256-10, batch 100, softmax cross-entropy, SGD with momentum 0.9, with each
// minibatch gathered on the device from the resident training set by an index tensor, as ours is.
// In Node the WebGPU backend runs on the very GPU object (Dawn instance) this project uses, through
// globalThis.navigator.gpu, set before tfjs is imported.
import type { ModelKind } from '../steps';
import { BATCH, OPTIMISER } from '../steps';
import type { BenchData } from '../data';
import { cpuNow, median } from '../lib/timing';
import type { BlockTiming } from '../steps';

type Tf = typeof import('@tensorflow/tfjs-core');

export type TfBackend = 'webgpu' | 'wasm' | 'cpu';

let tfModule: Promise<Tf> | null = null;

/** Imports tfjs-core and the three backends once (navigator.gpu must already be set for webgpu). */
export function loadTf(): Promise<Tf> {
  tfModule ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    // tfjs-core alone registers no gradients; the union package does this import.
    await import('@tensorflow/tfjs-core/dist/register_all_gradients');
    await import('@tensorflow/tfjs-backend-cpu');
    await import('@tensorflow/tfjs-backend-webgpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (typeof window === 'undefined') {
      // Node: the .wasm binaries sit next to the package's dist files.
      const { createRequire } = await import(/* @vite-ignore */ 'node:module');
      const path = await import(/* @vite-ignore */ 'node:path');
      const dist = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
      wasm.setWasmPaths(dist + path.sep);
    } else {
      wasm.setWasmPaths('/tfjs-wasm/');
    }
    tf.env().set('PROD', true);
    return tf;
  })();
  return tfModule;
}

export async function useBackend(tf: Tf, backend: TfBackend): Promise<boolean> {
  try {
    return await tf.setBackend(backend);
  } catch {
    return false;
  }
}

/** Median GFLOP/s of a 1024^3 matMul (each timed block ends with a read of one result). */
export async function tfMatmul1024(tf: Tf, iters: number, repeats: number): Promise<number> {
  const n = 1024;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const warm = tf.matMul(a, b);
  await warm.data();
  warm.dispose();
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    let c = tf.matMul(a, b);
    for (let i = 1; i < iters; i++) {
      c.dispose();
      c = tf.matMul(a, b);
    }
    // One element read: waits for every queued product without timing a 4 MB transfer.
    const one = tf.slice(c, [0, 0], [1, 1]);
    await one.data();
    const ms = (performance.now() - t0) / iters;
    one.dispose();
    c.dispose();
    samples.push(ms);
  }
  a.dispose();
  b.dispose();
  return (2 * n * n * n) / median(samples) / 1e6;
}

interface Model {
  vars: import('@tensorflow/tfjs-core').Variable[];
  logits(x: import('@tensorflow/tfjs-core').Tensor): import('@tensorflow/tfjs-core').Tensor2D;
}

function buildModel(tf: Tf, kind: ModelKind, classes: number): Model {
  const v = (shape: number[], std: number, name: string) => tf.variable(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 7), std), true, name);
  const z = (shape: number[], name: string) => tf.variable(tf.zeros(shape), true, name);
  if (kind === 'mlp') {
    const W1 = v([784, 256], Math.sqrt(2 / 784), 'W1');
    const b1 = z([256], 'b1');
    const W2 = v([256, classes], Math.sqrt(1 / 256), 'W2');
    const b2 = z([classes], 'b2');
    return {
      vars: [W1, b1, W2, b2],
      logits: (x) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x as import('@tensorflow/tfjs-core').Tensor2D, W1), b1)), W2), b2) as import('@tensorflow/tfjs-core').Tensor2D,
    };
  }
  // NHWC, tfjs's native layout (its NCHW convolutions are not implemented on every backend).
  const c1 = v([5, 5, 1, 20], Math.sqrt(2 / 25), 'c1');
  const cb1 = z([20], 'cb1');
  const c2 = v([5, 5, 20, 50], Math.sqrt(2 / 500), 'c2');
  const cb2 = z([50], 'cb2');
  const W3 = v([800, 500], Math.sqrt(2 / 800), 'W3');
  const b3 = z([500], 'b3');
  const W4 = v([500, classes], Math.sqrt(1 / 500), 'W4');
  const b4 = z([classes], 'b4');
  return {
    vars: [c1, cb1, c2, cb2, W3, b3, W4, b4],
    logits: (x) => {
      const img = tf.reshape(x, [-1, 28, 28, 1]) as import('@tensorflow/tfjs-core').Tensor4D;
      const a1 = tf.maxPool(tf.add(tf.conv2d(img, c1 as never, 1, 'valid'), cb1) as import('@tensorflow/tfjs-core').Tensor4D, 2, 2, 'valid');
      const a2 = tf.maxPool(tf.add(tf.conv2d(a1, c2 as never, 1, 'valid'), cb2) as import('@tensorflow/tfjs-core').Tensor4D, 2, 2, 'valid');
      const h = tf.relu(tf.add(tf.matMul(tf.reshape(a2, [-1, 800]) as import('@tensorflow/tfjs-core').Tensor2D, W3), b3));
      return tf.add(tf.matMul(h as import('@tensorflow/tfjs-core').Tensor2D, W4), b4) as import('@tensorflow/tfjs-core').Tensor2D;
    },
  };
}

/** A training loop that runs blocks of steps; each block ends when the device has finished them. */
export interface StepRunner {
  /** Runs `steps` steps; wall and CPU milliseconds per step, to the end of the device's work. */
  block(steps: number): Promise<BlockTiming>;
  dispose(): void;
}

export async function tfStepRunner(tf: Tf, kind: ModelKind, data: BenchData): Promise<StepRunner> {
  const { train, classes } = data;
  const xAll = tf.tidy(() => tf.div(tf.tensor2d(Float32Array.from(train.x), [train.n, 784]), 255));
  const yAll = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(train.y), 'int32'), classes), 'float32'));
  const model = buildModel(tf, kind, classes);
  const opt = tf.train.momentum(OPTIMISER.lr, OPTIMISER.momentum);
  let cursor = 0;
  const order = Int32Array.from({ length: train.n }, (_, i) => i);
  const step = () => {
    if (cursor + BATCH > train.n) cursor = 0;
    const idx = tf.tensor1d(order.subarray(cursor, cursor + BATCH), 'int32');
    cursor += BATCH;
    opt.minimize(
      () => {
        const x = tf.gather(xAll, idx);
        const y = tf.gather(yAll, idx);
        return tf.losses.softmaxCrossEntropy(y, model.logits(x)) as import('@tensorflow/tfjs-core').Scalar;
      },
      false,
      model.vars,
    );
    idx.dispose();
  };
  const last = model.vars[model.vars.length - 1];
  return {
    block: (steps: number) =>
      timeBlock(steps, async () => {
        for (let i = 0; i < steps; i++) step();
        // Reading the last updated variable waits for every step's work on the device.
        await last.data();
      }),
    dispose() {
      opt.dispose();
      for (const v of model.vars) v.dispose();
      xAll.dispose();
      yAll.dispose();
    },
  };
}

/** Wall and process-CPU milliseconds per step of `run` (which performs `steps` steps). */
export async function timeBlock(steps: number, run: () => Promise<void>): Promise<BlockTiming> {
  const c0 = cpuNow();
  const t0 = performance.now();
  await run();
  const ms = (performance.now() - t0) / Math.max(1, steps);
  const c1 = cpuNow();
  return { ms, cpu_ms: c0 === null || c1 === null ? null : (c1 - c0) / Math.max(1, steps) };
}
