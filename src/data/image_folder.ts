// Own images (`--dataset folder:DIR`), in the layout most image tools use (torchvision's ImageFolder):
//
//   DIR/<class>/...             training images, one sub-folder per class (labels as they are, wrong ones included)
//   DIR/clean/<class>/...       the trusted clean set (a few correctly labelled images per class), or
//   DIR/clean.txt               a list of training images (paths relative to DIR, one per line) to trust instead
//   DIR/test/<class>/...        optional test set; without it HELD_OUT_FRACTION of each class is held out
//
// Classes are the sub-folders of DIR other than clean/ and test/, in name order; images are PNG or
// JPEG files (by extension, any depth below the class folder, in path order); other files and
// hidden entries are skipped. Every image is decoded with sharp (libvips), alpha flattened onto black,
// and resized to size x size (stretched to fit, Lanczos), grey or colour. Node only: node:fs and sharp
// are imported lazily.

import { classCountText, HELD_OUT_FRACTION, holdOutTest, subsetSplit, type OwnDataset, type OwnSplit } from './own_data';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;
/** Folder names under DIR that are not classes. */
export const RESERVED_FOLDERS = ['clean', 'test'] as const;
export const CLEAN_LIST = 'clean.txt';
export const DEFAULT_IMAGE_SIZE = 32;

export interface ImageFolderOptions {
  /** Side of the square images (pixels), or [height, width]. Default DEFAULT_IMAGE_SIZE. */
  size?: number | readonly [number, number];
  /** 1 (grey) or 3 (RGB). Default: 1 when every image is grey (R = G = B in every pixel), else 3. */
  channels?: 1 | 3;
}

export class ImageFolderError extends Error {
  override name = 'ImageFolderError';
}

type Sharp = typeof import('sharp').default;

let sharpModule: Promise<Sharp> | null = null;

/** sharp, imported on first use (Node only; kept out of the package's public types). */
function loadSharp(): Promise<Sharp> {
  sharpModule ??= import('sharp').then(
    (m) => m.default,
    (e: Error) => {
      sharpModule = null;
      throw new ImageFolderError(`reading an image folder needs the sharp package (npm install sharp): ${e.message.split('\n')[0]}`);
    },
  );
  return sharpModule;
}

interface Listing {
  /** Class name -> image paths relative to DIR, in path order. */
  byClass: Map<string, string[]>;
  /** Files skipped (not PNG or JPEG). */
  skipped: number;
}

const isImage = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));

/** The class folders of `root` (or of root/clean, root/test) and their images. */
async function listClasses(root: string, sub: string, reserved: boolean): Promise<Listing> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const base = path.join(root, sub);
  const entries = (await fs.readdir(base, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  const classes = entries
    .filter((e) => e.isDirectory() && !(reserved && (RESERVED_FOLDERS as readonly string[]).includes(e.name)))
    .map((e) => e.name)
    .sort();
  const byClass = new Map<string, string[]>();
  let skipped = 0;
  const walk = async (rel: string, out: string[]) => {
    const items = (await fs.readdir(path.join(root, rel), { withFileTypes: true })).filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of items) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(r, out);
      else if (isImage(e.name)) out.push(r);
      else skipped++;
    }
  };
  for (const c of classes) {
    const files: string[] = [];
    await walk(sub ? `${sub}/${c}` : c, files);
    if (files.length === 0) throw new ImageFolderError(`${path.join(base, c)}: the class folder holds no PNG or JPEG images`);
    byClass.set(c, files);
  }
  return { byClass, skipped };
}

/**
 * Decodes one image file to size[0] x size[1] pixels, channels x H x W bytes (RGB planes, or one grey
 * plane: the image's own grey when R = G = B, else luma 0.299 R + 0.587 G + 0.114 B). `grey` reports
 * whether the image is grey. Errors name the file.
 */
