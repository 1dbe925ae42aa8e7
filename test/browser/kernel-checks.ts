// Kernel checks that run inside Chromium (demo/kernel-checks.html), against the same float64
// references and with the same tolerances as the Node suites in test/kernels/ and test/train/, on
// smaller shapes (the browser's software adapter, SwiftShader, is slow). Each group returns a list
// of labelled results; the vitest harness (kernels.test.ts) fails on any result that is not ok.
import type { BufferRef, Gpu } from '../../src/gpu/gpu';
import { ColumnSums } from '../../src/kernels/column_sums';
import { Conv2dBackwardData } from '../../src/kernels/conv2d_backward_data';
import { Conv2dBackwardFilter } from '../../src/kernels/conv2d_backward_filter';
import { Conv2dBiasGrad } from '../../src/kernels/conv2d_bias_grad';
import { Conv2dForward, conv2dOutputShape, type Conv2dEpilogue, type Conv2dShape } from '../../src/kernels/conv2d_forward';
import { Dot } from '../../src/kernels/dot';
import { runDispatches } from '../../src/kernels/kernel';
import { Matmul, type MatmulOptions } from '../../src/kernels/matmul';
import { MaxPoolBackward } from '../../src/kernels/maxpool_backward';
import { MaxPoolForward, maxpoolOutputShape, type MaxPoolShape } from '../../src/kernels/maxpool_forward';
import { ReduceSum } from '../../src/kernels/reduce_sum';
import { ReluBackward } from '../../src/kernels/relu_backward';
import { RowDots } from '../../src/kernels/row_dots';
import { SgdMomentum, type SgdHyperparams } from '../../src/kernels/sgd_momentum';
import { SoftmaxXent } from '../../src/kernels/softmax_xent';
import { mlpSpec, numClasses, size3 } from '../../src/train/spec';
import { Trainer } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { compareClose, type Tolerance } from '../helpers/compare';
import { conv2dBackwardDataRef, conv2dBackwardFilterRef, conv2dBiasGradRef, conv2dForwardRef } from '../reference/conv2d';
import { alignments, initParams, l2rwStep } from '../reference/l2rw';
import { matmulRef } from '../reference/matmul';
import { maxpoolBackwardRef, maxpoolForwardRef } from '../reference/maxpool';
import { columnSumsRef, dotRef, rowDotsRef, sumRef } from '../reference/reductions';
import { reluBackwardRef, reluRef } from '../reference/relu';
import { sgdMomentumRef } from '../reference/sgd';
import { softmaxXentRef } from '../reference/softmax_xent';
import type { CheckGroup, CheckResult } from './check-groups';
import { tinyConv as TINY_CONV } from '../helpers/specs';

const GUARD = 42;
const STALE = -777;

