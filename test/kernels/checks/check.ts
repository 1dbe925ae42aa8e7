// What a kernel check is, and the assertions checks use. A check is environment-neutral: it gets a
// Gpu (Dawn in Node, the page's WebGPU device in Chromium), imports no test framework, and throws an
// Error saying what differed and where on any mismatch. test/kernels/*.test.ts run every check under
// vitest; test/browser/kernel-checks.ts runs the same table inside Chromium.
import type { Gpu } from '../../../src/gpu/gpu';
import type { Measurement } from '../../../src/gpu/kernel_choices';
import { compareClose, type CloseReport, type Tolerance } from '../../helpers/compare';
import { pickVariant, TUNE_MARGIN } from '../../../src/kernels/tune';
import { formAvailable, type KernelForms } from '../../../src/kernels/forms';

export interface KernelCheck {
  /** Unique within its group: the vitest test name and the browser page's result label. */
  readonly name: string;
  run(gpu: Gpu): Promise<void>;
  /**
   * Set, to the reason, for a check the browser page does not run (too slow on SwiftShader, the
   * browser's software adapter). Keep this rare: every other check runs in both environments.
   */
  readonly nodeOnly?: string;
}

/** One group of checks: one vitest file in test/kernels/ and one browser group. */
export interface CheckGroup {
  readonly group: string;
  readonly checks: readonly KernelCheck[];
}

// ---- assertions: each throws an Error whose message starts with `label` -------------------------

/** |actual - expected| <= atol + rtol * |expected| elementwise (see compareClose). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label: string): CloseReport {
  const r = compareClose(actual, expected, tol);
  if (!r.ok) throw new Error(`${label}: ${r.message}`);
  return r;
}

export function assert(condition: boolean, label: string, detail = ''): asserts condition {
  if (!condition) throw new Error(detail ? `${label}: ${detail}` : label);
}

/** Object.is(actual, expected), as vitest's toBe. */
export function assertSame(actual: unknown, expected: unknown, label: string): void {
  if (!Object.is(actual, expected)) throw new Error(`${label}: got ${show(actual)}, expected ${show(expected)}`);
}

/**
 * Deep equality, as vitest's toEqual for the values checks compare: primitives by Object.is (NaN
 * equals NaN, 0 differs from -0), arrays and typed arrays element by element, plain objects key by key.
 */
export function assertEqual(actual: unknown, expected: unknown, label: string): void {
  const where = firstDifference(actual, expected, '');
  if (where !== null) {
    throw new Error(`${label}: differs at ${where.path || 'the top level'}: got ${show(where.got)}, expected ${show(where.want)}`);
  }
}

/** fn() throws an error whose message matches `pattern`, as vitest's toThrow(regexp). */
export function assertThrows(fn: () => unknown, pattern: RegExp, label: string): void {
  try {
    fn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!pattern.test(message)) throw new Error(`${label}: threw "${message}", which does not match ${pattern}`);
    return;
  }
  throw new Error(`${label}: did not throw (expected an error matching ${pattern})`);
}

/** fn() rejects (or throws) with an error whose message matches `pattern`. */
export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp, label: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!pattern.test(message)) throw new Error(`${label}: rejected with "${message}", which does not match ${pattern}`);
    return;
  }
  throw new Error(`${label}: did not reject (expected an error matching ${pattern})`);
}

