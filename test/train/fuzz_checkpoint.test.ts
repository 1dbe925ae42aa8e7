// Seeded fuzz tests of the checkpoint reader: decodeSafetensors (src/train/safetensors.ts) and
// decodeCheckpoint / readCheckpoint (src/train/checkpoint.ts), on a small checkpoint built here (a
// synthetic trainer state: F32, U32, U8 and an empty I64 tensor, with metadata). Mutations: truncation,
// bit flips, byte overwrites, insertions, deletions; the u64 length prefix set to edge values (0, the
// file's length, 2^32, 2^53, 2^64-1, ...); the JSON header's fields rewritten (dtype, shape,
// data_offsets, unknown fields, tensor and metadata names such as "__proto__" or names with a newline,
// metadata values of other types, "__metadata__" and the header itself replaced) with the length
// prefix kept consistent; checkpoint metadata (format, trainer, config, data, extra, checksum)
// rewritten and the checksum recomputed here by the documented rule, so the checks behind it are
// reached. Property: a safetensors parse equals what an independent reading of the bytes here says
// (every tensor's bytes at its offsets, the data section tiled exactly, the metadata as written); a
// checkpoint is loaded only when its checksum verifies by the documented rule; everything else is
// refused with a SafetensorsError / CheckpointError of one line naming the file.
//
// Cases per property (fixed seeds, so every run draws the same inputs):
//   safetensors bytes ........................... 1500
//   safetensors data section (always valid) ..... 300
//   safetensors length prefix ................... 600
//   safetensors JSON header fields .............. 1500
//   checkpoint bytes ............................ 1000
//   checkpoint metadata, checksum recomputed .... 1000
//   readCheckpoint on mutated files on disk ..... 10
// Outcomes (parsed, refused by kind of message) are printed per property with FUZZ_STATS=1.
//
// Found and fixed: messages of several lines (a tensor or metadata name holding a newline, and V8's
// JSON.parse message quoting the header's text with its newlines); a metadata key "__proto__" dropped
// (it set the metadata object's prototype); a checkpoint whose trainer metadata is a JSON array loaded.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_FORMAT, CheckpointError, decodeCheckpoint, encodeCheckpoint, readCheckpoint, type CheckpointMeta } from '../../src/train/checkpoint';
import { DTYPE_SIZE, decodeSafetensors, SafetensorsError, type SafeTensor } from '../../src/train/safetensors';
import type { TrainerState } from '../../src/train/trainer';
import { Tally, applyMutations, byteMutations, check, concatBytes, embed, embedOffset, expectReaderError, outcome, sameBytes } from '../helpers/fuzz';

const TIMEOUT = 60_000;
/** The current property's outcomes (printed with FUZZ_STATS=1). */
let tally = new Tally('');
const SOURCE = 'runs/x/checkpoint.safetensors';

const STATE: TrainerState = {
  info: { version: 1, model: 'synthetic', config: { lr: 0.01 }, step: 3, lr: 0.01, phase: 0, sources: [], best: false },
  tensors: new Map<string, SafeTensor>([
    ['fc.weight', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([0.5, -1, 2, 3.25, -0, 7]) }],
    ['fc.bias', { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }],
    ['sampler/x/perm', { dtype: 'U32', shape: [3], data: Uint32Array.from([2, 0, 1]) }],
    ['flags', { dtype: 'U8', shape: [5], data: Uint8Array.from([1, 0, 1, 1, 0]) }],
    ['empty', { dtype: 'I64', shape: [0, 2], data: new BigInt64Array(0) }],
  ]),
};
const META: CheckpointMeta = { config: { model: 'synthetic', lr: 0.01 }, data: 'sha256:abc', extra: { curves: [1, 2] } };
const CKPT = encodeCheckpoint(STATE, META);
const HEADER_LEN = Number(new DataView(CKPT.buffer).getBigUint64(0, true));
const HEADER = JSON.parse(Buffer.from(CKPT.subarray(8, 8 + HEADER_LEN)).toString('utf8')) as Record<string, unknown>;
const DATA = CKPT.slice(8 + HEADER_LEN);

// ---- an independent reading of safetensors bytes ------------------------------------------------

interface RefFile {
  metadata: [string, string][];
  tensors: [string, { dtype: string; shape: number[]; bytes: Uint8Array }][];
}