export async function decodeImageFile(file: string, size: readonly [number, number], channels: 1 | 3): Promise<{ pixels: Uint8Array; grey: boolean }> {
  const sharp = await loadSharp();
  const [h, w] = size;
  let data: Buffer;
  try {
    data = await sharp(file, { failOn: 'error' }).flatten({ background: '#000000' }).toColourspace('srgb').resize(w, h, { fit: 'fill' }).raw({ depth: 'uchar' }).toBuffer();
  } catch (e) {
    throw new ImageFolderError(`${file}: cannot read the image (${(e as Error).message.split('\n')[0]})`);
  }
  const plane = h * w;
  if (data.length !== plane * 3) throw new ImageFolderError(`${file}: decoded to ${data.length} bytes, expected ${plane * 3} (${w}x${h} RGB)`);
  let grey = true;
  for (let p = 0; p < plane && grey; p++) grey = data[3 * p] === data[3 * p + 1] && data[3 * p] === data[3 * p + 2];
  const pixels = new Uint8Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [data[3 * p], data[3 * p + 1], data[3 * p + 2]];
    if (channels === 3) {
      pixels[p] = r;
      pixels[plane + p] = g;
      pixels[2 * plane + p] = b;
    } else {
      pixels[p] = grey ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return { pixels, grey };
}

function checkSize(size: ImageFolderOptions['size']): [number, number] {
  const s: [number, number] = size === undefined ? [DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE] : typeof size === 'number' ? [size, size] : [size[0], size[1]];
  if (!s.every((v) => Number.isInteger(v) && v >= 1 && v <= 1024)) throw new ImageFolderError(`image size must be an integer in [1, 1024], got ${s.join('x')}`);
  return s;
}

/**
 * Decodes images (paths relative to root) into one split, a few at a time. Colour images are decoded
 * as RGB first; with `channels` undefined the caller decides afterwards (every image grey: 1).
 */
async function decodeAll(root: string, files: string[], labels: number[], size: [number, number], channels: 1 | 3): Promise<{ split: OwnSplit; grey: boolean }> {
  const path = await import('node:path');
  const dim = channels * size[0] * size[1];
  const x = new Uint8Array(files.length * dim);
  let grey = true;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const d = await decodeImageFile(path.join(root, files[i]), size, channels);
      x.set(d.pixels, i * dim);
      grey &&= d.grey;
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, files.length) }, worker));
  return { split: { x, y: Uint32Array.from(labels), n: files.length, dim, rows: Uint32Array.from(files, (_, i) => i), files }, grey };
}

