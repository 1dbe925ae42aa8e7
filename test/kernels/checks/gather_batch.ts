// The minibatch gather: plain (u8 and f32, by index and sequential) exactly against the host copy, and
// the image transforms (random crop with zero padding, horizontal flip, per-channel normalisation)
// against their host twin augmentSource, plus the distribution of the random draws.
import { augmentSource, GatherBatch, normalizationTable, wordsPerExample, type GatherVariant } from '../../../src/kernels/gather_batch';
import { runDispatches } from '../../../src/kernels/kernel';
import { Rng } from '../../../src/util/rng';
import { assert, assertClose, assertEqual, cpuCheck, gpuCheck, type CheckGroup } from './check';
import type { Scratch } from './check';
import type { Gpu } from '../../../src/gpu/gpu';

interface Case {
  format: 'u8' | 'f32';
  count: number;
  shape: [number, number, number];
}

/** A dataset in the GPU layout of src/train/dataset.ts (u8 packed four to a word, or f32 bits). */
function dataset(s: Scratch, rng: Rng, c: Case) {
  const dim = c.shape[0] * c.shape[1] * c.shape[2];
  const values = Float64Array.from({ length: c.count * dim }, () => (c.format === 'u8' ? rng.int(256) : rng.normal()));
  const wpe = wordsPerExample(dim, c.format);
  const words = new Uint32Array(c.count * wpe);
  if (c.format === 'u8') {
    const bytes = new Uint8Array(words.buffer);
    for (let i = 0; i < c.count; i++) for (let d = 0; d < dim; d++) bytes[i * wpe * 4 + d] = values[i * dim + d];
  } else {
    const f = new Float32Array(words.buffer);
    for (let i = 0; i < c.count; i++) for (let d = 0; d < dim; d++) f[i * wpe + d] = values[i * dim + d];
  }
  const labels = Uint32Array.from({ length: c.count }, () => rng.int(10));
  // What the kernel reads for example j, element d: bytes scaled by 1/255, f32 as stored.
  const value = (j: number, d: number) => (c.format === 'u8' ? Math.fround(values[j * dim + d] * Math.fround(1 / 255)) : Math.fround(values[j * dim + d]));
  return { src: { examples: s.upload('examples', words), labels: s.upload('labels', labels), dim, format: c.format }, labels, value, dim };
}

async function gather(gpu: Gpu, s: Scratch, c: Case, variant: Omit<GatherVariant, 'format'>, opts: { pad?: number; seed?: number; step?: number; norm?: Float32Array }) {
  const rng = new Rng(c.count * 7 + c.shape[1]);
  const data = dataset(s, rng, c);
  const n = Math.min(c.count, 9);
  const indices = Uint32Array.from({ length: n + 2 }, () => rng.int(c.count));
  const x = s.buffer('x', (n * data.dim + 1) * 4);
  const y = s.buffer('y', n * 4);
  const kernel = await GatherBatch.create(gpu, { format: c.format, ...variant });
  const offset = 2;
  const transform = variant.augment || variant.normalize ? { shape: c.shape, augment: variant.augment ? { pad: opts.pad!, seed: opts.seed! } : undefined, norm: opts.norm ? s.upload('norm', opts.norm) : undefined } : undefined;
  const d = kernel.plan(data.src, s.upload('indices', indices), x, y, variant.sequential ? Math.min(n, c.count - offset) : n, offset, 'gather', transform);
  d.setBatch(offset, opts.step ?? 0);
  runDispatches(gpu, [d]);
  const rows = variant.sequential ? Math.min(n, c.count - offset) : n;
  const source = (i: number) => (variant.sequential ? offset + i : indices[offset + i]);
  return { got: await gpu.readF32(x, rows * data.dim), labels: await gpu.readU32(y, rows), rows, source, data };
}

const CASES: Case[] = [
  { format: 'u8', count: 13, shape: [1, 5, 7] },
  { format: 'u8', count: 20, shape: [3, 8, 8] },
  { format: 'f32', count: 11, shape: [2, 6, 5] },
];

