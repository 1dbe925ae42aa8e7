// IDX file parsing (the format MNIST ships in).
//
// An IDX file is a big-endian header followed by a dense row-major payload:
//   bytes 0-1  zero
//   byte  2    element type (0x08 = unsigned byte, the only one MNIST uses)
//   byte  3    number of dimensions
//   then one u32 per dimension, then the data.
// So MNIST images have magic 0x00000803 (u8, 3 dims: n, rows, cols) and labels 0x00000801 (u8, 1 dim: n).
//
// Every check fails with one line "<file>: <what is wrong>: <what was expected>", because a wrong or
// half-downloaded data file is the most common way a training run goes astray before it starts.
//
// This module has no static Node imports, so the parsers also work in a browser. Gzip input is detected
// by its magic bytes (1f 8b), whatever the file is called, since browsers often save a `.gz` download
// already decompressed under the same name; decompressing needs Node (node:zlib gunzipSync).

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxImages {
  n: number;
  rows: number;
  cols: number;
  /** n*rows*cols bytes, row-major, a view into the parsed buffer (no copy). */
  pixels: Uint8Array;
}

export interface IdxLabels {
  n: number;
  /** n bytes, a view into the parsed buffer (no copy). */
  labels: Uint8Array;
}

export interface IdxImageExpectation {
  rows?: number;
  cols?: number;
}

/** An IDX (or gzip) file that does not hold what its caller needs. `message` is "<file>: <problem>". */
export class IdxFormatError extends Error {
  override readonly name = 'IdxFormatError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'u8',
  0x09: 'i8',
  0x0b: 'i16',
  0x0c: 'i32',
  0x0d: 'f32',
  0x0e: 'f64',
};

function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

function describeMagic(bytes: Uint8Array): string {
  const m = readU32(bytes, 0);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    const hint = bytes[0] === 0x3c ? ', looks like HTML/XML: a failed download?' : '';
    return `${hex32(m)} (bytes ${head}: not an IDX file${hint})`;
  }
  const type = TYPE_NAMES[bytes[2]] ?? `unknown type 0x${bytes[2].toString(16).padStart(2, '0')}`;
  return `${hex32(m)} (${type}, ${bytes[3]} dimension${bytes[3] === 1 ? '' : 's'})`;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

interface ZlibLike {
  gunzipSync(buf: Uint8Array): Uint8Array;
}

function nodeZlib(): ZlibLike | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.('node:zlib') as ZlibLike | undefined;
}

/**
 * Returns the IDX bytes of a file's contents: gunzipped when they are gzip data (detected by the gzip
 * magic number, so both `foo.gz` and an already-decompressed file that kept the `.gz` name work),
 * unchanged otherwise. `name` is used only in error messages.
 */
export function decodeIdxBytes(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) {
    if (name.endsWith('.gz') && bytes.length >= 2 && (bytes[0] !== 0 || bytes[1] !== 0)) {
      throw new IdxFormatError(
        name,
        `named .gz but is neither gzip data (expected bytes 1f 8b) nor an IDX file (expected bytes 00 00), found ${describeMagic(bytes.length >= 4 ? bytes : padTo4(bytes))}`,
      );
    }
    return bytes;
  }
  const zlib = nodeZlib();
  if (!zlib) throw new IdxFormatError(name, 'is gzip-compressed and this runtime has no node:zlib: decompress it first (gunzip)');
  try {
    const out = zlib.gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new IdxFormatError(name, `is not valid gzip data (${(e as Error).message}): re-download it or decompress it with gunzip`);
  }
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const p = new Uint8Array(4);
  p.set(bytes.subarray(0, 4));
  return p;
}

function checkHeader(bytes: Uint8Array, name: string, magic: number, what: string, ndims: number): void {
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < 4) {
    throw new IdxFormatError(
      name,
      `too short to be an IDX file: ${bytes.length} bytes, expected a ${headerBytes}-byte ${what} header (magic ${hex32(magic)}) and data`,
    );
  }
  const found = readU32(bytes, 0);
  if (found !== magic) {
    const swapped =
      magic === IDX_IMAGES_MAGIC && found === IDX_LABELS_MAGIC
        ? ' (this is a labels file; images were expected here)'
        : magic === IDX_LABELS_MAGIC && found === IDX_IMAGES_MAGIC
          ? ' (this is an images file; labels were expected here)'
          : '';
    throw new IdxFormatError(
      name,
      `wrong magic number ${describeMagic(bytes)}, expected ${hex32(magic)} (u8, ${ndims} dimension${ndims === 1 ? '' : 's'}: ${what})${swapped}`,
    );
  }
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(name, `truncated header: ${bytes.length} bytes, but an IDX ${what} header is ${headerBytes} bytes`);
  }
}