/** The file as the format's description reads it, or null when it is not a valid file. */
function reference(bytes: Uint8Array): RefFile | null {
  if (bytes.length < 8) return null;
  let n = 0n;
  for (let i = 7; i >= 0; i--) n = n * 256n + BigInt(bytes[i]);
  if (n < 2n || n > 100_000_000n || n > BigInt(bytes.length - 8)) return null;
  const h = Number(n);
  const text = Buffer.from(bytes.subarray(8, 8 + h));
  // Valid UTF-8 only: a lossy decoding would not encode back to the same bytes.
  const str = text.toString('utf8');
  if (!Buffer.from(str, 'utf8').equals(text)) return null;
  let header: unknown;
  try {
    header = JSON.parse(str.replace(/^\uFEFF/, ''));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  const data = bytes.subarray(8 + h);
  const metadata: [string, string][] = [];
  const tensors: RefFile['tensors'] = [];
  const spans: [number, number][] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) return null;
      for (const [k, v] of Object.entries(e)) {
        if (typeof v !== 'string') return null;
        metadata.push([k, v]);
      }
      continue;
    }
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return null;
    if (Object.keys(e).some((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets')) return null;
    const { dtype, shape, data_offsets: o } = e as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype)) return null;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
    const [b, end] = o as number[];
    const size = BigInt(DTYPE_SIZE[dtype as keyof typeof DTYPE_SIZE]) * (shape as number[]).reduce((p, d) => p * BigInt(d), 1n);
    if (b > end || end > data.length || BigInt(end - b) !== size) return null;
    spans.push([b, end]);
    tensors.push([name, { dtype, shape: shape as number[], bytes: data.subarray(b, end) }]);
  }
  // The tensors tile the data section exactly: in order of their bytes, each starts where the last ended.
  const sorted = spans.map((s, i) => [...s, i]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, end] of sorted) {
    if (b !== at) return null;
    at = end;
  }
  if (at !== data.length) return null;
  const order = sorted.map((s) => s[2]);
  return { metadata, tensors: order.map((i) => tensors[i]) };
}

/** A parse agrees with the reference reading (same names, order, dtypes, shapes, bytes, metadata). */
function sameAsReference(file: ReturnType<typeof decodeSafetensors>, ref: RefFile): boolean {
  const meta = Object.entries(file.metadata);
  if (meta.length !== ref.metadata.length || meta.some(([k, v], i) => k !== ref.metadata[i][0] || v !== ref.metadata[i][1])) return false;
  const got = [...file.tensors];
  if (got.length !== ref.tensors.length) return false;
  return got.every(([name, t], i) => {
    const [rn, r] = ref.tensors[i];
    return name === rn && t.dtype === r.dtype && t.shape.length === r.shape.length && t.shape.every((d, j) => d === r.shape[j]) && sameBytes(t.data, r.bytes);
  });
}

function checkSafetensors(bytes: Uint8Array): void {
  const ref = reference(bytes);
  const got = outcome(() => decodeSafetensors(bytes, SOURCE));
  if (!got.ok) {
    expectReaderError(got.error, SafetensorsError, SOURCE);
    check(ref === null, () => `rejected a valid file: ${(got.error as Error).message}`);
    tally.refused(got.error, SOURCE);
    return;
  }
  check(ref !== null, 'accepted an invalid file');
  tally.parsed();
  check(sameAsReference(got.value, ref), 'the parse differs from the bytes');
}

// ---- building files ---------------------------------------------------------------------------

const ZEROS = '0'.repeat(64);

