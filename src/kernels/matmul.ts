// C[m,n] = op(A)[m,k] · diag(s) · op(B)[k,n] (+ bias per column) (then ReLU), in fp32.
//
// Three forms of one kernel, with the same bindings, uniforms and override constants, so that the
// op code does not change with the form (a Matmul picks one at create()):
//   blocked  src/shaders/matmul.wgsl: a 16x8 block of C per invocation in loop-indexed arrays.
//            lavapipe unrolls the loops and keeps the block in registers.
//   scalar   registerBlockMatmul (src/kernels/wgsl_template.ts): the block written out in named
//            variables, for adapters that keep loop-indexed arrays in memory (SwiftShader).
//   tiled    tiledMatmul (same file): 64x64 tiles through workgroup memory, vec4 loads where the
//            layout allows, for GPUs.
//   subgroup subgroupMatmul (same file): a 16-row tile per subgroup, its op(A) values loaded once per
//            subgroup and broadcast; for devices with a fixed subgroup size (lavapipe: 8). Products
//            narrower than half its tile run the blocked kernel, which this form also compiles.
// Which one runs is chosen per adapter by a short measurement at the first create() on a Gpu, cached
// per adapter (src/gpu/kernel_choices.ts), or forced by MatmulOptions.variant, Gpu.create({ kernels })
// or L2RW_KERNELS=matmul:<variant>.
import source from '../shaders/matmul.wgsl?raw';
import { isWholeBuffer, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';
import type { Measurement } from '../gpu/kernel_choices';
import { checkFormAvailable, chooseForm, formCandidates, measureForms, type KernelForms } from './forms';
import { registerBlockMatmul, subgroupMatmul, TILED_MATMUL, tiledMatmul, tiledVec4Fits } from './wgsl_template';

/** Invocations per workgroup (a 1-D launch over the blocks of C). */
const WG = 64;

/** The block of C one invocation computes, read from the shader so the two cannot disagree. */
function shaderConst(name: string): number {
  const m = new RegExp(`^const ${name} = (\\d+)u;`, 'm').exec(source);
  if (!m) throw new Error(`matmul.wgsl: const ${name} not found`);
  return Number(m[1]);
}
const BLOCK_M = shaderConst('TM');
const BLOCK_N = shaderConst('TN');

/** Each invocation computes a blockM x blockN block of C; a workgroup takes `workgroup` consecutive blocks. */
export const MATMUL_TILING = { blockM: BLOCK_M, blockN: BLOCK_N, workgroup: WG } as const;

export const matmulDef: KernelDef = {
  name: 'matmul',
  source,
  bindings: ['read', 'read', 'read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['m', 'u32'],
    ['n', 'u32'],
    ['k', 'u32'],
  ],
};

export type MatmulVariant = 'blocked' | 'scalar' | 'tiled' | 'subgroup';
/** The forms, today's (the fallback) first. */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['blocked', 'scalar', 'tiled', 'subgroup'];

/**
 * The written-out register block. GFLOP per CPU-second on SwiftShader (Node over Dawn, 2 shared cores,
 * 128x256x128, 100x256x320 tB, 256x320x100 tA), and compile time for three pipelines:
 *   4x4 0.50-0.78, 8x4 0.65-0.96, 4x8 0.62-0.84, 8x8 0.89-1.34 (5 s), 16x8 0.87-1.40 (12 s);
 *   8x8 with f32 accumulators instead of vec4f 0.69-0.82; k unrolled by 2 or 4: slower, longer compile.
 * 8x8 keeps most of 16x8's speed at under half its compile time. (On lavapipe every block size runs
 * below the loop-indexed 16x8 block, which lavapipe keeps in registers itself: BENCHMARKS.md.)
 */
const SCALAR_BLOCK = { tm: 8, tn: 8 } as const;

/**
 * The subgroup form's tile: 16 rows per subgroup, 8 columns per invocation. GFLOP/s on lavapipe
 * (Node over Dawn, 2 cores, one run, blocked 16x8 alongside at 12.1-12.9), rows x columns per lane:
 * 16x8 18.7-22.5 (compile 0.4-2 s), 24x8 21.7 (3.1 s), 16x12 20.8 (3.5 s), 16x16 20.0 (8.6 s),
 * 32x4 17.8, 8x16 16.5, 32x8 15.1 (8.5 s); loading op(A) for 2 or 4 k-steps at once and
 * broadcasting those: 12.9-17.1. One subgroup per workgroup (8 invocations) against 8 per workgroup:
 * 20.6 against 21.8 at 1024^3, 20.1 against 17.5 on 100x800x500.
 */
const SUBGROUP_TILE = { tm: 16, tn: 8 } as const;

/** One pipeline source of a form: 'tiled4' is the tiled form's vec4-load flavour. */
export type MatmulForm = 'blocked' | 'scalar' | 'tiled' | 'tiled4' | 'subgroup';

/**
 * The KernelDef of each form (same bindings and uniforms as matmulDef; the source differs). The
 * subgroup form is written for a subgroup size (Gpu.subgroupSize).
 */
export function matmulFormDef(form: MatmulForm, subgroupSize: number | null = null): KernelDef {
  switch (form) {
    case 'subgroup': {
      if (!subgroupSize) throw new Error("matmul: the 'subgroup' form needs a device with a fixed subgroup size (Gpu.subgroupSize)");
      const { tm, tn } = SUBGROUP_TILE;
      return { ...matmulDef, name: `matmul_subgroup_${tm}x${tn}_sg${subgroupSize}`, source: subgroupMatmul({ tm, tn, sg: subgroupSize }), generated: true, enables: ['subgroups'] };
    }
    case 'blocked':
      return matmulDef;
    case 'scalar':
      return { ...matmulDef, name: `matmul_scalar_${SCALAR_BLOCK.tm}x${SCALAR_BLOCK.tn}`, source: registerBlockMatmul(SCALAR_BLOCK), generated: true };
    case 'tiled':
      return { ...matmulDef, name: 'matmul_tiled', source: tiledMatmul({ vec4: false }), generated: true };
    case 'tiled4':
      return { ...matmulDef, name: 'matmul_tiled_vec4', source: tiledMatmul({ vec4: true }), generated: true };
  }
}

/**
 * Block of C per invocation (register forms), per workgroup (tiled) or per subgroup (subgroup, whose
 * columns and workgroup are multiples of the subgroup size: here for a subgroup of 1), and the
 * workgroup size.
 */
export function matmulVariantTiling(variant: MatmulVariant, subgroupSize = 1): { blockM: number; blockN: number; workgroup: number } {
  switch (variant) {
    case 'blocked':
      return MATMUL_TILING;
    case 'scalar':
      return { blockM: SCALAR_BLOCK.tm, blockN: SCALAR_BLOCK.tn, workgroup: WG };
    case 'tiled':
      return { blockM: TILED_MATMUL.tileM, blockN: TILED_MATMUL.tileN, workgroup: TILED_MATMUL.threadsX * TILED_MATMUL.threadsY };
    case 'subgroup':
      return { blockM: SUBGROUP_TILE.tm, blockN: SUBGROUP_TILE.tn * subgroupSize, workgroup: subgroupSize };
  }
}

const FORMS: Record<MatmulVariant, MatmulForm[]> = { blocked: ['blocked'], scalar: ['scalar'], tiled: ['tiled', 'tiled4'], subgroup: ['subgroup', 'blocked'] };

/**
 * The subgroup form runs its own kernel only where a product fills at least half of its tile's
 * sg * 8 columns, and the blocked kernel on narrower ones: on lavapipe LeNet's 2-class output layer
 * (100x2x500) took 0.54 ms in the subgroup kernel and 0.17 ms in the blocked one.
 */
function subgroupKernelFits(n: number, subgroupSize: number): boolean {
  return 2 * n >= SUBGROUP_TILE.tn * subgroupSize;
}

const TUNE_SHAPES: MatmulShape[] = [
  { m: 100, n: 256, k: 320 },
  { m: 256, n: 320, k: 100 },
];

/**
 * Measured once per Gpu (and cached per adapter, see src/gpu/kernel_choices.ts) on two products of the
 * sizes a dense layer runs (~16 MFLOP each: long k, short k), A·B with no epilogue, one pipeline per
 * candidate so that start-up stays short (lavapipe: ~0.5 s in all).
 */
export const MATMUL_FORMS: KernelForms<MatmulVariant, MatmulShape, Matmul, { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer }> = {
  kernel: 'matmul',
  variants: MATMUL_VARIANTS,
  defs: (v, gpu) => FORMS[v].map((f) => matmulFormDef(f, gpu.subgroupSize)),
  // The tiled form measured 3-30x slower than the register forms on lavapipe and SwiftShader, and
  // SwiftShader takes 5-10 s of CPU to compile it.
  cpuCandidates: ['blocked', 'scalar', 'subgroup'],
  available: (v, gpu) => v !== 'subgroup' || gpu.subgroupForms,
  tuneShapes: TUNE_SHAPES,
  describeShape: (s) => `${s.m}x${s.n}x${s.k}`,
  operands: (s, make) => ({ a: make('tune.a', s.m * s.k, true), b: make('tune.b', s.k * s.n, true), c: make('tune.c', s.m * s.n, false) }),
  create: (gpu, variant) => Matmul.create(gpu, { variant }),
  plan: (mm, o, s, label) => mm.plan(o.a, o.b, o.c, s, {}, label),
};

/** The variants measured on this adapter, the fallback first. */
export function matmulCandidates(gpu: Gpu): MatmulVariant[] {
  return formCandidates(gpu, MATMUL_FORMS);
}

export function chooseMatmulVariant(gpu: Gpu): Promise<MatmulVariant> {
  return chooseForm(gpu, MATMUL_FORMS);
}

export function measureMatmul(gpu: Gpu, candidates: readonly MatmulVariant[] = matmulCandidates(gpu)): Promise<Measurement> {
  return measureForms(gpu, MATMUL_FORMS, candidates);
}

export type MatmulEpilogue = 'none' | 'bias' | 'bias_relu';

export interface MatmulOptions {
  /** A is stored [k, m] instead of [m, k]. */
  transA?: boolean;
  /** B is stored [n, k] instead of [k, n]. */
  transB?: boolean;
  epilogue?: MatmulEpilogue;
  /** Scale each term of the k-sum by s[k] (weighted weight gradients dW = dyᵀ·diag(w)·x). */
  kScale?: boolean;
  /** The form to run; default: this adapter's choice (chooseMatmulVariant). */
  variant?: MatmulVariant;
}

export interface MatmulShape {
  m: number;
  n: number;
  k: number;
}

export interface MatmulExtra {
  bias?: BufferRef;
  kscale?: BufferRef;
}

const EPILOGUE_CODE: Record<MatmulEpilogue, number> = { none: 0, bias: 1, bias_relu: 2 };

export class Matmul {
  private constructor(
    private readonly gpu: Gpu,
    /** The form's pipelines: one; for 'tiled' the scalar-load one then the vec4 one; for 'subgroup' its own then the blocked one. */
    private readonly kernels: readonly Kernel[],
    readonly options: Readonly<Required<MatmulOptions>>,
  ) {}

  static async create(gpu: Gpu, opts: MatmulOptions = {}): Promise<Matmul> {
    const options: Required<MatmulOptions> = {
      transA: opts.transA ?? false,
      transB: opts.transB ?? false,
      epilogue: opts.epilogue ?? 'none',
      kScale: opts.kScale ?? false,
      variant: opts.variant ?? 'blocked',
    };
    if (!(options.epilogue in EPILOGUE_CODE)) {
      throw new Error(`matmul: unknown epilogue "${options.epilogue}" (expected 'none', 'bias' or 'bias_relu')`);
    }
    if (!MATMUL_VARIANTS.includes(options.variant)) throw new Error(`matmul: unknown variant "${options.variant}" (expected ${MATMUL_VARIANTS.join(', ')})`);
    if (opts.variant === undefined) options.variant = await chooseMatmulVariant(gpu);
    checkFormAvailable(gpu, MATMUL_FORMS, options.variant);
    const constants = {
      WG,
      TRANS_A: options.transA ? 1 : 0,
      TRANS_B: options.transB ? 1 : 0,
      EPILOGUE: EPILOGUE_CODE[options.epilogue],
      K_SCALE: options.kScale ? 1 : 0,
    };
    const kernels = await Promise.all(MATMUL_FORMS.defs(options.variant, gpu).map((def) => Kernel.load(gpu, def, constants)));
    return new Matmul(gpu, kernels, options);
  }

  get variant(): MatmulVariant {
    return this.options.variant;
  }

  /** Plans c = op(a)·diag(kscale)·op(b) (+ bias) (ReLU) for this shape; c must not alias a or b. */
  plan(a: BufferRef, b: BufferRef, c: BufferRef, shape: MatmulShape, extra: MatmulExtra = {}, label = 'matmul'): Dispatch {
    const { m, n, k } = shape;
    for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) {
        throw new Error(`matmul (${label}): ${name} must be a positive integer, got ${v}`);
      }
    }
    const { epilogue, kScale } = this.options;
    const wantsBias = epilogue !== 'none';
    if (wantsBias && !extra.bias) throw new Error(`matmul (${label}): epilogue '${epilogue}' needs a bias buffer (extra.bias)`);
    if (!wantsBias && extra.bias) throw new Error(`matmul (${label}): a bias was given but the epilogue is 'none'; create the Matmul with epilogue 'bias' or 'bias_relu'`);
    if (kScale && !extra.kscale) throw new Error(`matmul (${label}): kScale needs a length-k scale buffer (extra.kscale)`);
    if (!kScale && extra.kscale) throw new Error(`matmul (${label}): a kscale buffer was given but the Matmul was created without kScale`);
    const f32 = 4;
    const [rowsA, colsA] = this.options.transA ? [k, m] : [m, k];
    const [rowsB, colsB] = this.options.transB ? [n, k] : [k, n];
    this.checkSize(label, 'a', a, m * k * f32, `[${rowsA},${colsA}]`);
    this.checkSize(label, 'b', b, k * n * f32, `[${rowsB},${colsB}]`);
    this.checkSize(label, 'c', c, m * n * f32, `[${m},${n}]`);
    if (extra.bias) this.checkSize(label, 'bias', extra.bias, n * f32, `[${n}]`);
    if (extra.kscale) this.checkSize(label, 'kscale', extra.kscale, k * f32, `[${k}]`);
    const resources = [a, b, extra.bias ?? this.gpu.placeholder, extra.kscale ?? this.gpu.placeholder, c];
    const variant = this.options.variant;
    if (variant === 'tiled') {
      const { tileM, tileN } = TILED_MATMUL;
      const kernel = this.kernels[tiledVec4Fits(shape, this.options.transA, this.options.transB) ? 1 : 0];
      return kernel.plan(label, resources, { m, n, k }, [Math.ceil(n / tileN), Math.ceil(m / tileM), 1]);
    }
    // The subgroup form's narrow products run its blocked kernel (its second).
    const runs = variant === 'subgroup' && !subgroupKernelFits(n, this.gpu.subgroupSize!) ? 'blocked' : variant;
    const { blockM, blockN, workgroup } = matmulVariantTiling(runs, this.gpu.subgroupSize ?? 1);
    const blocks = Math.ceil(m / blockM) * Math.ceil(n / blockN);
    // Register forms: one block per invocation; the subgroup kernel: one tile per workgroup.
    const invocations = runs === 'subgroup' ? blocks * workgroup : blocks;
    return this.kernels[runs === variant ? 0 : 1].plan(label, resources, { m, n, k }, workgroups1d(this.gpu, invocations, workgroup));
  }

  private checkSize(label: string, name: string, ref: BufferRef, needed: number, shape: string): void {
    const offset = isWholeBuffer(ref) ? 0 : ref.offset ?? 0;
    const buffer = isWholeBuffer(ref) ? ref : ref.buffer;
    const size = isWholeBuffer(ref) ? ref.size : ref.size ?? ref.buffer.size - offset;
    const align = this.gpu.limits.minStorageBufferOffsetAlignment;
    if (offset % align !== 0) {
      throw new Error(`matmul (${label}): ${name} is bound at byte offset ${offset}, not a multiple of ${align}`);
    }
    if (size < needed) {
      throw new Error(
        `matmul (${label}): ${name} holds ${size} bytes from offset ${offset} of buffer "${buffer.label}", ` +
          `but ${shape} f32 needs ${needed}`,
      );
    }
  }

  /** Floating-point operations of one product of this shape (2mnk), for throughput reports. */
  static flops(shape: MatmulShape): number {
    return 2 * shape.m * shape.n * shape.k;
  }
}