/** Collects labelled results; a check never throws on a mismatch, so every case gets reported. */
class Report {
  readonly results: CheckResult[] = [];
  close(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): void {
    const r = compareClose(got, want, tol);
    this.results.push({ label, ok: r.ok, message: r.message });
  }
  equal(label: string, got: unknown, want: unknown): void {
    const ok = Object.is(got, want) || JSON.stringify(got) === JSON.stringify(want);
    this.results.push({ label, ok, message: ok ? 'ok' : `got ${String(got)}, expected ${String(want)}` });
  }
  that(label: string, ok: boolean, detail = ''): void {
    this.results.push({ label, ok, message: ok ? 'ok' : detail || 'failed' });
  }
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** count stale floats and one guard element after them. */
function guarded(gpu: Gpu, label: string, count: number, u32 = false): GPUBuffer {
  const init = u32 ? new Uint32Array(count + 1).fill(0xdeadbeef) : new Float32Array(count + 1).fill(STALE);
  init[count] = GUARD;
  return gpu.upload(label, init);
}

async function readGuarded(gpu: Gpu, rep: Report, buf: GPUBuffer, count: number, what: string): Promise<Float32Array> {
  const got = await gpu.readF32(buf, count + 1);
  rep.equal(`${what}: guard past the end`, got[count], GUARD);
  return got.subarray(0, count);
}

// ---- matmul (test/kernels/matmul.test.ts) --------------------------------------------------------

async function matmul(gpu: Gpu, rep: Report): Promise<void> {
  // Same tolerance as the Node test: fp32 rounding of k-term sums grows like sqrt(k).
  const tolerance = (k: number, maxTerm: number) => ({ atol: 4 * Math.sqrt(k) * maxTerm * 2 ** -23, rtol: 1e-5 });
  const shapes = [
    { m: 1, n: 1, k: 1 },
    { m: 7, n: 33, k: 100 },
    { m: 33, n: 7, k: 65 },
    { m: 37, n: 45, k: 1 },
    { m: 100, n: 257, k: 33 },
    // Past 64 rows and columns, so several workgroups and partial edge blocks are exercised.
    { m: 65, n: 63, k: 129 },
  ];
  let vi = 0;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const epilogue of ['none', 'bias', 'bias_relu'] as const) {
        // Half the variants with the per-k scale, alternating, so both paths run in every layout.
        const opts: MatmulOptions = { transA, transB, epilogue, kScale: vi % 2 === 1 };
        const name = `tA=${+transA} tB=${+transB} ${epilogue}${opts.kScale ? ' kScale' : ''}`;
        const mm = await Matmul.create(gpu, opts);
        for (const [si, shape] of shapes.entries()) {
          const { m, n, k } = shape;
          const rng = new Rng(1000 * vi + si);
          const a = rng.normals(m * k);
          const b = rng.normals(k * n);
          const bias = rng.normals(n);
          const kscale = new Float32Array(k).map(() => rng.uniform(0, 2));
          const usesBias = epilogue !== 'none';
          const cInit = new Float32Array(m * n + 1).fill(-77);
          cInit[m * n] = GUARD;
          const bufs = [gpu.upload('a', a), gpu.upload('b', b), gpu.upload('c', cInit)];
          const bbias = usesBias ? gpu.upload('bias', bias) : undefined;
          const bscale = opts.kScale ? gpu.upload('kscale', kscale) : undefined;
          runDispatches(gpu, [mm.plan(bufs[0], bufs[1], bufs[2], shape, { bias: bbias, kscale: bscale })]);
          const got = await gpu.readF32(bufs[2], m * n + 1);
          for (const buf of [...bufs, bbias, bscale]) if (buf) gpu.destroy(buf);
          const ref = matmulRef(a, b, shape, { transA, transB, bias: usesBias ? bias : undefined, relu: epilogue === 'bias_relu', kscale: opts.kScale ? kscale : undefined });
          const tol = tolerance(k, maxAbs(a) * maxAbs(b) * (opts.kScale ? maxAbs(kscale) : 1));
          rep.close(`${name} ${m}x${n}x${k}`, got.subarray(0, m * n), ref, tol);
          rep.equal(`${name} ${m}x${n}x${k} guard`, got[m * n], GUARD);
        }
        vi++;
      }
    }
  }
}

// ---- conv2d (test/kernels/conv2d.test.ts) --------------------------------------------------------

