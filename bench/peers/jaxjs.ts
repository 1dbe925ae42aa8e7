// jax-js on WebGPU: the same LeNet (Caffe, NCHW) and MLP 784-256-10, batch 100, softmax
// cross-entropy, SGD with momentum 0.9, as one jit-compiled step (gather by index, value-and-grad,
// update) over arrays resident on the device. jax-js asks navigator.gpu for its adapter, so in Node
// it runs on the same Dawn instance as this project once navigator.gpu is set.
// jax-js moves ownership of every array passed to a function; `.ref` keeps one alive.
import type { BenchData } from '../data';
import { Rng } from '../../src/util/rng';
import { median } from '../lib/timing';
import { BATCH, OPTIMISER, type ModelKind } from '../steps';
import { timeBlock, type StepRunner } from './tfjs';

type Jax = typeof import('@jax-js/jax');
type JArray = import('@jax-js/jax').Array;

let jaxModule: Promise<Jax> | null = null;

/** Imports jax-js and starts its WebGPU backend; null with the reason when it has none. */
export async function loadJax(): Promise<{ jax: Jax } | { reason: string }> {
  jaxModule ??= import('@jax-js/jax');
  const jax = await jaxModule;
  const devices = await jax.init('webgpu');
  if (!devices.includes('webgpu')) return { reason: `jax-js found no WebGPU device (init gave ${JSON.stringify(devices)})` };
  jax.defaultDevice('webgpu');
  return { jax };
}

export async function jaxMatmul1024(jax: Jax, iters: number, repeats: number): Promise<number> {
  const np = jax.numpy;
  const n = 1024;
  const rng = new Rng(1);
  const a = np.array(rng.normals(n * n)).reshape([n, n]);
  const b = np.array(rng.normals(n * n)).reshape([n, n]);
  await a.blockUntilReady();
  await b.blockUntilReady();
  const warm = np.matmul(a.ref, b.ref);
  await warm.blockUntilReady();
  warm.dispose();
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) {
      const c = np.matmul(a.ref, b.ref);
      if (i === iters - 1) await c.blockUntilReady();
      c.dispose();
    }
    samples.push((performance.now() - t0) / iters);
  }
  a.dispose();
  b.dispose();
  return (2 * n * n * n) / median(samples) / 1e6;
}

type Params = Record<string, JArray>;

function initParams(jax: Jax, kind: ModelKind, classes: number): Params {
  const np = jax.numpy;
  const rng = new Rng(7);
  const normal = (shape: number[], std: number): JArray => {
    const size = shape.reduce((x, y) => x * y, 1);
    return np.array(rng.normals(size).map((v) => v * std)).reshape(shape);
  };
  const out: Params =
    kind === 'mlp'
      ? { W1: normal([784, 256], Math.sqrt(2 / 784)), b1: np.zeros([256]), W2: normal([256, classes], Math.sqrt(1 / 256)), b2: np.zeros([classes]) }
      : {
          c1: normal([20, 1, 5, 5], Math.sqrt(2 / 25)),
          cb1: np.zeros([20]),
          c2: normal([50, 20, 5, 5], Math.sqrt(2 / 500)),
          cb2: np.zeros([50]),
          W3: normal([800, 500], Math.sqrt(2 / 800)),
          b3: np.zeros([500]),
          W4: normal([500, classes], Math.sqrt(1 / 500)),
          b4: np.zeros([classes]),
        };
  return out;
}

function lossFn(jax: Jax, kind: ModelKind) {
  const np = jax.numpy;
  const { lax, nn } = jax;
  return (p: Params, x: JArray, y: JArray): JArray => {
    const n = x.shape[0];
    let h: JArray;
    if (kind === 'mlp') {
      h = nn.relu(np.matmul(x, p.W1).add(p.b1));
      const logits = np.matmul(h, p.W2).add(p.b2);
      return nn.logSoftmax(logits, -1).mul(y).sum().mul(-1 / n);
    }
    const img = x.reshape([n, 1, 28, 28]);
    const a1 = lax.conv(img, p.c1, [1, 1], 'VALID').add(p.cb1.reshape([1, 20, 1, 1]));
    // 2x2 max pooling by a reshape and a max over the window axes.
    const m1 = a1.reshape([n, 20, 12, 2, 12, 2]).max([3, 5]);
    const a2 = lax.conv(m1, p.c2, [1, 1], 'VALID').add(p.cb2.reshape([1, 50, 1, 1]));
    const m2 = a2.reshape([n, 50, 4, 2, 4, 2]).max([3, 5]);
    h = nn.relu(np.matmul(m2.reshape([n, 800]), p.W3).add(p.b3));
    const logits = np.matmul(h, p.W4).add(p.b4);
    return nn.logSoftmax(logits, -1).mul(y).sum().mul(-1 / n);
  };
}

export async function jaxStepRunner(jax: Jax, kind: ModelKind, data: BenchData): Promise<StepRunner> {
  const np = jax.numpy;
  const { train, classes } = data;
  const xAll = np.array(Float32Array.from(train.x, (v) => v / 255)).reshape([train.n, 784]);
  const yAll = jax.nn.oneHot(np.array(Int32Array.from(train.y), { dtype: np.int32 }), classes);
  const loss = lossFn(jax, kind);
  const { lr, momentum } = OPTIMISER;
  const step = jax.jit((p: Params, v: Params, xs: JArray, ys: JArray, idx: JArray): [Params, Params] => {
    const x = np.take(xs, idx.ref, 0);
    const y = np.take(ys, idx, 0);
    const g = jax.grad(loss)(jax.tree.ref(p), x, y) as Params;
    const nv: Params = {};
    const np2: Params = {};
    for (const k of Object.keys(p)) {
      nv[k] = v[k].mul(momentum).add(g[k]);
      np2[k] = p[k].sub(nv[k].ref.mul(lr));
    }
    return [np2, nv];
  });
  let params = initParams(jax, kind, classes);
  let vel: Params = Object.fromEntries(Object.entries(params).map(([k, a]) => [k, np.zerosLike(a.ref)]));
  let cursor = 0;
  const one = () => {
    if (cursor + BATCH > train.n) cursor = 0;
    const idx = np.array(Int32Array.from({ length: BATCH }, (_, i) => cursor + i), { dtype: np.int32 });
    cursor += BATCH;
    [params, vel] = step(params, vel, xAll.ref, yAll.ref, idx);
  };
  const lastKey = Object.keys(params).at(-1)!;
  return {
    block: (steps: number) =>
      timeBlock(steps, async () => {
        for (let i = 0; i < steps; i++) one();
        await params[lastKey].blockUntilReady();
      }),
    dispose() {
      step.dispose();
      jax.tree.dispose(params);
      jax.tree.dispose(vel);
      xAll.dispose();
      yAll.dispose();
    },
  };
}