/** A colour split (3 planes) as grey (the R plane of grey images, luma otherwise). */
function toGrey(s: OwnSplit, plane: number): OwnSplit {
  const x = new Uint8Array(s.n * plane);
  for (let i = 0; i < s.n; i++) {
    const o = i * 3 * plane;
    for (let p = 0; p < plane; p++) {
      const [r, g, b] = [s.x[o + p], s.x[o + plane + p], s.x[o + 2 * plane + p]];
      x[i * plane + p] = r === g && r === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return { ...s, x, dim: plane };
}

/** Reads the clean list: training images to trust (relative to root, one per line; # comments). */
async function readCleanList(root: string, train: string[]): Promise<number[]> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const file = path.join(root, CLEAN_LIST);
  const lines = (await fs.readFile(file, 'utf8')).split(/\r?\n/);
  const where = new Map(train.map((f, i) => [f, i]));
  const picked: number[] = [];
  const seen = new Set<number>();
  lines.forEach((line, k) => {
    const rel = line.trim().replace(/\\/g, '/').replace(/^\.\//, '');
    if (!rel || rel.startsWith('#')) return;
    const i = where.get(rel);
    if (i === undefined) throw new ImageFolderError(`${file}: line ${k + 1}: "${rel}" is not a training image (paths are relative to ${root}, e.g. ${train[0]})`);
    if (seen.has(i)) throw new ImageFolderError(`${file}: line ${k + 1}: "${rel}" is listed twice`);
    seen.add(i);
    picked.push(i);
  });
  if (picked.length === 0) throw new ImageFolderError(`${file}: lists no images`);
  return picked;
}

/**
 * Loads an image folder (layout at the top of this file). Every problem is an ImageFolderError naming
 * the folder or file: no class folders, an empty class folder, a clean or test class that is not a
 * training class, an image that cannot be decoded, no clean set, both clean/ and clean.txt.
 */
export async function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<OwnDataset> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const size = checkSize(opts.size);
  if (opts.channels !== undefined && opts.channels !== 1 && opts.channels !== 3) throw new ImageFolderError(`channels must be 1 (grey) or 3 (colour), got ${opts.channels}`);
  const root = path.resolve(dir);
  const st = await fs.stat(root).catch(() => null);
  if (!st) throw new ImageFolderError(`folder:${dir}: the folder ${root} does not exist`);
  if (!st.isDirectory()) throw new ImageFolderError(`folder:${dir}: ${root} is not a folder`);
  const kind = async (p: string) => {
    const s = await fs.stat(path.join(root, p)).catch(() => null);
    return s ? (s.isDirectory() ? 'dir' : 'file') : null;
  };

  const trainList = await listClasses(root, '', true);
  const classNames = [...trainList.byClass.keys()];
  if (classNames.length === 0) throw new ImageFolderError(`${root}: no class folders (expected ${root}/<class>/*.png or *.jpg, one sub-folder per class)`);
  if (classNames.length < 2) throw new ImageFolderError(`${root}: only one class folder (${classNames[0]}); at least 2 classes are needed`);
  const classOf = new Map(classNames.map((c, k) => [c, k]));
  const flatten = (l: Listing, where: string) => {
    const files: string[] = [];
    const labels: number[] = [];
    for (const [c, fs_] of l.byClass) {
      const k = classOf.get(c);
      if (k === undefined) throw new ImageFolderError(`${path.join(root, where, c)}: "${c}" is not a training class (the classes are ${classNames.join(', ')})`);
      files.push(...fs_);
      labels.push(...fs_.map(() => k));
    }
    return { files, labels };
  };

  const [cleanDir, cleanList, testDir] = [await kind('clean'), await kind(CLEAN_LIST), await kind('test')];
  if (cleanDir === 'dir' && cleanList === 'file') throw new ImageFolderError(`${root}: both clean/ and ${CLEAN_LIST} are there; keep one of them as the clean set`);
  if (cleanDir !== 'dir' && cleanList !== 'file') {
    throw new ImageFolderError(
      `${root}: no trusted clean set: put a few correctly labelled images of each class in ${root}/clean/<class>/, or list training images to trust in ${root}/${CLEAN_LIST}`,
    );
  }
  await loadSharp();
  const t = flatten(trainList, '');
  const cleanListing = cleanDir === 'dir' ? await listClasses(root, 'clean', false) : null;
  if (cleanListing && cleanListing.byClass.size === 0) throw new ImageFolderError(`${path.join(root, 'clean')}: no class folders (expected clean/<class>/*.png)`);
  const c = cleanListing ? flatten(cleanListing, 'clean') : null;
  const testListing = testDir === 'dir' ? await listClasses(root, 'test', false) : null;
  if (testListing && testListing.byClass.size === 0) throw new ImageFolderError(`${path.join(root, 'test')}: no class folders (expected test/<class>/*.png)`);
  const te = testListing ? flatten(testListing, 'test') : null;

  // Decoded as RGB when the channels are not given; made grey afterwards if every image is.
  const decodeChannels = opts.channels ?? 3;
  const trainAll = await decodeAll(root, t.files, t.labels, size, decodeChannels);
  const cleanDecoded = c ? await decodeAll(root, c.files, c.labels, size, decodeChannels) : null;
  const testDecoded = te ? await decodeAll(root, te.files, te.labels, size, decodeChannels) : null;
  const allGrey = [trainAll, cleanDecoded, testDecoded].every((d) => !d || d.grey);
  const channels = opts.channels ?? (allGrey ? 1 : 3);
  const plane = size[0] * size[1];
  const fix = (s: OwnSplit) => (channels === 1 && decodeChannels === 3 ? toGrey(s, plane) : s);

  let train = fix(trainAll.split);
  let clean: OwnSplit;
  if (cleanDecoded) clean = fix(cleanDecoded.split);
  else {
    const picked = await readCleanList(root, t.files);
    const set = new Set(picked);
    clean = subsetSplit(train, picked);
    train = subsetSplit(
      train,
      Array.from({ length: train.n }, (_, i) => i).filter((i) => !set.has(i)),
    );
  }
  let test: OwnSplit;
  if (testDecoded) test = fix(testDecoded.split);
  else ({ train, test } = holdOutTest(train, classNames.length));
  if (test.n === 0) throw new ImageFolderError(`${root}: no test set: there is no test/ folder and too few images to hold ${HELD_OUT_FRACTION * 100}% of a class out; add ${root}/test/<class>/`);
  const skipped = trainList.skipped + (cleanListing?.skipped ?? 0) + (testListing?.skipped ?? 0);
  const title = `image folder ${path.basename(root)}`;
  const sizeText = size[0] === size[1] ? `${size[0]}x${size[0]}` : `${size[0]}x${size[1]}`;
  return {
    own: 'folder',
    spec: `folder:${dir}`,
    dir: root,
    title,
    shape: [channels, size[0], size[1]],
    classes: classNames.length,
    classNames,
    inputFormat: 'uint8',
    train,
    clean,
    test,
    testSource: testDecoded ? 'files' : 'held-out',
    description:
      `${title} (${root}): ${classNames.length} classes, ${sizeText} ${channels === 1 ? 'grey' : 'colour'}; ${train.n} training images (${classCountText(train, classNames)}); ` +
      `clean set ${clean.n} (${cleanDecoded ? 'clean/' : CLEAN_LIST}); test ${test.n} (${testDecoded ? 'test/' : `held out: ${HELD_OUT_FRACTION * 100}% of each class`})` +
      (skipped ? `; ${skipped} other file(s) skipped` : ''),
  };
}
