// CIFAR-10 and CIFAR-100 from the official binary releases (Node), checked file by file.
//
// The binary version is a sequence of fixed-size records, no header:
//   CIFAR-10  (cifar-10-binary.tar.gz -> cifar-10-batches-bin/): data_batch_1.bin .. data_batch_5.bin
//             (10000 records each) and test_batch.bin (10000); a record is 1 label byte (0-9) and 3072
//             pixel bytes; batches.meta.txt holds the 10 class names, one a line.
//   CIFAR-100 (cifar-100-binary.tar.gz -> cifar-100-binary/): train.bin (50000 records) and test.bin
//             (10000); a record is a coarse label byte (0-19), a fine label byte (0-99; the one used
//             here) and 3072 pixel bytes; fine_label_names.txt holds the 100 fine class names.
// The 3072 pixel bytes are the 1024 red, then green, then blue values of a 32x32 image, rows in
// order: C x H x W, the layout the trainer takes.
//
// Every problem is one line "<file>: <what is wrong>, expected <what>; <where the official files come
// from>". Nothing is downloaded. Node modules are imported lazily, so the parser works in a browser.

import { CIFAR_PAGE, DATASET_INFO, makeImageDataset, type ImageDataset, type Split } from './dataset';

export const CIFAR_ROWS = 32;
export const CIFAR_COLS = 32;
export const CIFAR_CHANNELS = 3;
export const CIFAR_IMAGE_BYTES = CIFAR_CHANNELS * CIFAR_ROWS * CIFAR_COLS;

export type CifarName = 'cifar10' | 'cifar100';

/** The files of one release and what each must hold. */
export interface CifarLayout {
  name: CifarName;
  title: string;
  /** The archive of the binary version, and the folder it unpacks to. */
  archive: string;
  subdir: string;
  trainFiles: string[];
  testFile: string;
  /** Records per training file and in the test file, in the official release. */
  trainRecords: number;
  testRecords: number;
  /** 1 (CIFAR-10: label) or 2 (CIFAR-100: coarse label, fine label). */
  labelBytes: 1 | 2;
  classes: number;
  /** CIFAR-100: the number of coarse classes. */
  coarseClasses?: number;
  /** Class names, one a line, when present. */
  metaFile: string;
}

export const CIFAR_LAYOUTS: Record<CifarName, CifarLayout> = {
  cifar10: {
    name: 'cifar10',
    title: 'CIFAR-10',
    archive: 'cifar-10-binary.tar.gz',
    subdir: 'cifar-10-batches-bin',
    trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    testFile: 'test_batch.bin',
    trainRecords: 10000,
    testRecords: 10000,
    labelBytes: 1,
    classes: 10,
    metaFile: 'batches.meta.txt',
  },
  cifar100: {
    name: 'cifar100',
    title: 'CIFAR-100',
    archive: 'cifar-100-binary.tar.gz',
    subdir: 'cifar-100-binary',
    trainFiles: ['train.bin'],
    testFile: 'test.bin',
    trainRecords: 50000,
    testRecords: 10000,
    labelBytes: 2,
    classes: 100,
    coarseClasses: 20,
    metaFile: 'fine_label_names.txt',
  },
};

/** Bytes per record: the label byte(s) and the 3072 pixel bytes. */
export function cifarRecordBytes(l: Pick<CifarLayout, 'labelBytes'>): number {
  return l.labelBytes + CIFAR_IMAGE_BYTES;
}

function recordLayout(l: CifarLayout): string {
  return l.labelBytes === 1 ? `1 label byte + ${CIFAR_IMAGE_BYTES} pixel bytes` : `a coarse and a fine label byte + ${CIFAR_IMAGE_BYTES} pixel bytes`;
}

/** Where the files come from: appended to every error. */
export function cifarSourceHint(l: CifarLayout): string {
  return `the official binary version (${l.archive}, unpacking to ${l.subdir}/) comes from the CIFAR page (${CIFAR_PAGE})`;
}

/** A CIFAR file that does not hold what it should. `message` is "<file>: <problem>; <source hint>". */
export class CifarFormatError extends Error {
  override readonly name = 'CifarFormatError';
  constructor(
    readonly file: string,
    readonly problem: string,
    layout: CifarLayout,
  ) {
    super(`${file}: ${problem}; ${cifarSourceHint(layout)}`);
  }
}

/** A CIFAR release that cannot be found at all (no folder, no files). */
export class CifarNotFoundError extends Error {
  override readonly name = 'CifarNotFoundError';
}

export interface CifarRecords {
  n: number;
  /** n * 3072 pixel bytes, C x H x W per image. */
  images: Uint8Array;
  /** n labels (CIFAR-100: the fine labels). */
  labels: Uint8Array;
  /** CIFAR-100 only: the n coarse labels. */
  coarse?: Uint8Array;
}

function expectedText(l: CifarLayout, records: number): string {
  const r = cifarRecordBytes(l);
  return `${records} records of ${r} bytes (${recordLayout(l)}) = ${records * r} bytes`;
}