/** A file from a header value (any JSON value, written with JSON.stringify) and the data section. */
function build(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let json = Buffer.from(JSON.stringify(header) ?? 'null', 'utf8');
  if (pad && json.length % 8) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Fills in the checksum by the documented rule: SHA-256 of the file with its 64 digits as '0'. */
function sign(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1');
  const key = '"checksum":"sha256:';
  const at = text.indexOf(key);
  if (at < 0 || text.indexOf(key, at + 1) >= 0) return bytes;
  const start = at + key.length;
  const b = Buffer.from(bytes);
  b.write(ZEROS, start, 'latin1');
  b.write(createHash('sha256').update(b).digest('hex'), start, 'latin1');
  return new Uint8Array(b);
}

/** Whether the checksum verifies by the documented rule (one key, 64 lowercase hex digits, the sum). */
function checksumVerifies(bytes: Uint8Array, checksum: unknown): boolean {
  if (typeof checksum !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(checksum)) return false;
  const text = Buffer.from(bytes).toString('latin1');
  const key = '"checksum":"sha256:';
  const at = text.indexOf(key);
  if (at < 0 || text.indexOf(key, at + 1) >= 0) return false;
  const start = at + key.length;
  const b = Buffer.from(bytes);
  b.write(ZEROS, start, 'latin1');
  return createHash('sha256').update(b).digest('hex') === checksum.slice(7);
}

// ---- header mutations ---------------------------------------------------------------------------

const NAMES = ['fc.weight', 'fc.bias', 'sampler/x/perm', 'flags', 'empty'];
const TRICKY_KEYS = ['__proto__', 'constructor', 'toString', '', 'a\nb', 'quote"d', 'checksum', '__metadata__', 'é', 'x'.repeat(300)];
const number = fc.oneof(
  fc.constantFrom<unknown>(0, 1, 2, 3, 4, 5, 6, 24, 48, 63, 64, -1, -0, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, '3', null, true),
  fc.integer({ min: -2, max: 80 }),
);
const anyValue = fc.oneof(number, fc.constantFrom<unknown>([], [1, 2], {}, { a: 1 }, 'F32', 'x', ''), fc.jsonValue({ maxDepth: 2 }));

type HeaderEdit =
  | { kind: 'dtype'; t: number; value: unknown }
  | { kind: 'shape'; t: number; value: unknown[] }
  | { kind: 'dim'; t: number; i: number; value: unknown }
  | { kind: 'offset'; t: number; i: number; value: unknown }
  | { kind: 'offsets'; t: number; value: unknown }
  | { kind: 'field'; t: number; key: string; value: unknown }
  | { kind: 'dropField'; t: number; key: string }
  | { kind: 'entry'; t: number; value: unknown }
  | { kind: 'rename'; t: number; name: string }
  | { kind: 'drop'; t: number }
  | { kind: 'meta'; key: string; value: unknown }
  | { kind: 'metaObject'; value: unknown }
  | { kind: 'header'; value: unknown };

const t = fc.nat({ max: NAMES.length - 1 });
const key = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...TRICKY_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom('dtype', 'shape', 'data_offsets', 'format', 'trainer', 'config', 'data', 'extra') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const headerEdit: fc.Arbitrary<HeaderEdit> = fc.oneof(
  fc.record({ kind: fc.constant('dtype' as const), t, value: fc.oneof(fc.constantFrom(...Object.keys(DTYPE_SIZE)), anyValue) }),
  fc.record({ kind: fc.constant('shape' as const), t, value: fc.array(number, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('dim' as const), t, i: fc.nat({ max: 2 }), value: number }),
  fc.record({ kind: fc.constant('offset' as const), t, i: fc.nat({ max: 1 }), value: number }),
  fc.record({ kind: fc.constant('offsets' as const), t, value: anyValue }),
  fc.record({ kind: fc.constant('field' as const), t, key, value: anyValue }),
  fc.record({ kind: fc.constant('dropField' as const), t, key: fc.constantFrom('dtype', 'shape', 'data_offsets') }),
  fc.record({ kind: fc.constant('entry' as const), t, value: anyValue }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), t, name: key }) },
  fc.record({ kind: fc.constant('drop' as const), t }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('meta' as const), key, value: fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: anyValue }) }) },
  fc.record({ kind: fc.constant('metaObject' as const), value: anyValue }),
  fc.record({ kind: fc.constant('header' as const), value: anyValue }),
);

