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

/** The ResNet the peers train: the paper's CIFAR model as `resnetSpec` builds it (see bench/peers/resnet.ts). */
export interface ResnetPeerSpec {
  depth: number;
  batch: number;
  classes: number;
  lr: number;
  momentum: number;
  /** On convolution and dense weights only (not batch norm's γ, β nor the dense bias), as ours. */
  weightDecay: number;
  /** Training bytes, [n, 3, 32, 32] per example (CHW, as ours reads them), and labels. */
  train: { x: Uint8Array; y: Uint32Array; n: number };
}

/**
 * The pre-activation ResNet-(6n+2) of src/train/models.ts `resnetSpec` in tfjs (NHWC): conv 3x3 to 16
 * channels (no bias), BN, ReLU; 3 stages of n units (16/32/64 channels; BN-ReLU-conv3x3(stride)-BN-
 * ReLU-conv3x3 plus the input; the first unit of stage 1 starts at its convolution); where the shape
 * changes the shortcut is a 2x2 average pool with stride 2 and zero channels on both sides; then
 * BN-ReLU-global average pool-dense. Batch norm in training mode (batch statistics, eps 1e-5, through
 * tf.moments and tf.batchNorm, whose gradient tfjs composes). Convolutions pad 1 on every side, as
 * ours (explicit padding: 'same' pads 0/1 at stride 2). Loss: mean softmax cross-entropy plus
 * wd/2·Σw² over the decayed weights, so that tf.train.momentum applies the same update as ours
 * (v ← μv + g + wd·w, w ← w − lr·v). Running statistics are not kept (ours updates them: 3 small
 * passes per BN layer); there is no augmentation (the side-by-side run of ours has none either).
 */
export async function tfResnetRunner(tf: Tf, s: ResnetPeerSpec): Promise<StepRunner & { probe(): Promise<number[]>; numBytes(): number }> {
  type T4 = import('@tensorflow/tfjs-core').Tensor4D;
  type T = import('@tensorflow/tfjs-core').Tensor;
  const units = (s.depth - 2) / 6;
  if (!Number.isInteger(units) || units < 1) throw new Error(`a CIFAR ResNet has depth 6n+2, got ${s.depth}`);
  const { train } = s;
  const xAll = tf.tidy(() => tf.transpose(tf.div(tf.tensor4d(Float32Array.from(train.x), [train.n, 3, 32, 32]), 255), [0, 2, 3, 1]));
  const yAll = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(train.y), 'int32'), s.classes), 'float32'));
  let seed = 11;
  const decayed: import('@tensorflow/tfjs-core').Variable[] = [];
  const vars: import('@tensorflow/tfjs-core').Variable[] = [];
  const convW = (cin: number, cout: number) => {
    const w = tf.variable(tf.mul(tf.randomNormal([3, 3, cin, cout], 0, 1, 'float32', seed++), Math.sqrt(2 / (9 * cin))), true, `conv${vars.length}`);
    vars.push(w);
    decayed.push(w);
    return w;
  };
  const bnP = (c: number) => {
    const g = tf.variable(tf.ones([c]), true, `gamma${vars.length}`);
    const b = tf.variable(tf.zeros([c]), true, `beta${vars.length}`);
    vars.push(g, b);
    return { g, b };
  };
  const pad1: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
  const conv = (x: T4, w: T, stride: number) => tf.conv2d(x, w as never, stride, pad1);
  const bnRelu = (x: T4, p: { g: T; b: T }) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.relu(tf.batchNorm(x, mean, variance, p.b as never, p.g as never, 1e-5)) as T4;
  };
  // Parameters in the order the forward pass reads them.
  const stem = convW(3, 16);
  const stemBn = bnP(16);
  type Unit = { pre: { g: T; b: T } | null; c1: T; mid: { g: T; b: T }; c2: T; stride: number; cin: number; cout: number };
  const body: Unit[] = [];
  let cin = 16;
  for (let stage = 0; stage < 3; stage++) {
    const cout = 16 << stage;
    for (let u = 0; u < units; u++) {
      const stride = stage > 0 && u === 0 ? 2 : 1;
      const pre = stage === 0 && u === 0 ? null : bnP(cin);
      const c1 = convW(cin, cout);
      const mid = bnP(cout);
      const c2 = convW(cout, cout);
      body.push({ pre, c1, mid, c2, stride, cin, cout });
      cin = cout;
    }
  }
  const headBn = bnP(cin);
  const W = tf.variable(tf.mul(tf.randomNormal([cin, s.classes], 0, 1, 'float32', seed++), Math.sqrt(1 / cin)), true, 'dense');
  const bias = tf.variable(tf.zeros([s.classes]), true, 'dense_b');
  vars.push(W, bias);
  decayed.push(W);
  const logits = (img: T4) => {
    let x = bnRelu(conv(img, stem, 1), stemBn);
    for (const u of body) {
      const a = u.pre ? bnRelu(x, u.pre) : x;
      const branch = conv(bnRelu(conv(a, u.c1, u.stride), u.mid), u.c2, 1);
      let skip = x;
      if (u.stride > 1) skip = tf.avgPool(skip, 2, 2, 'valid');
      const extra = u.cout - u.cin;
      if (extra > 0) skip = tf.pad(skip, [[0, 0], [0, 0], [0, 0], [extra >> 1, extra - (extra >> 1)]]);
      x = tf.add(branch, skip);
    }
    const pooled = tf.mean(bnRelu(x, headBn), [1, 2]) as import('@tensorflow/tfjs-core').Tensor2D;
    return tf.add(tf.matMul(pooled, W), bias) as import('@tensorflow/tfjs-core').Tensor2D;
  };
  const opt = tf.train.momentum(s.lr, s.momentum);
  let cursor = 0;
  const step = () => {
    if (cursor + s.batch > train.n) cursor = 0;
    const idx = tf.tensor1d(Int32Array.from({ length: s.batch }, (_, i) => cursor + i), 'int32');
    cursor += s.batch;
    opt.minimize(
      () => {
        const x = tf.gather(xAll, idx) as T4;
        const y = tf.gather(yAll, idx);
        const xent = tf.losses.softmaxCrossEntropy(y, logits(x));
        // Pairwise adds, not tf.addN: its WebGPU kernel binds every input at once, and with more than
        // 7 inputs it exceeds the default maxStorageBuffersPerShaderStage (8) that tfjs requests
        // (a validation error, and the sum silently missing).
        const l2 = decayed.map((w) => tf.sum(tf.square(w))).reduce((a, b) => tf.add(a, b));
        return tf.add(xent, tf.mul(l2, s.weightDecay / 2)) as import('@tensorflow/tfjs-core').Scalar;
      },
      false,
      vars,
    );
    idx.dispose();
  };
  return {
    block: (steps: number) =>
      timeBlock(steps, async () => {
        for (let i = 0; i < steps; i++) step();
        await bias.data();
      }),
    probe: async () => Array.from(await bias.data()),
    numBytes: () => tf.memory().numBytes,
    dispose() {
      opt.dispose();
      for (const v of vars) v.dispose();
      xAll.dispose();
      yAll.dispose();
    },
  };
}
