// jax-js on WebGPU: the same LeNet (Caffe, NCHW) and MLP 784-256-10, batch 100, softmax
// cross-entropy, SGD with momentum 0.9, as one jit-compiled step (gather by index, value-and-grad,
// update) over arrays resident on the device. jax-js asks navigator.gpu for its adapter, so in Node
// it runs on the same Dawn instance as this project once navigator.gpu is set.
// jax-js moves ownership of every array passed to a function; `.ref` keeps one alive.
import type { BenchData } from '../data';
import { Rng } from '../../src/util/rng';
import { median } from '../lib/timing';
import { BATCH, OPTIMISER, type ModelKind } from '../steps';
import { timeBlock, type ResnetPeerSpec, type StepRunner } from './tfjs';

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
    // jax-js evaluates lazily: a product disposed before anything waits on it is never computed, so
    // every product is kept and waited on (blocking on the last one alone timed only one product per
    // block: the rate came out `iters` times too high).
    const products = Array.from({ length: iters }, () => np.matmul(a.ref, b.ref));
    for (const c of products) await c.blockUntilReady();
    samples.push((performance.now() - t0) / iters);
    for (const c of products) c.dispose();
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

/**
 * The same pre-activation ResNet-(6n+2) as the tfjs peer and ours (see tfResnetRunner), in NCHW:
 * lax.conv with padding [[1,1],[1,1]] (ours pads 1 on every side, also at stride 2), batch norm in
 * training mode written out (batch mean and variance over N, H, W; eps 1e-5; no running statistics),
 * the shortcut's 2x2 average pool as a reshape and a mean over the window axes (jax-js has no pooling
 * op; exact for a 2x2 window with stride 2 on even sizes), np.pad for the zero channels. Weight decay
 * enters the update as ours does (g + wd·w on conv and dense weights).
 */
export function resnetParams(jax: Jax, depth: number, classes: number): { params: Params; decayed: string[] } {
  const np = jax.numpy;
  const rng = new Rng(11);
  const normal = (shape: number[], std: number): JArray => np.array(rng.normals(shape.reduce((x, y) => x * y, 1)).map((v) => v * std)).reshape(shape);
  const params: Params = {};
  const decayed: string[] = [];
  const units = (depth - 2) / 6;
  const conv = (name: string, cin: number, cout: number) => {
    params[name] = normal([cout, cin, 3, 3], Math.sqrt(2 / (9 * cin)));
    decayed.push(name);
  };
  const bn = (name: string, c: number) => {
    params[`${name}.g`] = np.ones([c]);
    params[`${name}.b`] = np.zeros([c]);
  };
  conv('stem', 3, 16);
  bn('stem.bn', 16);
  let cin = 16;
  for (let stage = 0; stage < 3; stage++) {
    const cout = 16 << stage;
    for (let u = 0; u < units; u++) {
      const k = `s${stage}u${u}`;
      if (!(stage === 0 && u === 0)) bn(`${k}.bn1`, cin);
      conv(`${k}.c1`, cin, cout);
      bn(`${k}.bn2`, cout);
      conv(`${k}.c2`, cout, cout);
      cin = cout;
    }
  }
  bn('head.bn', cin);
  params['dense.W'] = normal([cin, classes], Math.sqrt(1 / cin));
  params['dense.b'] = np.zeros([classes]);
  decayed.push('dense.W');
  return { params, decayed };
}

/** Per-example cross-entropy of the ResNet, [n] (every parameter consumed once, x and y consumed). */
export function resnetLosses(jax: Jax, depth: number) {
  const np = jax.numpy;
  const { lax, nn } = jax;
  const units = (depth - 2) / 6;
  return (p: Params, x: JArray, y: JArray): JArray => {
    const conv = (a: JArray, w: JArray, stride: number) => lax.conv(a, w, [stride, stride], [[1, 1], [1, 1]]);
    const bnRelu = (a: JArray, name: string) => {
      const c = a.shape[1];
      const mean = a.ref.mean([0, 2, 3], { keepdims: true });
      const d = a.sub(mean);
      const variance = d.ref.mul(d.ref).mean([0, 2, 3], { keepdims: true });
      const inv = np.reciprocal(np.sqrt(variance.add(1e-5)));
      return nn.relu(d.mul(inv).mul(p[`${name}.g`].reshape([1, c, 1, 1])).add(p[`${name}.b`].reshape([1, c, 1, 1])));
    };
    let h = bnRelu(conv(x, p.stem, 1), 'stem.bn');
    let cin = 16;
    for (let stage = 0; stage < 3; stage++) {
      const cout = 16 << stage;
      for (let u = 0; u < units; u++) {
        const k = `s${stage}u${u}`;
        const stride = stage > 0 && u === 0 ? 2 : 1;
        const a = stage === 0 && u === 0 ? h.ref : bnRelu(h.ref, `${k}.bn1`);
        const branch = conv(bnRelu(conv(a, p[`${k}.c1`], stride), `${k}.bn2`), p[`${k}.c2`], 1);
        let skip = h;
        if (stride > 1) {
          const [n, c, hh, ww] = skip.shape;
          skip = skip.reshape([n, c, hh / 2, 2, ww / 2, 2]).mean([3, 5]);
        }
        const extra = cout - cin;
        if (extra > 0) skip = np.pad(skip, [[0, 0], [extra >> 1, extra - (extra >> 1)], [0, 0], [0, 0]]);
        h = branch.add(skip);
        cin = cout;
      }
    }
    const pooled = bnRelu(h, 'head.bn').mean([2, 3]);
    const logits = np.matmul(pooled, p['dense.W']).add(p['dense.b']);
    return nn.logSoftmax(logits, -1).mul(y).sum(-1).mul(-1);
  };
}