/** A deep copy of the valid header with the edits applied (order of keys kept, renamed keys in place). */
function editHeader(edits: HeaderEdit[]): unknown {
  let h: unknown = JSON.parse(JSON.stringify(HEADER));
  for (const e of edits) {
    if (typeof h !== 'object' || h === null || Array.isArray(h)) break;
    const obj = h as Record<string, unknown>;
    const names = Object.keys(obj).filter((k) => k !== '__metadata__');
    const name = 't' in e ? names[e.t % Math.max(1, names.length)] : undefined;
    const entry = name === undefined ? undefined : obj[name];
    const ent = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : null;
    switch (e.kind) {
      case 'dtype':
        if (ent) ent.dtype = e.value;
        break;
      case 'shape':
        if (ent) ent.shape = e.value;
        break;
      case 'dim':
        if (ent && Array.isArray(ent.shape) && ent.shape.length) ent.shape[e.i % ent.shape.length] = e.value;
        break;
      case 'offset':
        if (ent && Array.isArray(ent.data_offsets)) ent.data_offsets[e.i] = e.value;
        break;
      case 'offsets':
        if (ent) ent.data_offsets = e.value;
        break;
      case 'field':
        if (ent) Object.defineProperty(ent, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
        break;
      case 'dropField':
        if (ent) delete ent[e.key];
        break;
      case 'entry':
        if (name !== undefined) obj[name] = e.value;
        break;
      case 'rename':
        if (name !== undefined) {
          const renamed: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(obj)) Object.defineProperty(renamed, k === name ? e.name : k, { value: v, enumerable: true, writable: true, configurable: true });
          h = renamed;
        }
        break;
      case 'drop':
        if (name !== undefined) delete obj[name];
        break;
      case 'meta': {
        const m = obj.__metadata__;
        if (typeof m === 'object' && m !== null && !Array.isArray(m)) Object.defineProperty(m, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
        break;
      }
      case 'metaObject':
        obj.__metadata__ = e.value;
        break;
      case 'header':
        h = e.value;
        break;
    }
  }
  return h;
}

/** Length-prefix values: edges around the header, the file, 32 and 53 bits, and 2^64-1. */
const lengthPrefix = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 7n, 8n, BigInt(HEADER_LEN - 1), BigInt(HEADER_LEN + 1), BigInt(HEADER_LEN + 8), BigInt(CKPT.length - 8), BigInt(CKPT.length), 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: BigInt(CKPT.length) }),
);

// ---- checkpoints --------------------------------------------------------------------------------

const parses = (s: string | undefined) => outcome(() => JSON.parse(s!)).ok;

/** Whether a valid safetensors file is a checkpoint to load: format, verified checksum, readable metadata. */
function shouldLoad(bytes: Uint8Array, meta: Record<string, string>): boolean {
  if (meta.format !== CHECKPOINT_FORMAT || !checksumVerifies(bytes, meta.checksum)) return false;
  if (meta.trainer === undefined || meta.config === undefined || meta.data === undefined) return false;
  if (!parses(meta.trainer) || !parses(meta.config) || (meta.extra !== undefined && !parses(meta.extra))) return false;
  const info = JSON.parse(meta.trainer) as unknown;
  return typeof info === 'object' && info !== null && !Array.isArray(info);
}

/** Checks one input; returns whether it was loaded. */
function checkCheckpoint(bytes: Uint8Array): boolean {
  const got = outcome(() => decodeCheckpoint(bytes, SOURCE));
  const ref = reference(bytes);
  const meta = ref ? Object.fromEntries(ref.metadata) : {};
  if (!got.ok) {
    expectReaderError(got.error, CheckpointError, `checkpoint ${SOURCE} `, { contains: true });
    check(!(ref && shouldLoad(bytes, meta)), () => `refused a checkpoint that verifies: ${(got.error as Error).message}`);
    tally.refused(got.error, `checkpoint ${SOURCE}`);
    return false;
  }
  tally.parsed();
  // Loaded: a valid file, of this format, whose checksum verifies, with the metadata it says.
  check(ref !== null, 'loaded an invalid safetensors file');
  check(shouldLoad(bytes, meta), 'loaded a checkpoint of another format, with a checksum that does not verify or unreadable metadata');
  const { state, meta: m } = got.value;
  check(JSON.stringify(state.info) === JSON.stringify(JSON.parse(meta.trainer)), 'trainer state differs from the metadata');
  check(JSON.stringify(m.config) === JSON.stringify(JSON.parse(meta.config)) && m.data === meta.data, 'config or data differs from the metadata');
  check(meta.extra === undefined ? m.extra === undefined : JSON.stringify(m.extra) === JSON.stringify(JSON.parse(meta.extra)), 'extra differs from the metadata');
  check(sameAsReference({ metadata: Object.fromEntries(ref.metadata), tensors: state.tensors }, ref), 'tensors differ from the bytes');
  return true;
}