async function conv2d(gpu: Gpu, rep: Report): Promise<void> {
  const tol = (dotLength: number, mag: number): Tolerance => ({ atol: 8 * Math.sqrt(dotLength) * mag * 2 ** -23, rtol: 1e-4 });
  const cases: { name: string; shape: Conv2dShape; epilogues: Conv2dEpilogue[] }[] = [
    { name: 'pad 1, C=3', shape: { N: 2, C: 3, H: 7, W: 7, K: 4, R: 3, S: 3, stride: 1, pad: 1 }, epilogues: ['bias', 'bias_relu'] },
    { name: 'stride 2, pad 1, H!=W', shape: { N: 3, C: 3, H: 9, W: 12, K: 5, R: 3, S: 3, stride: 2, pad: 1 }, epilogues: [] },
    { name: 'stride 2, pad 2, R!=S, K=33', shape: { N: 2, C: 3, H: 10, W: 7, K: 33, R: 5, S: 3, stride: 2, pad: 2 }, epilogues: ['bias'] },
    { name: 'stride 3, R=2 S=4, C=5', shape: { N: 2, C: 5, H: 11, W: 9, K: 7, R: 2, S: 4, stride: 3, pad: 0 }, epilogues: [] },
    { name: 'filter = padded input', shape: { N: 2, C: 2, H: 3, W: 4, K: 3, R: 5, S: 6, stride: 1, pad: 1 }, epilogues: [] },
    { name: 'LeNet conv1, N=3', shape: { N: 3, C: 1, H: 28, W: 28, K: 20, R: 5, S: 5, stride: 1, pad: 0 }, epilogues: ['bias_relu'] },
    { name: 'LeNet conv2, N=3', shape: { N: 3, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 }, epilogues: ['bias_relu'] },
  ];
  for (const { name, shape: sh, epilogues } of cases) {
    const rng = new Rng(sh.N * 1000 + sh.C * 100 + sh.K);
    const { P, Q } = conv2dOutputShape(sh);
    const nx = sh.N * sh.C * sh.H * sh.W;
    const nw = sh.K * sh.C * sh.R * sh.S;
    const ny = sh.N * sh.K * P * Q;
    const x = rng.normals(nx);
    const w = rng.normals(nw, 0.5);
    const bias = rng.normals(sh.K);
    const dy = rng.normals(ny);
    // Example weights in [0, 2) with every third one exactly 0.
    const ex = Float32Array.from({ length: sh.N }, (_, n) => (n % 3 === 1 ? 0 : 2 * rng.next()));
    const bufs: GPUBuffer[] = [];
    const up = (l: string, d: Float32Array) => (bufs.push(gpu.upload(l, d)), bufs.at(-1)!);
    const out = (l: string, n: number) => (bufs.push(guarded(gpu, l, n)), bufs.at(-1)!);
    const [bx, bw, bb, bdy, bex] = [up('x', x), up('w', w), up('bias', bias), up('dy', dy), up('ex', ex)];
    const crs = sh.C * sh.R * sh.S;
    for (const epi of ['none', ...epilogues] as Conv2dEpilogue[]) {
      const conv = await Conv2dForward.create(gpu, { epilogue: epi });
      const by = out(`y.${epi}`, ny);
      runDispatches(gpu, [conv.plan(bx, bw, epi === 'none' ? null : bb, by, sh)]);
      const got = await readGuarded(gpu, rep, by, ny, `${name} forward ${epi}`);
      const ref = conv2dForwardRef(x, w, epi === 'none' ? null : bias, sh, epi);
      rep.close(`${name} forward ${epi}`, got, ref, tol(crs + 1, Math.max(maxAbs(x) * maxAbs(w), maxAbs(bias))));
    }
    const bdx = out('dx', nx);
    runDispatches(gpu, [(await Conv2dBackwardData.create(gpu)).plan(bdy, bw, bdx, sh)]);
    rep.close(`${name} backward data`, await readGuarded(gpu, rep, bdx, nx, `${name} backward data`), conv2dBackwardDataRef(dy, w, sh), tol(sh.K * sh.R * sh.S, maxAbs(dy) * maxAbs(w)));
    for (const weighted of [false, true]) {
      const e = weighted ? ex : null;
      const tag = weighted ? 'weighted' : 'plain';
      const bdw = out(`dw.${tag}`, nw);
      const bdb = out(`db.${tag}`, sh.K);
      const filt = await Conv2dBackwardFilter.create(gpu, { exWeights: weighted });
      const bgrad = await Conv2dBiasGrad.create(gpu, { exWeights: weighted });
      runDispatches(gpu, [filt.plan(bx, bdy, weighted ? bex : null, bdw, sh), bgrad.plan(bdy, weighted ? bex : null, bdb, sh)]);
      const eMax = weighted ? maxAbs(ex) : 1;
      rep.close(
        `${name} backward filter ${tag}`,
        await readGuarded(gpu, rep, bdw, nw, `${name} backward filter ${tag}`),
        conv2dBackwardFilterRef(x, dy, sh, e),
        tol(sh.N * P * Q, maxAbs(dy) * maxAbs(x) * eMax),
      );
      rep.close(`${name} bias grad ${tag}`, await readGuarded(gpu, rep, bdb, sh.K, `${name} bias grad ${tag}`), conv2dBiasGradRef(dy, sh, e), tol(sh.N * P * Q, maxAbs(dy) * eMax));
    }
    for (const b of bufs) gpu.destroy(b);
  }
}