/** `expected` is exact (a BigInt): three u32 dimensions multiply to more than 2^53. */
function checkLength(bytes: Uint8Array, name: string, says: string, expected: bigint, gunzipped: boolean): void {
  const length = BigInt(bytes.length);
  if (length === expected) return;
  const has = `the file has ${bytes.length} bytes${gunzipped ? ' after gunzip' : ''}`;
  if (length < expected) throw new IdxFormatError(name, `truncated: header says ${says} (${expected} bytes) but ${has}`);
  throw new IdxFormatError(
    name,
    `${length - expected} unexpected trailing bytes: header says ${says} (${expected} bytes) but ${has}`,
  );
}

/**
 * Parses an IDX u8 image file (magic 0x00000803, dims [n, rows, cols]). `bytes` may be gzip data.
 * With `expect`, the image size must match (MNIST: 28x28). The byte length must be exactly
 * 16 + n*rows*cols.
 */
export function parseIdxImages(bytes: Uint8Array, name: string, expect: IdxImageExpectation = {}): IdxImages {
  const gz = isGzip(bytes);
  const raw = decodeIdxBytes(bytes, name);
  checkHeader(raw, name, IDX_IMAGES_MAGIC, 'images [n, rows, cols]', 3);
  const n = readU32(raw, 4);
  const rows = readU32(raw, 8);
  const cols = readU32(raw, 12);
  const says = `${n}x${rows}x${cols} images`;
  if (n === 0) throw new IdxFormatError(name, `header says ${says}: no images, expected at least 1`);
  if (rows === 0 || cols === 0) throw new IdxFormatError(name, `header says ${says}: expected rows and cols >= 1`);
  if ((expect.rows !== undefined && rows !== expect.rows) || (expect.cols !== undefined && cols !== expect.cols)) {
    throw new IdxFormatError(
      name,
      `wrong image size: header says ${says} (${rows}x${cols} pixels each) but expected ${expect.rows ?? rows}x${expect.cols ?? cols} pixels`,
    );
  }
  checkLength(raw, name, says, 16n + BigInt(n) * BigInt(rows) * BigInt(cols), gz);
  return { n, rows, cols, pixels: new Uint8Array(raw.buffer, raw.byteOffset + 16, raw.length - 16) };
}

/**
 * Parses an IDX u8 label file (magic 0x00000801, dims [n]). `bytes` may be gzip data.
 * The byte length must be exactly 8 + n.
 */
export function parseIdxLabels(bytes: Uint8Array, name: string): IdxLabels {
  const gz = isGzip(bytes);
  const raw = decodeIdxBytes(bytes, name);
  checkHeader(raw, name, IDX_LABELS_MAGIC, 'labels [n]', 1);
  const n = readU32(raw, 4);
  if (n === 0) throw new IdxFormatError(name, 'header says 0 labels, expected at least 1');
  checkLength(raw, name, `${n} labels`, 8n + BigInt(n), gz);
  return { n, labels: new Uint8Array(raw.buffer, raw.byteOffset + 8, raw.length - 8) };
}

/** Builds the bytes of an IDX u8 image file (for tests and tools). `pixels` has n*rows*cols bytes. */
export function encodeIdxImages(pixels: Uint8Array, n: number, rows: number, cols: number): Uint8Array {
  if (pixels.length !== n * rows * cols) throw new Error(`encodeIdxImages: ${pixels.length} pixels, expected ${n}x${rows}x${cols} = ${n * rows * cols}`);
  const out = new Uint8Array(16 + pixels.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, IDX_IMAGES_MAGIC);
  dv.setUint32(4, n);
  dv.setUint32(8, rows);
  dv.setUint32(12, cols);
  out.set(pixels, 16);
  return out;
}

/** Builds the bytes of an IDX u8 label file (for tests and tools). */
export function encodeIdxLabels(labels: Uint8Array | ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, IDX_LABELS_MAGIC);
  dv.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}