const metaValue = fc.oneof(
  fc.constantFrom('', 'null', '[]', '[1]', '{}', '{"a":1}', '1', '"x"', 'true', '{', 'undefined', CHECKPOINT_FORMAT, 'l2rw-checkpoint/2', 'sha256:' + 'f'.repeat(64), 'sha256:' + 'F'.repeat(64), JSON.stringify(STATE.info)),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
);
type MetaEdit = { key: string; value: string | null };
const metaEdit: fc.Arbitrary<MetaEdit> = fc.record({
  key: fc.constantFrom('format', 'trainer', 'config', 'data', 'extra', 'checksum', '__proto__', 'other'),
  value: fc.option(metaValue, { nil: null }),
});

/** The valid checkpoint with metadata values replaced (null: removed), and (maybe) tensor edits, re-signed. */
function editedCheckpoint(edits: MetaEdit[], tensorEdits: HeaderEdit[], resign: boolean): Uint8Array {
  const h = editHeader(tensorEdits) as Record<string, unknown>;
  if (typeof h === 'object' && h !== null && !Array.isArray(h)) {
    const m = h.__metadata__;
    if (typeof m === 'object' && m !== null && !Array.isArray(m)) {
      const meta = m as Record<string, unknown>;
      for (const e of edits) {
        if (e.value === null) delete meta[e.key];
        else Object.defineProperty(meta, e.key, { value: e.key === 'checksum' && resign ? `sha256:${ZEROS}` : e.value, enumerable: true, writable: true, configurable: true });
      }
    }
  }
  const bytes = build(h, DATA);
  return resign ? sign(bytes) : bytes;
}

// ---- the properties ---------------------------------------------------------------------------

describe('safetensors reader, fuzzed', () => {
  it('the valid file reads back as built', () => {
    checkSafetensors(CKPT);
    expect([...decodeSafetensors(CKPT, SOURCE).tensors.keys()]).toEqual(NAMES);
    expect(reference(CKPT)).not.toBeNull();
  });

  it('bytes: truncated, flipped, overwritten, inserted, deleted, anywhere', () => {
    tally = new Tally('safetensors bytes');
    fc.assert(
      fc.property(byteMutations(8 + HEADER_LEN), embedOffset, (ms, pad) => checkSafetensors(embed(applyMutations(CKPT, ms), pad))),
      { seed: 0x5afe, numRuns: 1500 },
    );
    tally.print();
  }, TIMEOUT);

  it('the data section: any bytes there read back as they are', () => {
    tally = new Tally('safetensors data section');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: DATA.length, maxLength: DATA.length }), (data) => {
        const bytes = concatBytes(CKPT.subarray(0, 8 + HEADER_LEN), data);
        checkSafetensors(bytes);
        const t = decodeSafetensors(bytes, SOURCE).tensors.get('fc.weight')!;
        check(sameBytes(t.data, data.subarray(0, 24)), 'fc.weight differs');
      }),
      { seed: 0xda7a, numRuns: 300 },
    );
    tally.print();
  }, TIMEOUT);

  it('the u64 length prefix: 0, off by one, the file length, 2^32, 2^53, 2^64-1, any', () => {
    tally = new Tally('safetensors length prefix');
    fc.assert(
      fc.property(lengthPrefix, fc.option(byteMutations(), { nil: undefined }), (n, ms) => {
        const b = CKPT.slice();
        new DataView(b.buffer).setBigUint64(0, n, true);
        const start = performance.now();
        checkSafetensors(ms ? applyMutations(b, ms) : b);
        check(performance.now() - start < 1000, 'slow');
      }),
      { seed: 0x1e9, numRuns: 600 },
    );
    tally.print();
  }, TIMEOUT);

  it('JSON header fields: dtype, shape, data_offsets, unknown fields, names, metadata, the header itself', () => {
    tally = new Tally('safetensors header fields');
    // The data section resized (by -8..8 bytes) in a quarter of the cases.
    const resizeBy = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }) });
    fc.assert(
      fc.property(fc.array(headerEdit, { minLength: 1, maxLength: 3 }), fc.boolean(), resizeBy, (edits, pad, resize) => {
        let data: Uint8Array = DATA;
        if (resize < 0) data = DATA.subarray(0, DATA.length + resize);
        else if (resize > 0) data = concatBytes(DATA, new Uint8Array(resize));
        checkSafetensors(build(editHeader(edits), data, pad));
      }),
      { seed: 0x4ead5, numRuns: 1500 },
    );
    tally.print();
  }, TIMEOUT);
});