function show(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const a = Array.from(v as ArrayLike<unknown>);
    return `[${a.slice(0, 8).map(show).join(', ')}${a.length > 8 ? `, … (${a.length})` : ''}]`;
  }
  if (v && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function isListLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function firstDifference(got: unknown, want: unknown, path: string): { path: string; got: unknown; want: unknown } | null {
  if (Object.is(got, want)) return null;
  if (isListLike(got) && isListLike(want)) {
    if (Object.getPrototypeOf(got) !== Object.getPrototypeOf(want)) return { path: `${path} (type)`, got: got.constructor.name, want: want.constructor.name };
    if (got.length !== want.length) return { path: `${path}.length`, got: got.length, want: want.length };
    for (let i = 0; i < want.length; i++) {
      const d = firstDifference(got[i], want[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (got && want && typeof got === 'object' && typeof want === 'object' && !isListLike(got) && !isListLike(want)) {
    const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
    for (const k of keys) {
      const d = firstDifference((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return { path, got, want };
}

// ---- buffers ------------------------------------------------------------------------------------

/**
 * The buffers one check makes, destroyed when it ends (pass or fail). The browser runs every check
 * on one device, so a check frees what it made, and never calls gpu.destroyAll() (that would also
 * free buffers the Gpu itself owns).
 */
export class Scratch {
  private readonly owned = new Set<GPUBuffer>();
  constructor(readonly gpu: Gpu) {}

  upload(label: string, data: Float32Array | Uint32Array | Int32Array): GPUBuffer {
    return this.keep(this.gpu.upload(label, data));
  }

  buffer(label: string, byteSize: number): GPUBuffer {
    return this.keep(this.gpu.buffer(label, byteSize));
  }

  keep(buf: GPUBuffer): GPUBuffer {
    this.owned.add(buf);
    return buf;
  }

  release(): void {
    for (const b of this.owned) this.gpu.destroy(b);
    this.owned.clear();
  }
}

/** A check whose buffers come from a Scratch released when it ends. */
export function gpuCheck(name: string, body: (gpu: Gpu, s: Scratch) => Promise<void>, nodeOnly?: string): KernelCheck {
  return {
    name,
    nodeOnly,
    async run(gpu: Gpu) {
      const s = new Scratch(gpu);
      try {
        await body(gpu, s);
      } finally {
        s.release();
      }
    },
  };
}

/** A check of a float64 reference alone (no GPU work), run in both environments all the same. */
export function cpuCheck(name: string, body: () => void): KernelCheck {
  return {
    name,
    async run() {
      body();
    },
  };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * A kernel's start-up measurement (tuneVariants) run for real: it times each of `candidates` in order,
 * gives every one a compile time and either a time or the reason it has none, names the fastest
 * timed one (or the default, within the margin), and frees every buffer it made.
 */
export async function assertMeasurement(gpu: Gpu, measure: () => Promise<Measurement>, candidates: readonly string[]): Promise<Measurement> {
  const live = gpu.counters.liveBuffers;
  const m = await measure();
  assertSame(gpu.counters.liveBuffers, live, 'live buffers after the measurement');
  assertEqual(m.candidates.map((c) => c.variant), [...candidates], 'the candidates measured');
  const timed = m.candidates.filter((c) => c.ms !== null);
  assert(timed.length >= 1, 'timed candidates', JSON.stringify(m.candidates));
  for (const c of m.candidates) {
    assert(c.compileMs >= 0 && (c.ms !== null || !!c.note), `${c.variant}'s figures`, JSON.stringify(c));
  }
  assertSame(m.variant, pickVariant(m.candidates), 'the chosen variant: the fastest timed one, or the default within the margin');
  const fastest = timed.reduce((a, b) => (b.ms! < a.ms! ? b : a));
  const chosen = timed.find((c) => c.variant === m.variant)!;
  assert(chosen.ms! * (1 - TUNE_MARGIN) <= fastest.ms!, 'the chosen variant is within the margin of the fastest', JSON.stringify(m.candidates));
  return m;
}

/**
 * Whether a form of a kernel runs on this device. Where it cannot (a subgroup form without a fixed
 * subgroup size), what gets checked instead is that forcing it fails with a clear error.
 */
export async function formRunsHere<V extends string>(gpu: Gpu, forms: KernelForms<V, any, any, any>, variant: V, create: () => Promise<unknown>): Promise<boolean> {
  if (formAvailable(gpu, forms, variant)) return true;
  await assertRejects(create, new RegExp(`the '${variant}' form is not available on this device`), `forcing the ${variant} form of ${forms.kernel} here`);
  return false;
}