/**
 * Checks a file's size against the release: not empty, a whole number of records, and (when
 * `records` is given) exactly that many. Throws CifarFormatError; returns the record count.
 */
export function checkCifarSize(size: number, file: string, l: CifarLayout, records?: number): number {
  const r = cifarRecordBytes(l);
  const want = records === undefined ? `whole ${r}-byte records (${recordLayout(l)})` : expectedText(l, records);
  if (size === 0) throw new CifarFormatError(file, `empty file (0 bytes), expected ${want}`, l);
  if (size % r !== 0) {
    const whole = Math.floor(size / r);
    throw new CifarFormatError(
      file,
      `${size} bytes is not a whole number of ${r}-byte records: ${whole} whole record${whole === 1 ? '' : 's'} and ${size % r} bytes of a truncated one (or not the binary version), expected ${want}`,
      l,
    );
  }
  const n = size / r;
  if (records !== undefined && n !== records) throw new CifarFormatError(file, `${n} records (${size} bytes), expected ${want}`, l);
  return n;
}

/**
 * Parses the records of one CIFAR binary file: sizes as checkCifarSize, every label in range. The
 * pixels are copied out of the records into one C x H x W array per image, in record order.
 */
export function parseCifarBinary(bytes: Uint8Array, file: string, l: CifarLayout, records?: number): CifarRecords {
  const n = checkCifarSize(bytes.length, file, l, records);
  const r = cifarRecordBytes(l);
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  const coarse = l.labelBytes === 2 ? new Uint8Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const off = i * r;
    if (coarse) {
      const c = bytes[off];
      if (c >= l.coarseClasses!) throw new CifarFormatError(file, `coarse label ${c} in record ${i} (byte ${off}), expected 0-${l.coarseClasses! - 1}`, l);
      coarse[i] = c;
    }
    const y = bytes[off + l.labelBytes - 1];
    if (y >= l.classes) {
      throw new CifarFormatError(file, `${coarse ? 'fine label' : 'label'} ${y} in record ${i} (byte ${off + l.labelBytes - 1}), expected 0-${l.classes - 1}`, l);
    }
    labels[i] = y;
    images.set(bytes.subarray(off + l.labelBytes, off + r), i * CIFAR_IMAGE_BYTES);
  }
  return { n, images, labels, ...(coarse ? { coarse } : {}) };
}

/**
 * The bytes of a CIFAR binary file (for tests and tools): `images` has n * 3072 bytes, `labels` n
 * labels; with `coarse` (CIFAR-100) each record starts with the coarse label, then the fine one.
 */
export function encodeCifarBinary(images: Uint8Array, labels: ArrayLike<number>, coarse?: ArrayLike<number>): Uint8Array {
  const n = labels.length;
  if (images.length !== n * CIFAR_IMAGE_BYTES) throw new Error(`encodeCifarBinary: ${images.length} pixel bytes, expected ${n} x ${CIFAR_IMAGE_BYTES}`);
  if (coarse && coarse.length !== n) throw new Error(`encodeCifarBinary: ${coarse.length} coarse labels for ${n} images`);
  const lb = coarse ? 2 : 1;
  const r = lb + CIFAR_IMAGE_BYTES;
  const out = new Uint8Array(n * r);
  for (let i = 0; i < n; i++) {
    if (coarse) out[i * r] = coarse[i];
    out[i * r + lb - 1] = labels[i];
    out.set(images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), i * r + lb);
  }
  return out;
}

/** Class names from a meta file's text: the non-empty lines, trimmed; there must be `classes`. */
export function parseCifarClassNames(text: string, file: string, l: CifarLayout): string[] {
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length !== l.classes) throw new CifarFormatError(file, `${names.length} class names, expected ${l.classes} (one a line)`, l);
  return names;
}

export interface LoadCifarOptions {
  /** Folder with the release's files, or the folder its archive unpacked into. Required. */
  dataDir?: string;
  /**
   * Records expected per training file and in the test file; default the official counts (CIFAR-10:
   * 10000 per batch and 10000; CIFAR-100: 50000 and 10000). Tests lower them for small files.
   */
  records?: { train?: number; test?: number };
}

const cache = new Map<string, Promise<ImageDataset>>();

/** Forgets the in-process cache of loaded CIFAR data (tests use it). */
export function clearCifarCache(): void {
  cache.clear();
}

type Kind = 'missing' | 'dir' | 'file';

async function kindOf(p: string): Promise<Kind> {
  const fs = await import('node:fs/promises');
  try {
    return (await fs.stat(p)).isDirectory() ? 'dir' : 'file';
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT' || (e as { code?: string }).code === 'ENOTDIR') return 'missing';
    throw e;
  }
}

