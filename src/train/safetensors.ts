// The safetensors layout (https://github.com/huggingface/safetensors), written and read in memory so
// that it works in Node and in the browser: an 8-byte little-endian u64 N, N bytes of JSON header
//   {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// (offsets relative to the first byte after the header; the writer pads the header with spaces to a
// multiple of 8 so the data is aligned), then the tensors' raw little-endian bytes, packed in order.
// The reader is strict: every inconsistency is an error naming the source and what is wrong, never a
// partial or out-of-range read.

export const DTYPE_SIZE = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;
export type Dtype = keyof typeof DTYPE_SIZE;

export interface SafeTensor {
  dtype: Dtype;
  shape: readonly number[];
  /** Raw little-endian bytes (a typed array is taken as its bytes). Read tensors hold a copy of theirs. */
  data: ArrayBufferView;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** In the order of their data. */
  tensors: Map<string, SafeTensor>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const METADATA = '__metadata__';
/** Larger headers are refused (the reference implementation's limit is 100 MB as well). */
const MAX_HEADER = 100_000_000;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('safetensors.ts assumes a little-endian host');

/** A header value in an error message: JSON (so a name with a newline or a quote stays one line), shortened. */
function shown(v: unknown): string {
  return shorten(JSON.stringify(v) ?? String(v));
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The file's bytes: header (padded with spaces to a multiple of 8), then every tensor's data in the given order. */
export function encodeSafetensors(tensors: Iterable<[string, SafeTensor]> | Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = Symbol.iterator in tensors ? [...(tensors as Iterable<[string, SafeTensor]>)] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" must be a string, got ${typeof v}`);
    header[METADATA] = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === METADATA) throw new SafetensorsError(`"${METADATA}" cannot name a tensor`);
    if (Object.prototype.hasOwnProperty.call(header, name)) throw new SafetensorsError(`tensor "${name}" is given twice`);
    const size = DTYPE_SIZE[t.dtype];
    if (size === undefined) throw new SafetensorsError(`tensor "${name}": unknown dtype ${t.dtype}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`tensor "${name}": bad shape [${t.shape}]`);
    const bytes = elementCount(t.shape) * size;
    if (t.data.byteLength !== bytes) throw new SafetensorsError(`tensor "${name}": shape [${t.shape}] of ${t.dtype} needs ${bytes} bytes, got ${t.data.byteLength}`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let at = 8 + padded;
  for (const [, t] of entries) {
    out.set(bytesOf(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Parses safetensors bytes; `source` (a file name) starts every error message. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  function fail(what: string): never {
    throw new SafetensorsError(`${source}: ${what}`);
  }
  if (bytes.length < 8) fail(`${bytes.length} bytes, too short for the 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) fail(`header length ${n64} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  const n = Number(n64);
  if (n > MAX_HEADER) fail(`header length ${n} is over the ${MAX_HEADER}-byte limit`);
  if (n < 2) fail(`header length ${n} is too short for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`"${METADATA}" is not an object`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`metadata ${shown(k)} is not a string`);
        // defineProperty: a key "__proto__" is kept as data, not taken as the object's prototype.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const what = `tensor ${shown(name)}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return fail(`${what} is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    const keys = Object.keys(entry).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (keys.length) fail(`${what} has unknown field(s) ${shorten(keys.map((k) => JSON.stringify(k).slice(1, -1)).join(', '))}`);
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype)) fail(`${what} has unknown dtype ${shown(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`${what} has a bad shape ${shown(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${what} has bad data_offsets ${shown(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`${what} has data_offsets [${begin}, ${end}] that end before they begin`);
    if (end > dataLength) fail(`${what} ends at byte ${end} of a ${dataLength}-byte data section (truncated?)`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = count * DTYPE_SIZE[dtype as Dtype];
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      fail(`${what}: shape [${shape}] of ${dtype} is ${expected} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    spans.push({ name, dtype: dtype as Dtype, shape: shape as number[], begin, end });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const s of spans) {
    if (s.begin < at) fail(`tensor ${shown(s.name)} (bytes ${s.begin}..${s.end}) overlaps the tensor before it (which ends at ${at})`);
    if (s.begin > at) fail(`bytes ${at}..${s.begin} of the data section belong to no tensor (before ${shown(s.name)})`);
    at = s.end;
  }
  if (at !== dataLength) fail(`${dataLength - at} trailing bytes after the last tensor`);
  const tensors = new Map<string, SafeTensor>();
  for (const s of spans) tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data: bytes.slice(dataStart + s.begin, dataStart + s.end) });
  return { metadata, tensors };
}

/** A tensor's values as a Float32Array (it must be F32). */
export function asF32(t: SafeTensor, name = 'tensor'): Float32Array {
  if (t.dtype !== 'F32') throw new SafetensorsError(`${name} is ${t.dtype}, expected F32`);
  const b = bytesOf(t.data);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** A tensor's values as a Uint32Array (it must be U32). */
export function asU32(t: SafeTensor, name = 'tensor'): Uint32Array {
  if (t.dtype !== 'U32') throw new SafetensorsError(`${name} is ${t.dtype}, expected U32`);
  const b = bytesOf(t.data);
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