// ---- max pooling (test/kernels/maxpool.test.ts) --------------------------------------------------

async function maxpool(gpu: Gpu, rep: Report): Promise<void> {
  // Pooling and its gradient only copy values: exact.
  const EXACT = { atol: 0, rtol: 0 };
  type Fill = 'normal' | 'ties' | 'negative' | 'constant';
  const input = (rng: Rng, n: number, fill: Fill): Float32Array => {
    if (fill === 'normal') return rng.normals(n);
    if (fill === 'ties') return Float32Array.from({ length: n }, () => rng.int(3) - 1);
    if (fill === 'negative') return rng.normals(n).map((v) => -Math.abs(v) - 1);
    return new Float32Array(n).fill(-2.5);
  };
  const cases: { shape: MaxPoolShape; fill: Fill }[] = [
    { shape: { N: 1, C: 1, H: 3, W: 2 }, fill: 'normal' },
    { shape: { N: 2, C: 3, H: 7, W: 7 }, fill: 'ties' },
    { shape: { N: 2, C: 2, H: 5, W: 8 }, fill: 'constant' },
    { shape: { N: 3, C: 4, H: 6, W: 11 }, fill: 'negative' },
    { shape: { N: 3, C: 20, H: 24, W: 24 }, fill: 'normal' }, // LeNet pool1
    { shape: { N: 3, C: 50, H: 8, W: 8 }, fill: 'normal' }, // LeNet pool2
  ];
  const fwd = await MaxPoolForward.create(gpu);
  const bwd = await MaxPoolBackward.create(gpu);
  for (const { shape, fill } of cases) {
    const { N, C, H, W } = shape;
    const name = `x[${N},${C},${H},${W}] ${fill}`;
    const rng = new Rng(N * 1000 + C * 100 + H * 10 + W);
    const { P, Q } = maxpoolOutputShape(shape);
    const nx = N * C * H * W;
    const ny = N * C * P * Q;
    const x = input(rng, nx, fill);
    const dy = rng.normals(ny);
    const bx = gpu.upload('x', x);
    const bdy = gpu.upload('dy', dy);
    const by = guarded(gpu, 'y', ny);
    const barg = guarded(gpu, 'argmax', ny, true);
    const bdx = guarded(gpu, 'dx', nx);
    runDispatches(gpu, [fwd.plan(bx, by, barg, shape), bwd.plan(bdy, barg, bdx, shape)]);
    const ref = maxpoolForwardRef(x, N, C, H, W);
    const y = await gpu.readF32(by, ny + 1);
    const argmax = await gpu.readU32(barg, ny + 1);
    const dx = await gpu.readF32(bdx, nx + 1);
    rep.equal(`${name} guards`, [y[ny], argmax[ny], dx[nx]], [GUARD, GUARD, GUARD]);
    rep.close(`${name} y`, y.subarray(0, ny), ref.y, EXACT);
    rep.equal(`${name} argmax`, Array.from(argmax.subarray(0, ny)), Array.from(ref.argmax));
    rep.close(`${name} dx`, dx.subarray(0, nx), maxpoolBackwardRef(dy, ref.argmax, N, C, H, W), EXACT);
    for (const b of [bx, bdy, by, barg, bdx]) gpu.destroy(b);
  }
}

// ---- ReLU backward (test/kernels/relu.test.ts) ---------------------------------------------------

