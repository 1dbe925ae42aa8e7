// NumPy's .npy format (numpy.lib.format), read strictly and written for tests and exports. Browser-safe
// except readNpyFile, which imports node:fs lazily.
//
// A file is the magic "\x93NUMPY", a major and minor version byte (1.0, 2.0 or 3.0), the header length
// (u16 little-endian in version 1, u32 in 2 and 3), then the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (100, 1, 28, 28), }
// padded with spaces and ended by a newline (Latin-1 in versions 1 and 2, UTF-8 in 3), then the
// array's bytes in C order. The parser takes exactly that: the three keys and nothing else, a simple
// little-endian (or byte-sized) dtype, a shape of non-negative integers, C order (fortran_order False:
// a Fortran-ordered array would be read transposed), and exactly as many data bytes as the shape
// needs. Every error is one line that starts with the file it is about.

import { classCountText, HELD_OUT_FRACTION, holdOutTest, type OwnDataset, type OwnSplit } from './own_data';

export const NPY_MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export type NpyDtype = 'bool' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'uint64' | 'int64' | 'float32' | 'float64';

/** Typed arrays by dtype (64-bit integers as BigInt arrays; bool as bytes 0/1). */
export type NpyData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigUint64Array | BigInt64Array | Float32Array | Float64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

/** descr (after its byte-order character) -> dtype and bytes per element. */
const DESCR: Record<string, [NpyDtype, number]> = {
  b1: ['bool', 1],
  u1: ['uint8', 1],
  i1: ['int8', 1],
  u2: ['uint16', 2],
  i2: ['int16', 2],
  u4: ['uint32', 4],
  i4: ['int32', 4],
  u8: ['uint64', 8],
  i8: ['int64', 8],
  f4: ['float32', 4],
  f8: ['float64', 8],
};

const DESCR_OF: Record<NpyDtype, string> = {
  bool: '|b1',
  uint8: '|u1',
  int8: '|i1',
  uint16: '<u2',
  int16: '<i2',
  uint32: '<u4',
  int32: '<i4',
  uint64: '<u8',
  int64: '<i8',
  float32: '<f4',
  float64: '<f8',
};

export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
  constructor(readonly file: string, what: string) {
    super(`${file}: ${what}`);
  }
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('npy.ts assumes a little-endian host');

// A Python literal: the values a .npy header can hold.
type PyValue = string | number | boolean | null | PyValue[] | { tuple: PyValue[] } | Map<string, PyValue>;

/** Parses the header's Python dict literal (strings, integers, True/False/None, tuples, lists, dicts). */
function parsePyLiteral(text: string, fail: (what: string) => never): PyValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /[ \t\r\n]/.test(text[i])) i++;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m = new Map<string, PyValue>();
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return m;
        }
        const k = value();
        if (typeof k !== 'string') fail(`the header's keys must be strings, found ${JSON.stringify(k)}`);
        ws();
        if (text[i] !== ':') fail(`the header has no ':' after the key '${k}'`);
        i++;
        if (m.has(k)) fail(`the header gives '${k}' twice`);
        m.set(k, value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail(`the header's dict is not closed where expected (at character ${i})`);
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      let commas = 0;
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          // (5) is the integer 5 in Python, (5,) the tuple.
          if (c === '(' && items.length === 1 && commas === 0) return items[0];
          return c === '(' ? { tuple: items } : items;
        }
        items.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          commas++;
        } else if (text[i] !== close) fail(`the header has an unclosed ${c === '(' ? 'tuple' : 'list'} (at character ${i})`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('the header has an unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('the header has a string with an escape, which no .npy header needs');
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+)/.exec(text.slice(i));
    if (!m) fail(`the header is not a Python literal at character ${i} ("${text.slice(i, i + 12)}")`);
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    if (text[i] === 'L' || text[i] === 'l') fail(`the header's integer ${m[0]}${text[i]} has a Python 2 long suffix; re-save the array with a current NumPy`);
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) fail(`the header's integer ${m[0]} is too large`);
    return n;
  };
  const v = value();
  ws();
  if (i !== text.length) fail(`the header has text after its dict ("${text.slice(i, i + 12)}")`);
  return v;
}

