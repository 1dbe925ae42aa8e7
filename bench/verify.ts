// Checks the kernels tuned for the benchmarks at the benchmarks' exact shapes (LeNet at batch 100,
// and the validation batch of 10) against the float64 references of test/reference: the unit tests
// use small shapes, where a grid-stride loop runs once and a block never crosses a plane.
//   npx vite-node bench/verify.ts
import { Gpu } from '../src/gpu/gpu';
import { Conv2dBackwardData } from '../src/kernels/conv2d_backward_data';
import { Conv2dBackwardFilter } from '../src/kernels/conv2d_backward_filter';
import { Conv2dForward, conv2dOutputShape, type Conv2dShape } from '../src/kernels/conv2d_forward';
import { runDispatches } from '../src/kernels/kernel';
import { MaxPoolBackward } from '../src/kernels/maxpool_backward';
import { MaxPoolForward } from '../src/kernels/maxpool_forward';
import { Rng } from '../src/util/rng';
import { conv2dBackwardDataRef, conv2dBackwardFilterRef, conv2dForwardRef } from '../test/reference/conv2d';
import { maxpoolBackwardRef, maxpoolForwardRef } from '../test/reference/maxpool';

let failures = 0;

function check(label: string, got: Float32Array, want: ArrayLike<number>, dot: number): void {
  // fp32 sums of `dot` terms of unit-scale normals: atol grows with sqrt(dot), rtol 1e-4.
  const atol = 4 * Math.sqrt(dot) * 2 ** -23 * 8;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) - (atol + 1e-4 * Math.abs(want[i]));
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Infinity : err;
      at = i;
    }
  }
  const guard = got[want.length];
  const ok = at < 0 && guard === 12345;
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}${at >= 0 ? ` (element ${at}: ${got[at]} vs ${want[at]})` : ''}${guard !== 12345 ? ` (guard overwritten: ${guard})` : ''}`);
}

async function main(): Promise<void> {
  const gpu = await Gpu.create();
  const rng = new Rng(99);
  const guarded = (n: number) => {
    const a = new Float32Array(n + 1).fill(-777);
    a[n] = 12345;
    return gpu.upload('out', a);
  };
  const fwd = await Conv2dForward.create(gpu, { epilogue: 'bias' });
  const bwd = await Conv2dBackwardData.create(gpu);
  const filt = await Conv2dBackwardFilter.create(gpu, { exWeights: true });
  const shapes: Conv2dShape[] = [
    { N: 100, C: 1, H: 28, W: 28, K: 20, R: 5, S: 5, stride: 1, pad: 0 },
    { N: 100, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 },
    { N: 10, C: 20, H: 12, W: 12, K: 50, R: 5, S: 5, stride: 1, pad: 0 },
    { N: 10, C: 1, H: 28, W: 28, K: 20, R: 5, S: 5, stride: 1, pad: 0 },
    { N: 33, C: 6, H: 14, W: 14, K: 16, R: 5, S: 5, stride: 1, pad: 2 },
    { N: 17, C: 3, H: 15, W: 13, K: 7, R: 3, S: 3, stride: 2, pad: 1 },
  ];
  for (const s of shapes) {
    const { P, Q } = conv2dOutputShape(s);
    const nx = s.N * s.C * s.H * s.W;
    const ny = s.N * s.K * P * Q;
    const nw = s.K * s.C * s.R * s.S;
    const x = rng.normals(nx);
    const w = rng.normals(nw);
    const b = rng.normals(s.K);
    const dy = rng.normals(ny);
    const ex = Float32Array.from({ length: s.N }, (_, i) => (i % 3 === 0 ? 0 : rng.next()));
    const [bx, bw, bb, bdy, bex] = [x, w, b, dy, ex].map((a) => gpu.upload('in', a));
    const by = guarded(ny);
    const bdx = guarded(nx);
    const bdw = guarded(nw);
    runDispatches(gpu, [fwd.plan(bx, bw, bb, by, s), bwd.plan(bdy, bw, bdx, s), filt.plan(bx, bdy, bex, bdw, s)]);
    const name = `N${s.N} C${s.C} ${s.H}x${s.W} K${s.K} ${s.R}x${s.S} stride ${s.stride} pad ${s.pad}`;
    check(`conv fwd      ${name}`, await gpu.readF32(by, ny + 1), conv2dForwardRef(x, w, b, s, 'bias'), s.C * s.R * s.S);
    check(`conv bwd-data ${name}`, await gpu.readF32(bdx, nx + 1), conv2dBackwardDataRef(dy, w, s), s.K * s.R * s.S);
    check(`conv filter   ${name}`, await gpu.readF32(bdw, nw + 1), conv2dBackwardFilterRef(x, dy, s, ex), s.N * P * Q);
    for (const buf of [bx, bw, bb, bdy, bex, by, bdx, bdw]) gpu.destroy(buf);
  }
  const pf = await MaxPoolForward.create(gpu);
  const pb = await MaxPoolBackward.create(gpu);
  for (const [N, C, H, W] of [
    [100, 20, 24, 24],
    [100, 50, 8, 8],
    [300, 50, 9, 7],
  ]) {
    const P = Math.floor(H / 2);
    const Q = Math.floor(W / 2);
    const nx = N * C * H * W;
    const ny = N * C * P * Q;
    const x = rng.normals(nx);
    const dy = rng.normals(ny);
    const bx = gpu.upload('x', x);
    const bdy = gpu.upload('dy', dy);
    const by = guarded(ny);
    const barg = guarded(ny);
    const bdx = guarded(nx);
    runDispatches(gpu, [pf.plan(bx, by, barg, { N, C, H, W }), pb.plan(bdy, barg, bdx, { N, C, H, W })]);
    const ref = maxpoolForwardRef(x, N, C, H, W);
    check(`maxpool fwd [${N},${C},${H},${W}]`, await gpu.readF32(by, ny + 1), ref.y, 1);
    const arg = new Uint32Array((await gpu.readF32(barg, ny + 1)).buffer);
    const argOk = ref.argmax.every((v, i) => v === arg[i]);
    if (!argOk) failures++;
    console.log(`${argOk ? 'ok  ' : 'FAIL'} maxpool argmax [${N},${C},${H},${W}]`);
    check(`maxpool bwd [${N},${C},${H},${W}]`, await gpu.readF32(bdx, nx + 1), maxpoolBackwardRef(dy, ref.argmax, N, C, H, W), 1);
    for (const buf of [bx, bdy, by, barg, bdx]) gpu.destroy(buf);
  }
  console.log(failures ? `${failures} FAILED` : 'all ok');
  process.exitCode = failures ? 1 : 0;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