async function reluBackward(gpu: Gpu, rep: Report): Promise<void> {
  const EXACT = { atol: 0, rtol: 0 };
  const relu = await ReluBackward.create(gpu);
  for (const n of [1, 33, 257, 70_001]) {
    for (const inPlace of [false, true]) {
      const name = `n=${n} ${inPlace ? 'in place' : 'out of place'}`;
      const rng = new Rng(n + (inPlace ? 1 : 0));
      // About a tenth of the pre-activations exactly 0 (the kink, where the gradient is taken as 0).
      const y = Float32Array.from(reluRef(rng.normals(n).map((v, i) => (i % 10 === 3 ? 0 : v))));
      const dy = rng.normals(n);
      dy[0] = Infinity; // behind a dead unit this must still give 0, not NaN
      y[0] = 0;
      const withGuard = (d: Float32Array) => {
        const a = new Float32Array(n + 1);
        a.set(d);
        a[n] = GUARD;
        return a;
      };
      const by = gpu.upload('y', y);
      const bdy = gpu.upload('dy', withGuard(dy));
      const bdx = inPlace ? bdy : gpu.upload('dx', withGuard(new Float32Array(n).fill(STALE)));
      runDispatches(gpu, [relu.plan(by, bdy, bdx, n)]);
      const got = await gpu.readF32(bdx, n + 1);
      rep.equal(`${name} guard`, got[n], GUARD);
      rep.close(name, got.subarray(0, n), reluBackwardRef(y, dy), EXACT);
      if (!inPlace) rep.equal(`${name} leaves dy alone`, Array.from(await gpu.readF32(bdy, n)), Array.from(dy));
      for (const b of new Set([by, bdy, bdx])) gpu.destroy(b);
    }
  }
}

// ---- softmax cross-entropy (test/kernels/softmax_xent.test.ts) -----------------------------------

async function softmaxXent(gpu: Gpu, rep: Report): Promise<void> {
  const TOL = { atol: 1e-6, rtol: 1e-5 };
  const xent = await SoftmaxXent.create(gpu);
  const run = async (name: string, n: number, k: number, logits: Float32Array, labels: Uint32Array, weights: Float32Array) => {
    const bl = gpu.upload('logits', logits);
    const by = gpu.upload('labels', labels);
    const bw = gpu.upload('ex_weight', weights);
    const bloss = gpu.upload('loss', new Float32Array(n + 1).fill(GUARD));
    const bd = gpu.upload('dlogits', new Float32Array(n * k + 1).fill(GUARD));
    runDispatches(gpu, [xent.plan(bl, by, bw, bloss, bd, n, k)]);
    const loss = await gpu.readF32(bloss, n + 1);
    const dlogits = await gpu.readF32(bd, n * k + 1);
    for (const b of [bl, by, bw, bloss, bd]) gpu.destroy(b);
    rep.equal(`${name} guards`, [loss[n], dlogits[n * k]], [GUARD, GUARD]);
    const ref = softmaxXentRef(logits, labels, weights, n, k);
    rep.close(`${name} loss`, loss.subarray(0, n), ref.loss, TOL);
    rep.close(`${name} dlogits`, dlogits.subarray(0, n * k), ref.dlogits, TOL);
    let zeroRowsOk = true;
    for (let i = 0; i < n; i++) if (weights[i] === 0 && !dlogits.subarray(i * k, (i + 1) * k).every((d) => d === 0)) zeroRowsOk = false;
    rep.that(`${name} zero-weight rows have zero gradient`, zeroRowsOk);
  };
  const randomCase = (n: number, k: number, scale: number, seed: number) => {
    const rng = new Rng(seed);
    const logits = rng.normals(n * k, scale);
    const labels = new Uint32Array(n).map(() => rng.int(k));
    const weights = new Float32Array(n).map((_, i) => (i % 3 === 1 ? 0 : 2 * rng.next()));
    return { logits, labels, weights, rng };
  };
  for (const k of [1, 2, 10, 1000]) {
    for (const n of [1, 7, 33, 257]) {
      const c = randomCase(n, k, 3, 1000 * k + n);
      await run(`n=${n} k=${k}`, n, k, c.logits, c.labels, c.weights);
    }
  }
  // Large-magnitude logits (uniform in ±80) must stay finite and accurate.
  for (const k of [2, 10]) {
    const n = 33;
    const c = randomCase(n, k, 1, 7 + k);
    const rng = new Rng(99 + k);
    for (let i = 0; i < c.logits.length; i++) c.logits[i] = rng.uniform(-80, 80);
    c.logits[0] = -80;
    c.logits[1] = 80;
    c.labels[0] = 0;
    await run(`±80 logits k=${k}`, n, k, c.logits, c.labels, c.weights);
  }
}