/** The folder holding the release: `dataDir` itself, or the sub-folder its archive unpacks to. */
async function locate(l: CifarLayout, dataDir: string | undefined): Promise<string> {
  const path = await import('node:path');
  const files = [...l.trainFiles, l.testFile];
  const list = l.trainFiles.length > 1 ? `${l.trainFiles[0]} .. ${l.trainFiles[l.trainFiles.length - 1]} and ${l.testFile}` : files.join(' and ');
  if (dataDir === undefined) {
    throw new CifarNotFoundError(`${l.title} needs --data-dir DIR: a folder with ${list} (or the ${l.subdir}/ folder inside it); ${cifarSourceHint(l)}`);
  }
  const dir = path.resolve(dataDir);
  const k = await kindOf(dir);
  if (k !== 'dir') {
    throw new CifarNotFoundError(`${l.title} not found: --data-dir ${dir} ${k === 'missing' ? 'does not exist' : 'is not a directory'}; pass the folder with ${list}; ${cifarSourceHint(l)}`);
  }
  for (const cand of [dir, path.join(dir, l.subdir)]) {
    for (const f of files) if ((await kindOf(path.join(cand, f))) !== 'missing') return cand;
  }
  // The Python (pickled) release has the same base names without .bin.
  const py = l.name === 'cifar10' ? ['cifar-10-batches-py', 'data_batch_1'] : ['cifar-100-python', 'train'];
  const hasPython = (await kindOf(path.join(dir, py[0]))) === 'dir' || (await kindOf(path.join(dir, py[1]))) === 'file';
  throw new CifarNotFoundError(
    `${l.title} not found in --data-dir ${dir}: no ${list} there or in ${path.join(dir, l.subdir)}` +
      `${hasPython ? ' (this looks like the Python version, which is pickled: the binary version is needed)' : ''}; ${cifarSourceHint(l)}`,
  );
}

/**
 * Loads CIFAR-10 or CIFAR-100 from the official binary files in `opts.dataDir` (or its
 * cifar-10-batches-bin / cifar-100-binary sub-folder). Every file is checked (present, a file, not
 * empty, whole records, the expected record count, labels in range) before the pixels are used;
 * class names come from batches.meta.txt / fine_label_names.txt when present. Cached per folder.
 */
export async function loadCifar(name: CifarName, opts: LoadCifarOptions = {}): Promise<ImageDataset> {
  const l = CIFAR_LAYOUTS[name];
  const trainRecords = opts.records?.train ?? l.trainRecords;
  const testRecords = opts.records?.test ?? l.testRecords;
  for (const v of [trainRecords, testRecords]) if (!Number.isInteger(v) || v < 1) throw new Error(`loadCifar: expected record counts must be positive integers, got ${v}`);
  const dir = await locate(l, opts.dataDir);
  const key = `${name}\0${dir}\0${trainRecords}\0${testRecords}`;
  let p = cache.get(key);
  if (!p) {
    p = readRelease(l, dir, trainRecords, testRecords);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

export const loadCifar10 = (opts: LoadCifarOptions = {}) => loadCifar('cifar10', opts);
export const loadCifar100 = (opts: LoadCifarOptions = {}) => loadCifar('cifar100', opts);

async function readRelease(l: CifarLayout, dir: string, trainRecords: number, testRecords: number): Promise<ImageDataset> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const plan = [...l.trainFiles.map((f) => [f, trainRecords] as const), [l.testFile, testRecords] as const];
  // Sizes first (cheap), so a missing test file is reported before 150 MB of training data is read.
  for (const [f, records] of plan) {
    const p = path.join(dir, f);
    const k = await kindOf(p);
    if (k === 'missing') throw new CifarFormatError(p, `missing, expected the ${l.title} file ${f} with ${expectedText(l, records)}`, l);
    if (k === 'dir') throw new CifarFormatError(p, `is a directory, expected the ${l.title} file ${f} with ${expectedText(l, records)}`, l);
    checkCifarSize((await fs.stat(p)).size, p, l, records);
  }
  const read = async (f: string, records: number) => {
    const p = path.join(dir, f);
    const b = await fs.readFile(p);
    return parseCifarBinary(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), p, l, records);
  };
  const parts: CifarRecords[] = [];
  for (const f of l.trainFiles) parts.push(await read(f, trainRecords));
  const test = await read(l.testFile, testRecords);
  const train = concat(parts);

  let classNames: string[] | undefined;
  const meta = path.join(dir, l.metaFile);
  const mk = await kindOf(meta);
  if (mk === 'dir') throw new CifarFormatError(meta, `is a directory, expected a text file of ${l.classes} class names`, l);
  if (mk === 'file') classNames = parseCifarClassNames(await fs.readFile(meta, 'utf8'), meta, l);
  return makeImageDataset(l.name, toSplit(train), toSplit(test), dir, classNames ?? DATASET_INFO[l.name].classNames);
}

function concat(parts: CifarRecords[]): CifarRecords {
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * CIFAR_IMAGE_BYTES);
    labels.set(p.labels, at);
    at += p.n;
  }
  return { n, images, labels };
}

function toSplit(r: CifarRecords): Split {
  return { images: r.images, labels: r.labels, n: r.n, rows: CIFAR_ROWS, cols: CIFAR_COLS, channels: CIFAR_CHANNELS };
}