describe('what the fuzzing found (fixed), as fixed cases', () => {
  it('a tensor or metadata name with a newline, and a JSON error quoting a newline, give one-line messages', () => {
    for (const bytes of [
      build({ 'a\nb': [] }, new Uint8Array(0)),
      build({ __metadata__: { 'x\ny': 1 } }, new Uint8Array(0)),
      build({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1], 'odd\nfield': 1 } }, new Uint8Array(1)),
      concatBytes(build({}, new Uint8Array(0)).subarray(0, 8), new TextEncoder().encode('{\n"a":\n[0,1]x}')),
    ]) {
      const b = bytes.slice();
      new DataView(b.buffer).setBigUint64(0, BigInt(b.length - 8), true);
      const e = outcome(() => decodeSafetensors(b, SOURCE));
      expect(e.ok).toBe(false);
      expectReaderError((e as { error: unknown }).error, SafetensorsError, SOURCE);
    }
    expect(() => decodeSafetensors(build({ 'a\nb': [] }, new Uint8Array(0)), SOURCE)).toThrow(`${SOURCE}: tensor "a\\nb" is not an object`);
  });

  it('a metadata key "__proto__" is read as a key like any other', () => {
    const meta: Record<string, string> = {};
    Object.defineProperty(meta, '__proto__', { value: 'v', enumerable: true });
    const file = decodeSafetensors(build({ __metadata__: meta }, new Uint8Array(0)), SOURCE);
    expect(Object.entries(file.metadata)).toEqual([['__proto__', 'v']]);
    expect(Object.getPrototypeOf(file.metadata)).toBe(Object.prototype);
  });

  it('a checkpoint whose trainer metadata is a JSON array is refused, even with a valid checksum', () => {
    const bytes = editedCheckpoint([{ key: 'trainer', value: '[1]' }], [], true);
    expect(() => decodeCheckpoint(bytes, SOURCE)).toThrow(`checkpoint ${SOURCE} has no trainer state (its trainer metadata is not a JSON object); it was not loaded`);
  });
});

describe('checkpoint reader, fuzzed', () => {
  it('the valid checkpoint loads', () => {
    checkCheckpoint(CKPT);
    const c = decodeCheckpoint(CKPT, SOURCE);
    expect(c.state.info).toEqual(STATE.info);
    expect(c.meta).toEqual(META);
  });

  it('bytes: every change is refused (checksum or structure), naming the file', () => {
    tally = new Tally('checkpoint bytes');
    fc.assert(
      fc.property(byteMutations(8 + HEADER_LEN), embedOffset, (ms, pad) => {
        const bytes = applyMutations(CKPT, ms);
        const loaded = checkCheckpoint(embed(bytes, pad));
        check(!loaded || sameBytes(bytes, CKPT), 'a changed checkpoint was loaded');
      }),
      { seed: 0xc4e, numRuns: 1000 },
    );
    tally.print();
  }, TIMEOUT);

  it('metadata (format, trainer, config, data, extra, checksum) and tensor entries rewritten, checksum recomputed', () => {
    tally = new Tally('checkpoint metadata, re-signed');
    fc.assert(
      fc.property(fc.array(metaEdit, { minLength: 1, maxLength: 3 }), fc.array(headerEdit, { maxLength: 1 }), fc.boolean(), (edits, tensorEdits, resign) => {
        checkCheckpoint(editedCheckpoint(edits, tensorEdits, resign));
      }),
      { seed: 0xc4f, numRuns: 1000 },
    );
    tally.print();
  }, TIMEOUT);

  it('readCheckpoint on mutated files on disk', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'l2rw-fuzz-checkpoint-'));
    try {
      let k = 0;
      await fc.assert(
        fc.asyncProperty(byteMutations(8 + HEADER_LEN), async (ms) => {
          const file = path.join(dir, `c${k++}.safetensors`);
          const bytes = applyMutations(CKPT, ms);
          writeFileSync(file, bytes);
          try {
            const c = await readCheckpoint(file);
            expect(sameBytes(bytes, CKPT)).toBe(true);
            expect(c.meta).toEqual(META);
          } catch (e) {
            expectReaderError(e, CheckpointError, `checkpoint ${file} `, { contains: true });
          }
        }),
        { seed: 0xf11e, numRuns: 10 },
      );
      await expect(readCheckpoint(dir)).rejects.toThrow(`cannot read checkpoint ${dir}: it is a directory`);
      await expect(readCheckpoint(path.join(dir, 'none'))).rejects.toThrow(/no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT);
});