/** Parses a .npy file's bytes; `file` (its name) starts every error message. The data is copied. */
export function parseNpy(bytes: Uint8Array, file = 'npy data'): NpyArray {
  const fail = (what: string): never => {
    throw new NpyFormatError(file, what);
  };
  if (bytes.length < 10 || NPY_MAGIC.some((b, k) => bytes[k] !== b)) {
    fail(`not a .npy file (it does not start with the magic "\\x93NUMPY"${bytes.length < 10 ? `; ${bytes.length} bytes` : ''}); save arrays with numpy.save`);
  }
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3 || minor !== 0) fail(`unsupported .npy format version ${major}.${minor} (expected 1.0, 2.0 or 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail(`truncated in the header length (${bytes.length} bytes)`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + headerLen > bytes.length) fail(`the header of ${headerLen} bytes runs past the end of the ${bytes.length}-byte file (truncated?)`);
  const raw = bytes.subarray(start, start + headerLen);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(raw);
  } catch {
    return fail('the header is not valid UTF-8');
  }
  if (!text.endsWith('\n')) fail('the header does not end with a newline (a damaged or hand-made file?)');
  const header = parsePyLiteral(text, fail);
  if (!(header instanceof Map)) return fail('the header is not a dict');
  const keys = [...header.keys()];
  for (const need of ['descr', 'fortran_order', 'shape']) if (!header.has(need)) fail(`the header has no '${need}'`);
  const extra = keys.filter((k) => !['descr', 'fortran_order', 'shape'].includes(k));
  if (extra.length) fail(`the header has unknown key(s) ${extra.map((k) => `'${k}'`).join(', ')}`);

  const descr = header.get('descr');
  if (typeof descr !== 'string') return fail(`dtype ${JSON.stringify(descr)} is a structured (record) dtype; save a plain numeric array`);
  const order = descr[0];
  const kind = DESCR[descr.slice(1)];
  if (!kind || !['<', '|', '>', '='].includes(order)) fail(`unsupported dtype '${descr}' (expected a numeric dtype such as '|u1', '<i8' or '<f4')`);
  const [dtype, size] = kind;
  if (order === '>' && size > 1) fail(`dtype '${descr}' is big-endian; save it little-endian (e.g. x.astype('<${descr.slice(1)}'))`);
  if (order === '|' && size > 1) fail(`dtype '${descr}' has no byte order; a ${size}-byte dtype needs '<' (little-endian)`);
  if (order === '=' && size > 1) fail(`dtype '${descr}' has native byte order, which a .npy file never records; re-save it with numpy.save`);

  const fortran = header.get('fortran_order');
  if (typeof fortran !== 'boolean') return fail(`fortran_order must be True or False, got ${JSON.stringify(fortran)}`);
  if (fortran) fail('fortran_order is True: the array is stored column-major; save numpy.ascontiguousarray(x) instead');

  const shapeV = header.get('shape');
  if (typeof shapeV !== 'object' || shapeV === null || !('tuple' in shapeV)) return fail(`the shape must be a tuple, got ${JSON.stringify(shapeV)}`);
  const shape = shapeV.tuple as PyValue[];
  if (!shape.every((d): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) fail(`the shape (${shape.join(', ')}) must be non-negative integers`);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const need = count * size;
  if (!Number.isSafeInteger(need)) fail(`the shape (${shape.join(', ')}) is too large`);
  const dataStart = start + headerLen;
  const have = bytes.length - dataStart;
  if (have < need) fail(`${have} data bytes, but shape (${shape.join(', ')}) of ${dtype} needs ${need} (truncated?)`);
  if (have > need) fail(`${have - need} bytes after the ${need} data bytes of shape (${shape.join(', ')}) of ${dtype}`);
  const copy = bytes.slice(dataStart, dataStart + need).buffer;
  return { dtype, shape: shape as number[], data: typedArray(dtype, copy) };
}

function typedArray(dtype: NpyDtype, buffer: ArrayBuffer): NpyData {
  switch (dtype) {
    case 'bool':
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'uint16':
      return new Uint16Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'uint32':
      return new Uint32Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'uint64':
      return new BigUint64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
  }
}

/**
 * The bytes of a .npy file holding `data` with `shape` (C order), as numpy.save writes them (version
 * 1.0, header padded to a multiple of 64 bytes). `dtype` defaults to the typed array's.
 */
export function encodeNpy(data: NpyData, shape: readonly number[], dtype?: NpyDtype): Uint8Array {
  const dt = dtype ?? dtypeOf(data);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape (${shape.join(', ')}) holds ${count} values, the data has ${data.length}`);
  if (DESCR[DESCR_OF[dt].slice(1)][1] !== data.BYTES_PER_ELEMENT) throw new Error(`encodeNpy: a ${data.constructor.name} cannot be written as ${dt}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[dt]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let k = 0; k < header.length; k++) out[10 + k] = header.charCodeAt(k);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigUint64Array) return 'uint64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

/** Reads and parses a .npy file (Node). */
export async function readNpyFile(file: string): Promise<NpyArray> {
  const fs = await import('node:fs/promises');
  let b: Buffer;
  try {
    b = await fs.readFile(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new NpyFormatError(file, code === 'ENOENT' ? 'missing' : code === 'EISDIR' ? 'is a directory, expected a .npy file' : (e as Error).message);
  }
  return parseNpy(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), file);
}

/**
 * Integer labels as u32 class indices: the array must be 1-D of `n` integers (any integer dtype) in
 * [0, classes) (classes omitted: any non-negative value).
 */
export function npyLabels(a: NpyArray, file: string, n?: number, classes?: number): Uint32Array {
  const fail = (what: string): never => {
    throw new NpyFormatError(file, what);
  };
  if (a.dtype === 'bool' || a.dtype === 'float32' || a.dtype === 'float64') fail(`labels must be integers, got dtype ${a.dtype}${a.dtype === 'bool' ? '' : ` (save y.astype(numpy.int64))`}`);
  if (a.shape.length !== 1) fail(`labels must be a 1-D array, got shape (${a.shape.join(', ')})${a.shape.length === 2 && a.shape[1] === 1 ? '; save y.ravel()' : ''}`);
  if (n !== undefined && a.shape[0] !== n) fail(`${a.shape[0]} labels for ${n} examples`);
  const out = new Uint32Array(a.shape[0]);
  for (let i = 0; i < out.length; i++) {
    const v = Number(a.data[i]);
    if (v < 0 || (classes !== undefined && v >= classes) || v > 0xffff) {
      fail(`label ${v} at index ${i} is out of range (labels must be class indices in [0, ${classes ?? 65536}))`);
    }
    out[i] = v;
  }
  return out;
}

/** The files of an `npy:DIR` data set. */
export const NPY_FILES = {
  x: 'x.npy',
  y: 'y.npy',
  cleanX: 'clean_x.npy',
  cleanY: 'clean_y.npy',
  testX: 'test_x.npy',
  testY: 'test_y.npy',
  classes: 'classes.txt',
} as const;

/**
 * The per-example shape and values of an examples array: uint8 or float32, N x C x H x W (images),
 * N x H x W (one channel) or N x D (vectors). Float values must be finite.
 */
export function npyExamples(a: NpyArray, file: string): { n: number; shape: number[]; x: Uint8Array | Float32Array } {
  const fail = (what: string): never => {
    throw new NpyFormatError(file, what);
  };
  if (a.dtype !== 'uint8' && a.dtype !== 'float32') {
    fail(`examples must be uint8 (pixels 0-255) or float32, got ${a.dtype}${a.dtype === 'float64' ? ' (save x.astype(numpy.float32))' : ''}`);
  }
  const s = a.shape;
  if (s.length < 2 || s.length > 4) fail(`examples must be N x C x H x W (images) or N x D (vectors), got shape (${s.join(', ')})`);
  if (s.length === 4 && s[1] > 4 && (s[3] === 1 || s[3] === 3)) {
    fail(`shape (${s.join(', ')}) looks like N x H x W x C (channels last); save x.transpose(0, 3, 1, 2) for N x C x H x W`);
  }
  if (s.slice(1).some((d) => d === 0)) fail(`shape (${s.join(', ')}) has an empty example dimension`);
  const shape = s.length === 3 ? [1, s[1], s[2]] : s.slice(1);
  const x = a.data as Uint8Array | Float32Array;
  if (x instanceof Float32Array) {
    const bad = x.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`value ${x[bad]} at flat index ${bad} is not finite`);
  }
  return { n: s[0], shape, x };
}

/**
 * Loads own data saved from NumPy or PyTorch (`--dataset npy:DIR`): x.npy (uint8 or float32,
 * N x C x H x W or N x D) with y.npy (N integer labels), the trusted clean set clean_x.npy with
 * clean_y.npy, and optionally a test set test_x.npy with test_y.npy (else HELD_OUT_FRACTION of each
 * class of x.npy is held out). Class names: classes.txt (one per line, in label order) when present,
 * else the label numbers; the classes are 0 .. the largest label.
 */
export async function loadNpyDataset(dir: string): Promise<OwnDataset> {
  const path = await import('node:path');
  const fs = await import('node:fs/promises');
  const root = path.resolve(dir);
  const st = await fs.stat(root).catch(() => null);
  if (!st) throw new Error(`npy:${dir}: the folder ${root} does not exist`);
  if (!st.isDirectory()) throw new Error(`npy:${dir}: ${root} is not a folder (expected a folder with x.npy, y.npy, clean_x.npy and clean_y.npy)`);
  const at = (f: string) => path.join(root, f);
  const exists = async (f: string) => (await fs.stat(at(f)).catch(() => null)) !== null;
  for (const f of [NPY_FILES.x, NPY_FILES.y, NPY_FILES.cleanX, NPY_FILES.cleanY]) {
    if (!(await exists(f))) throw new NpyFormatError(at(f), `missing; an npy data set needs ${NPY_FILES.x} and ${NPY_FILES.y} (training), ${NPY_FILES.cleanX} and ${NPY_FILES.cleanY} (the trusted clean set)`);
  }
  const [hasTestX, hasTestY] = [await exists(NPY_FILES.testX), await exists(NPY_FILES.testY)];
  if (hasTestX !== hasTestY) throw new NpyFormatError(at(hasTestX ? NPY_FILES.testY : NPY_FILES.testX), `missing, but ${hasTestX ? NPY_FILES.testX : NPY_FILES.testY} is there: give both or neither`);

  let classNames: string[] | undefined;
  if (await exists(NPY_FILES.classes)) {
    const text = await fs.readFile(at(NPY_FILES.classes), 'utf8');
    classNames = text.split(/\r?\n/).map((l) => l.trim());
    while (classNames.length && classNames.at(-1) === '') classNames.pop();
    const empty = classNames.indexOf('');
    if (empty >= 0) throw new Error(`${at(NPY_FILES.classes)}: line ${empty + 1} is empty (one class name per line, in label order)`);
    const dup = classNames.find((c, i) => classNames!.indexOf(c) !== i);
    if (dup !== undefined) throw new Error(`${at(NPY_FILES.classes)}: class "${dup}" is named twice`);
  }
  const pairs: [string, string][] = [
    [NPY_FILES.x, NPY_FILES.y],
    [NPY_FILES.cleanX, NPY_FILES.cleanY],
    ...(hasTestX ? [[NPY_FILES.testX, NPY_FILES.testY] as [string, string]] : []),
  ];
  const parts: { xf: string; yf: string; n: number; shape: number[]; x: Uint8Array | Float32Array; yRaw: NpyArray }[] = [];
  for (const [xf, yf] of pairs) {
    const xa = await readNpyFile(at(xf));
    const ex = npyExamples(xa, at(xf));
    const first = parts[0];
    if (first && xa.dtype !== (first.x instanceof Uint8Array ? 'uint8' : 'float32')) {
      throw new NpyFormatError(at(xf), `is ${xa.dtype} but ${first.xf} is ${first.x instanceof Uint8Array ? 'uint8' : 'float32'}: every examples array must have the same dtype`);
    }
    if (first && ex.shape.join('x') !== first.shape.join('x')) {
      throw new NpyFormatError(at(xf), `examples of shape ${ex.shape.join('x')}, but those of ${first.xf} are ${first.shape.join('x')}`);
    }
    if (ex.n === 0) throw new NpyFormatError(at(xf), 'holds no examples');
    parts.push({ xf, yf, ...ex, yRaw: await readNpyFile(at(yf)) });
  }
  // Labels: each file checked against its examples, then all against the classes.
  const labels = parts.map((p) => npyLabels(p.yRaw, at(p.yf), p.n, classNames?.length));
  const classes = classNames?.length ?? Math.max(...labels.map((y) => y.reduce((a, b) => Math.max(a, b), 0))) + 1;
  if (classes < 2) throw new Error(`npy:${dir}: ${classNames ? `${NPY_FILES.classes} names` : 'the labels use'} only ${classes} class; at least 2 are needed`);
  const names = classNames ?? Array.from({ length: classes }, (_, c) => String(c));
  const dim = parts[0].shape.reduce((a, b) => a * b, 1);
  const split = (k: number): OwnSplit => ({ x: parts[k].x, y: labels[k], n: parts[k].n, dim, rows: Uint32Array.from({ length: parts[k].n }, (_, i) => i) });
  let train = split(0);
  const clean = split(1);
  let test: OwnSplit;
  if (hasTestX) test = split(2);
  else ({ train, test } = holdOutTest(train, classes));
  if (test.n === 0) throw new Error(`npy:${dir}: no test set: there is no ${NPY_FILES.testX} and too few examples to hold ${HELD_OUT_FRACTION * 100}% of a class out; add ${NPY_FILES.testX} and ${NPY_FILES.testY}`);
  const shape = parts[0].shape;
  const inputFormat = parts[0].x instanceof Uint8Array ? 'uint8' : 'float32';
  const title = `arrays in ${path.basename(root)}`;
  const shapeText = shape.length === 1 ? `vectors of ${shape[0]}` : `${shape.join('x')} ${inputFormat === 'uint8' ? 'pixels' : 'floats'}`;
  return {
    own: 'npy',
    spec: `npy:${dir}`,
    dir: root,
    title,
    shape,
    classes,
    classNames: names,
    inputFormat,
    train,
    clean,
    test,
    testSource: hasTestX ? 'files' : 'held-out',
    description:
      `${title} (${root}): ${classes} classes, ${shapeText} (${inputFormat}); ${train.n} training examples (${classCountText(train, names)}); ` +
      `clean set ${clean.n} (${NPY_FILES.cleanX}); test ${test.n} (${hasTestX ? NPY_FILES.testX : `held out: ${HELD_OUT_FRACTION * 100}% of each class of ${NPY_FILES.x}`})`,
  };
}
