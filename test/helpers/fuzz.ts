// Shared pieces of the seeded fuzz tests of the data and checkpoint readers (test/data/fuzz_*.test.ts,
// test/train/fuzz_checkpoint.test.ts): byte-level mutations as fast-check arbitraries, and the check
// every rejected input must pass (the reader's own error class, one line naming the file).
import fc from 'fast-check';

/** One edit of a byte string. Positions are taken modulo the current length, so any `at` fits. */
export type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'append'; bytes: number[] };

/**
 * A position: anywhere, or (half the time when `hot` > 0) in the first `hot` bytes, where headers are.
 */
function position(hot: number): fc.Arbitrary<number> {
  const anywhere = fc.nat({ max: 0x7fffffff });
  return hot > 0 ? fc.oneof(fc.nat({ max: hot - 1 }), anywhere) : anywhere;
}

const byte = fc.integer({ min: 0, max: 255 });
/** Bytes to overwrite or insert: interesting values (0, 0xff, ASCII digits, quotes, braces) or any. */
const interestingByte = fc.oneof(byte, fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x30, 0x39, 0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x20, 0x0a, 0x2d));

/** One mutation; `hot`: header bytes to aim at half the time. */
export function byteMutation(hot = 0): fc.Arbitrary<ByteMutation> {
  const at = position(hot);
  return fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at, value: interestingByte }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.array(interestingByte, { minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.array(interestingByte, { minLength: 1, maxLength: 8 }) }),
  );
}

/** One to four mutations, applied in order. */
export function byteMutations(hot = 0): fc.Arbitrary<ByteMutation[]> {
  return fc.array(byteMutation(hot), { minLength: 1, maxLength: 4 });
}

/** The bytes after one mutation (a fresh array; the input is not changed). */
export function applyMutation(bytes: Uint8Array, m: ByteMutation): Uint8Array {
  const len = bytes.length;
  const at = (n: number, extra = 0) => (len + extra === 0 ? 0 : n % (len + extra));
  switch (m.kind) {
    case 'truncate':
      return bytes.slice(0, at(m.at, 1));
    case 'flip': {
      const out = bytes.slice();
      if (len) out[at(m.at)] ^= 1 << m.bit;
      return out;
    }
    case 'set': {
      const out = bytes.slice();
      if (len) out[at(m.at)] = m.value;
      return out;
    }
    case 'insert': {
      const p = at(m.at, 1);
      return concatBytes(bytes.subarray(0, p), m.bytes, bytes.subarray(p));
    }
    case 'delete': {
      const p = at(m.at);
      return concatBytes(bytes.subarray(0, p), bytes.subarray(p + m.count));
    }
    case 'append':
      return concatBytes(bytes, m.bytes);
  }
}

/** The parts one after the other, in a fresh array. */
export function concatBytes(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function applyMutations(bytes: Uint8Array, ms: readonly ByteMutation[]): Uint8Array {
  return ms.reduce(applyMutation, bytes);
}

/**
 * `bytes` as a view at byte offset `pad` of a larger buffer filled with 0xa5 around it, so that a
 * reader that ignores byteOffset or reads past the view's end sees garbage instead of zeros.
 */
export function embed(bytes: Uint8Array, pad: number): Uint8Array {
  const buf = new Uint8Array(pad + bytes.length + 16).fill(0xa5);
  buf.set(bytes, pad);
  return buf.subarray(pad, pad + bytes.length);
}

/** An offset for embed(): 0 most of the time, else a few bytes (odd ones included). */
export const embedOffset = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 13 }) });

/** Big-endian u32 overwrite (an IDX header field). */
export function setU32BE(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const out = bytes.slice();
  if (offset + 4 <= out.length) new DataView(out.buffer).setUint32(offset, value >>> 0, false);
  return out;
}

/** Counts and sizes a header may claim: edges, powers of two near the 32-bit limits, any. */
export function interestingU32(valid: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(0, 1, 2, valid - 1, valid, valid + 1, 28, 784, 0x7fffffff, 0x80000000, 0xffffffff, 0x00000801, 0x00000803, 0x00010000),
    fc.integer({ min: 0, max: 0xffffffff }),
  );
}

/**
 * What every rejected input must give: an instance of the reader's error class (never a RangeError or
 * TypeError from a bad read), a message of one line that starts with (or, with `contains`, holds) the
 * file's name.
 */
export function expectReaderError(e: unknown, cls: abstract new (...args: never[]) => Error, file: string, opts: { contains?: boolean } = {}): void {
  if (!(e instanceof cls)) throw new Error(`expected a ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
  const msg = (e as Error).message;
  check(!msg.includes('\n'), () => `message of more than one line: ${JSON.stringify(msg)}`);
  check(opts.contains ? msg.includes(file) : msg.startsWith(`${file}: `), () => `message does not ${opts.contains ? 'name' : 'start with'} ${JSON.stringify(file)}: ${msg}`);
}

/** Runs `f`: its result, or the error it threw (as `{ error }`). */
export function outcome<T>(f: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A cheap assertion for the hot path of a property (vitest's expect costs more than a case). */
export function check(cond: unknown, what: string | (() => string)): asserts cond {
  if (!cond) throw new Error(typeof what === 'string' ? what : what());
}

/** Byte-wise equality of two views. */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Outcomes of a fuzz test's cases: parsed, or refused by kind of message (its first words after the
 * file name). Printed when FUZZ_STATS is set (FUZZ_STATS=1 npx vitest run test/data/fuzz_idx.test.ts).
 */
export class Tally {
  private readonly counts = new Map<string, number>();
  constructor(readonly title: string) {}

  parsed(): void {
    this.bump('parsed');
  }

  refused(e: unknown, file: string): void {
    const msg = e instanceof Error ? e.message : String(e);
    const at = msg.indexOf(file);
    const rest = (at >= 0 ? msg.slice(at + file.length) : msg).replace(/^[:\s]+/, '');
    const words = rest.replace(/^[^A-Za-z]+/, '').match(/^[A-Za-z][A-Za-z ]*/)?.[0] ?? rest;
    this.bump(`refused: ${words.trim().split(/\s+/).slice(0, 6).join(' ')}`);
  }

  private bump(k: string): void {
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  print(): void {
    if (!process.env.FUZZ_STATS) return;
    const rows = [...this.counts].sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((s, [, n]) => s + n, 0);
    console.log(`${this.title}: ${total} cases\n${rows.map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`).join('\n')}`);
  }
}