export interface JaxResnetOptions extends ResnetPeerSpec {
  /** 'l2rw': Algorithm 1 of Ren et al. by double backprop (grad of the validation loss after a look-ahead step, w.r.t. per-example weights). */
  method: 'plain' | 'l2rw';
  /** Clean examples per L2RW step (taken from the training bytes: the cost does not depend on which). */
  cleanBatch?: number;
}

export async function jaxResnetRunner(jax: Jax, s: JaxResnetOptions): Promise<StepRunner & { probe(): Promise<number[]> }> {
  const np = jax.numpy;
  const { train } = s;
  const xAll = np.array(Float32Array.from(train.x, (v) => v / 255)).reshape([train.n, 3, 32, 32]);
  const yAll = jax.nn.oneHot(np.array(Int32Array.from(train.y), { dtype: np.int32 }), s.classes);
  const losses = resnetLosses(jax, s.depth);
  const { params: p0, decayed } = resnetParams(jax, s.depth, s.classes);
  const decay = new Set(decayed);
  const { lr, momentum, weightDecay } = s;
  const B = s.batch;
  const M = s.cleanBatch ?? 10;
  const update = (p: Params, v: Params, g: Params): [Params, Params] => {
    const nv: Params = {};
    const np2: Params = {};
    for (const k of Object.keys(p)) {
      let gk = g[k];
      if (decay.has(k)) gk = gk.add(p[k].ref.mul(weightDecay));
      nv[k] = v[k].mul(momentum).add(gk);
      np2[k] = p[k].sub(nv[k].ref.mul(lr));
    }
    return [np2, nv];
  };
  const meanLoss = (q: Params, x: JArray, y: JArray) => losses(q, x, y).mean();
  const weightedLoss = (q: Params, x: JArray, y: JArray, w: JArray) => losses(q, x, y).mul(w).sum();
  const plainStep = (p: Params, v: Params, xs: JArray, ys: JArray, idx: JArray): [Params, Params] => {
    const x = np.take(xs, idx.ref, 0);
    const y = np.take(ys, idx, 0);
    const g = jax.grad(meanLoss)(jax.tree.ref(p), x, y) as Params;
    return update(p, v, g);
  };
  const l2rwStep = (p: Params, v: Params, xs: JArray, ys: JArray, idx: JArray, cidx: JArray): [Params, Params] => {
    const x = np.take(xs.ref, idx.ref, 0);
    const y = np.take(ys.ref, idx, 0);
    const xc = np.take(xs, cidx.ref, 0);
    const yc = np.take(ys, cidx, 0);
    // Lines 3-10 of Algorithm 1: ε = 0; θ̂ = θ − α ∇θ Σ ε_i l_i(θ); ∇ε of the clean loss at θ̂.
    // ε must reach the inner grad through a closure: passed as a further (non-differentiated)
    // argument of jax.grad, jax-js 0.1.25 drops its outer derivative and ∇ε comes out all zeros
    // (checked against finite differences on ResNet-8), which made this step as cheap as a plain one.
    const gradEps = jax.grad((eps: JArray) => {
      const g = jax.grad((q: Params) => weightedLoss(q, x.ref, y.ref, eps))(jax.tree.ref(p)) as Params;
      const ahead: Params = {};
      for (const k of Object.keys(p)) ahead[k] = p[k].ref.sub(g[k].mul(lr));
      return meanLoss(ahead, xc.ref, yc.ref);
    })(np.zeros([B])) as JArray;
    xc.dispose();
    yc.dispose();
    // Lines 11-12: w = max(−∇ε, 0), normalised to sum 1 (all zero when every entry is clipped).
    const wt = np.maximum(gradEps.mul(-1), 0);
    const total = wt.ref.sum();
    const w = wt.mul(np.where(total.ref.greater(0), np.reciprocal(np.maximum(total, 1e-30)), 0));
    // Lines 13-14: the weighted gradient and the momentum step.
    const g = jax.grad(weightedLoss)(jax.tree.ref(p), x, y, w) as Params;
    return update(p, v, g);
  };
  const plainJit = s.method === 'plain' ? jax.jit(plainStep) : null;
  const l2rwJit = s.method === 'l2rw' ? jax.jit(l2rwStep) : null;
  let params = p0;
  let vel: Params = Object.fromEntries(Object.entries(params).map(([k, a]) => [k, np.zerosLike(a.ref)]));
  let cursor = 0;
  const one = () => {
    if (cursor + B > train.n) cursor = 0;
    const idx = np.array(Int32Array.from({ length: B }, (_, i) => cursor + i), { dtype: np.int32 });
    cursor += B;
    if (plainJit) {
      [params, vel] = plainJit(params, vel, xAll.ref, yAll.ref, idx);
    } else {
      const c0 = (cursor + 7 * B) % Math.max(1, train.n - M);
      const cidx = np.array(Int32Array.from({ length: M }, (_, i) => c0 + i), { dtype: np.int32 });
      [params, vel] = l2rwJit!(params, vel, xAll.ref, yAll.ref, idx, cidx);
    }
  };
  return {
    block: (steps: number) =>
      timeBlock(steps, async () => {
        for (let i = 0; i < steps; i++) one();
        await params['dense.b'].blockUntilReady();
      }),
    probe: async () => Array.from(await params['dense.b'].ref.data()),
    dispose() {
      plainJit?.dispose();
      l2rwJit?.dispose();
      jax.tree.dispose(params);
      jax.tree.dispose(vel);
      xAll.dispose();
      yAll.dispose();
    },
  };
}