// ---- reductions (test/kernels/reductions.test.ts) ------------------------------------------------

async function reductions(gpu: Gpu, rep: Report): Promise<void> {
  const U = 2 ** -24;
  // ~u·sqrt(len)·‖terms‖₂ with headroom 4, as in the Node test.
  const sumTol = (len: number, norm2: number): Tolerance => ({ atol: 4 * U * Math.sqrt(Math.max(len, 1)) * norm2, rtol: 1e-6 });
  const norm2 = (v: Iterable<number>) => {
    let s = 0;
    for (const x of v) s += x * x;
    return Math.sqrt(s);
  };
  const products = (a: Float32Array, b: Float32Array) => Array.from(a, (v, i) => v * b[i]);
  // Inputs bound 256 bytes into a buffer padded with a huge value: reading outside shows.
  const POISON = 1e6;
  const atOffset = (label: string, data: Float32Array): BufferRef => {
    const pad = 64;
    const all = new Float32Array(pad + data.length + pad).fill(POISON);
    all.set(data, pad);
    return { buffer: gpu.upload(label, all), offset: 256, size: (data.length + pad) * 4 };
  };
  const outWithGuard = (label: string, n: number, init: ArrayLike<number> | number) => {
    const a = new Float32Array(n + 1);
    if (typeof init === 'number') a.fill(init);
    else a.set(init);
    a[n] = GUARD;
    return gpu.upload(label, a);
  };

  for (const n of [0, 1, 257, 100_003]) {
    const rng = new Rng(n + 2);
    const x = rng.normals(n);
    const y = rng.normals(n);
    const sumOut = outWithGuard('sum', 1, -7);
    const dotOut = outWithGuard('dot', 1, -7);
    runDispatches(gpu, [
      (await ReduceSum.create(gpu)).plan(atOffset('x', x), sumOut, n),
      (await Dot.create(gpu)).plan(atOffset('x', x), atOffset('y', y), dotOut, n),
    ]);
    const s = await gpu.readF32(sumOut, 2);
    const d = await gpu.readF32(dotOut, 2);
    rep.close(`reduce_sum n=${n}`, [s[0]], [sumRef(x)], sumTol(n, norm2(x)));
    rep.close(`dot n=${n}`, [d[0]], [dotRef(x, y)], sumTol(n, norm2(products(x, y))));
    rep.equal(`reduce_sum/dot n=${n} guards`, [s[1], d[1]], [GUARD, GUARD]);
  }

  const shapes: [number, number][] = [
    [1, 1],
    [7, 33],
    [100, 10],
    [33, 257],
    [100, 11520],
  ];
  for (const [rows, cols] of shapes) {
    for (const weighted of [false, true]) {
      for (const accumulate of [false, true]) {
        const name = `column_sums ${rows}x${cols}${weighted ? ' weighted' : ''}${accumulate ? ' accumulate' : ''}`;
        const rng = new Rng(rows * 7919 + cols);
        const x = rng.normals(rows * cols);
        const w = weighted ? new Float32Array(rows).map((_, r) => (r % 3 === 1 ? 0 : 2 * rng.next())) : undefined;
        const initial = accumulate ? rng.normals(cols) : new Float32Array(cols).fill(-7);
        const out = outWithGuard('out', cols, initial);
        const kernel = await ColumnSums.create(gpu, { rowWeights: weighted, accumulate });
        runDispatches(gpu, [kernel.plan(atOffset('x', x), out, rows, cols, w && atOffset('w', w))]);
        const got = await gpu.readF32(out, cols + 1);
        const ref = columnSumsRef(x, rows, cols, w);
        if (accumulate) for (let c = 0; c < cols; c++) ref[c] += initial[c];
        rep.close(name, got.subarray(0, cols), ref, sumTol(rows + 1, 2 * Math.sqrt(rows) + 4));
        rep.equal(`${name} guard`, got[cols], GUARD);
      }
    }
    for (const accumulate of [false, true]) {
      const name = `row_dots ${rows}x${cols}${accumulate ? ' accumulate' : ''}`;
      const rng = new Rng(rows * 31 + cols);
      const a = rng.normals(rows * cols);
      const b = rng.normals(rows * cols);
      const initial = accumulate ? rng.normals(rows) : new Float32Array(rows).fill(-7);
      const out = outWithGuard('out', rows, initial);
      runDispatches(gpu, [(await RowDots.create(gpu, { accumulate })).plan(atOffset('a', a), atOffset('b', b), out, rows, cols)]);
      const got = await gpu.readF32(out, rows + 1);
      const ref = rowDotsRef(a, b, rows, cols);
      if (accumulate) for (let r = 0; r < rows; r++) ref[r] += initial[r];
      let worst = 0;
      for (let r = 0; r < rows; r++) worst = Math.max(worst, norm2(products(a.subarray(r * cols, (r + 1) * cols), b.subarray(r * cols, (r + 1) * cols))));
      rep.close(name, got.subarray(0, rows), ref, sumTol(cols + 1, worst + 4));
      rep.equal(`${name} guard`, got[rows], GUARD);
    }
  }
  gpu.destroyAll();
}