export const gatherBatchChecks: CheckGroup = {
  group: 'gather_batch',
  checks: [
    ...CASES.flatMap((c) =>
      [false, true].map((sequential) =>
        gpuCheck(`${c.format} [${c.shape}] ${sequential ? 'sequential' : 'by index'}: exact copy and labels`, async (gpu, s) => {
          const r = await gather(gpu, s, c, { sequential }, {});
          const want = Float32Array.from({ length: r.rows * r.data.dim }, (_, t) => r.data.value(r.source(Math.floor(t / r.data.dim)), t % r.data.dim));
          assertClose(r.got, want, { atol: 0, rtol: 0 }, 'x');
          assertEqual(Array.from(r.labels), Array.from({ length: r.rows }, (_, i) => r.data.labels[r.source(i)]), 'y');
        }),
      ),
    ),
    ...CASES.flatMap((c) =>
      [
        { augment: true, normalize: false },
        { augment: true, normalize: true },
        { augment: false, normalize: true, sequential: true },
      ].map((variant) =>
        gpuCheck(`${c.format} [${c.shape}] ${variant.augment ? 'crop+flip' : ''}${variant.normalize ? ' normalised' : ''}${variant.sequential ? ' sequential' : ''}: matches the host twin`, async (gpu, s) => {
          const [C, H, W] = c.shape;
          const mean = Array.from({ length: C }, (_, k) => 0.1 * (k + 1));
          const std = Array.from({ length: C }, (_, k) => 0.5 + 0.25 * k);
          const norm = normalizationTable(mean, std);
          const pad = 2;
          const seed = 1234;
          const step = 77;
          const r = await gather(gpu, s, c, variant, { pad, seed, step, norm: variant.normalize ? norm : undefined });
          const want = new Float32Array(r.rows * r.data.dim);
          for (let i = 0; i < r.rows; i++) {
            for (let ch = 0; ch < C; ch++) {
              for (let row = 0; row < H; row++) {
                for (let col = 0; col < W; col++) {
                  const at = variant.augment ? augmentSource(seed, step, i, pad, H, W, row, col) : [row, col];
                  let v = at ? r.data.value(r.source(i), (ch * H + at[0]) * W + at[1]) : 0;
                  if (variant.normalize) v = Math.fround(Math.fround(v - norm[ch]) * norm[C + ch]);
                  want[i * r.data.dim + (ch * H + row) * W + col] = v;
                }
              }
            }
          }
          // Copies are exact. Normalisation is one fp32 subtraction and one multiplication, as on the
          // host, but a driver may contract them into fma(v, s, -m*s) (NVIDIA's Vulkan driver 580 does):
          // that differs by about an ulp of the operands' scale, 2^-23 * |v * s| <= 2^-23 * 4 here, so
          // normalised values get 1e-6 (two such ulps and some) and copies must match exactly.
          assertClose(r.got, want, { atol: variant.normalize ? 1e-6 : 0, rtol: 0 }, 'x');
        }),
      ),
    ),
    // The draws of the host twin, which the checks above show the kernel makes too.
    cpuCheck('random draws: offsets cover [-pad, pad] evenly, flips are a fair coin, the step changes them', () => {
      const pad = 4;
      const offsets = new Map<number, number>();
      let flips = 0;
      const draws = 20000;
      const ref = (step: number, i: number) => augmentSource(7, step, i, pad, 32, 32, 10, 10);
      for (let k = 0; k < draws; k++) {
        // Pixel (10, 10) reads (10 + oy, 10 + ox), or (10 + oy, 21 + ox) when flipped: never padding.
        const [row, col] = ref(Math.floor(k / 100), k % 100)!;
        offsets.set(row - 10, (offsets.get(row - 10) ?? 0) + 1);
        if (col > 16) flips++;
      }
      assert(offsets.size === 2 * pad + 1, 'offsets', `${offsets.size} distinct vertical offsets, expected ${2 * pad + 1}`);
      for (const [o, count] of offsets) assert(Math.abs(count / draws - 1 / 9) < 0.01, 'offset frequency', `offset ${o}: ${count} of ${draws}`);
      assert(Math.abs(flips / draws - 0.5) < 0.02, 'flip frequency', `${flips} of ${draws}`);
      assert(JSON.stringify(ref(1, 3)) !== JSON.stringify(ref(2, 3)) || JSON.stringify(ref(1, 4)) !== JSON.stringify(ref(2, 4)), 'step', 'the draws do not change with the step');
    }),
  ],
};
