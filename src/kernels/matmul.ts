// C[m,n] = op(A)[m,k] · diag(s) · op(B)[k,n] (+ bias per column) (then ReLU), in fp32.
import source from '../shaders/matmul.wgsl?raw';
import { isWholeBuffer, type BufferRef, type Gpu } from '../gpu/gpu';
import { Kernel, workgroups1d, type Dispatch, type KernelDef } from './kernel';

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

export type MatmulEpilogue = 'none' | 'bias' | 'bias_relu';

export interface MatmulOptions {
  /** A is stored [k, m] instead of [m, k]. */
  transA?: boolean;
  /** B is stored [n, k] instead of [k, n]. */
  transB?: boolean;
  epilogue?: MatmulEpilogue;
  /** Scale each term of the k-sum by s[k] (weighted weight gradients dW = dyᵀ·diag(w)·x). */
  kScale?: boolean;
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
    private readonly kernel: Kernel,
    readonly options: Readonly<Required<MatmulOptions>>,
  ) {}

  static async create(gpu: Gpu, opts: MatmulOptions = {}): Promise<Matmul> {
    const options: Required<MatmulOptions> = {
      transA: opts.transA ?? false,
      transB: opts.transB ?? false,
      epilogue: opts.epilogue ?? 'none',
      kScale: opts.kScale ?? false,
    };
    if (!(options.epilogue in EPILOGUE_CODE)) {
      throw new Error(`matmul: unknown epilogue "${options.epilogue}" (expected 'none', 'bias' or 'bias_relu')`);
    }
    const kernel = await Kernel.load(gpu, matmulDef, {
      WG,
      TRANS_A: options.transA ? 1 : 0,
      TRANS_B: options.transB ? 1 : 0,
      EPILOGUE: EPILOGUE_CODE[options.epilogue],
      K_SCALE: options.kScale ? 1 : 0,
    });
    return new Matmul(gpu, kernel, options);
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
    const blocks = Math.ceil(m / BLOCK_M) * Math.ceil(n / BLOCK_N);
    const groups = workgroups1d(this.gpu, blocks, WG);
    return this.kernel.plan(
      label,
      [a, b, extra.bias ?? this.gpu.placeholder, extra.kscale ?? this.gpu.placeholder, c],
      { m, n, k },
      groups,
    );
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