// ---- SGD with momentum (test/kernels/sgd.test.ts) ------------------------------------------------

async function sgdMomentum(gpu: Gpu, rep: Report): Promise<void> {
  const TOL = { atol: 4e-6, rtol: 1e-6 };
  const sgd = await SgdMomentum.create(gpu);
  const withGuard = (d: Float32Array) => {
    const a = new Float32Array(d.length + 1);
    a.set(d);
    a[d.length] = GUARD;
    return a;
  };
  for (const n of [1, 33, 1000]) {
    const rng = new Rng(n + 17);
    const p0 = rng.normals(n);
    const bp = gpu.upload('p', withGuard(p0));
    const bv = gpu.upload('v', withGuard(new Float32Array(n)));
    const bg = gpu.buffer('g', 4 * n);
    const hp: SgdHyperparams = { lr: 0.1, momentum: 0.9, weightDecay: 5e-3 };
    const step = sgd.plan(bp, bv, bg, n, hp);
    const p = Float64Array.from(p0);
    const v = new Float64Array(n);
    const lrs = [0.1, 0.1, 0.03];
    for (let s = 0; s < 3; s++) {
      const g = rng.normals(n);
      gpu.write(bg, g);
      if (lrs[s] !== hp.lr) step.setUniforms(SgdMomentum.uniforms(n, { ...hp, lr: lrs[s] }));
      runDispatches(gpu, [step]);
      sgdMomentumRef(p, v, g, { ...hp, lr: lrs[s] });
      const gotP = await gpu.readF32(bp, n + 1);
      const gotV = await gpu.readF32(bv, n + 1);
      rep.close(`n=${n} p after step ${s + 1}`, gotP.subarray(0, n), p, TOL);
      rep.close(`n=${n} v after step ${s + 1}`, gotV.subarray(0, n), v, TOL);
      rep.equal(`n=${n} guards after step ${s + 1}`, [gotP[n], gotV[n]], [GUARD, GUARD]);
    }
    for (const b of [bp, bv, bg]) gpu.destroy(b);
  }
  // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1), p = 1, grad 0.5 twice: p 0.94 then 0.8266.
  const bp = gpu.upload('p', new Float32Array([1]));
  const bv = gpu.upload('v', new Float32Array([0]));
  const bg = gpu.upload('g', new Float32Array([0.5]));
  const step = sgd.plan(bp, bv, bg, 1, { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
  runDispatches(gpu, [step]);
  rep.close('PyTorch convention: p after one step', await gpu.readF32(bp, 1), [0.94], { atol: 1e-7, rtol: 1e-6 });
  runDispatches(gpu, [step]);
  rep.close('PyTorch convention: v after two steps', await gpu.readF32(bv, 1), [1.134], { atol: 1e-7, rtol: 1e-6 });
  rep.close('PyTorch convention: p after two steps', await gpu.readF32(bp, 1), [0.8266], { atol: 1e-7, rtol: 1e-6 });
  for (const b of [bp, bv, bg]) gpu.destroy(b);
}

// ---- one whole L2RW step (test/train/l2rw_step.test.ts) ------------------------------------------


async function l2rwStepCheck(gpu: Gpu, rep: Report): Promise<void> {
  const SGD = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };
  for (const [spec, n, m] of [
    [mlpSpec(5, [7, 3], 3), 9, 4],
    [TINY_CONV, 7, 3],
  ] as const) {
    const rng = new Rng(23);
    const d = size3(spec.input);
    const K = numClasses(spec);
    const theta = Float32Array.from(initParams(spec, rng, { biasStd: 0.1 }));
    const Xf = rng.normals(n * d);
    const yf = Uint32Array.from({ length: n }, () => rng.int(K));
    const Xg = rng.normals(m * d);
    const yg = Uint32Array.from({ length: m }, () => rng.int(K));
    const t = await Trainer.create(
      gpu,
      spec,
      { train: { x: Xf, y: yf, n, dim: d }, clean: { x: Xg, y: yg, n: m, dim: d } },
      { method: 'l2rw', steps: 100, batch: n, valBatch: m, seed: 5, logEvery: 1000, ...SGD },
      { params: theta },
    );
    try {
      await t.trainStep();
      const b = await t.inspectLastBatch();
      // The training rows in the order the GPU's minibatch took them.
      const X = new Float32Array(n * d);
      b.indices.forEach((j, i) => X.set(Xf.subarray(j * d, (j + 1) * d), i * d));
      const y = Uint32Array.from(b.indices, (j) => yf[j]);
      const name = spec.name;
      const sRef = alignments(spec, theta, X, y, Xg, yg);
      rep.close(`${name} alignments s_i`, b.alignments!, sRef, { atol: 1e-4 * maxAbs(sRef), rtol: 1e-3 });
      const ref = l2rwStep(spec, theta, new Float64Array(theta.length), X, y, Xg, yg, SGD);
      const margin = 1e-3 * maxAbs(ref.s);
      rep.that(`${name}: no alignment too close to 0 to compare weights`, Array.from(ref.s).every((s) => Math.abs(s) > margin));
      rep.close(`${name} weights w`, b.weights, ref.w, { atol: 1e-5, rtol: 1e-3 });
      const theta1 = await t.model.readParams();
      const dGpu = theta1.map((v, i) => v - theta[i]);
      const dRef = ref.theta.map((v, i) => v - theta[i]);
      rep.close(`${name} Δθ`, dGpu, dRef, { atol: 1e-4 * maxAbs(dRef), rtol: 1e-3 });
      const v1 = await t.model.readVelocity();
      rep.close(`${name} velocity`, v1, ref.velocity, { atol: 1e-4 * maxAbs(ref.velocity), rtol: 1e-3 });
    } finally {
      t.destroy();
    }
  }
}

const GROUPS: Record<CheckGroup, (gpu: Gpu, rep: Report) => Promise<void>> = {
  matmul,
  conv2d,
  maxpool,
  relu_backward: reluBackward,
  softmax_xent: softmaxXent,
  reductions,
  sgd_momentum: sgdMomentum,
  l2rw_step: l2rwStepCheck,
};

/** Runs one group; an exception becomes a failed result, so the harness always gets a report. */
export async function runGroup(gpu: Gpu, group: CheckGroup): Promise<CheckResult[]> {
  const rep = new Report();
  const fn = GROUPS[group];
  if (!fn) return [{ label: group, ok: false, message: `unknown check group "${group}"` }];
  try {
    await fn(gpu, rep);
  } catch (e) {
    rep.results.push({ label: `${group}: exception`, ok: false, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
  if (rep.results.length === 0) rep.that(`${group}: ran no checks`, false);
  return rep.results;
}
