// Seeded fuzz tests of the IDX reader (src/data/idx.ts) and the MNIST / Fashion-MNIST split reader
// (parseIdxSplit and loadMnist in src/data/mnist.ts), raw and gzip. Each property starts from a small
// valid file built here and applies truncations, bit flips, byte overwrites, insertions, deletions and
// header-field rewrites (magic, n, rows, cols, label values), then requires: the reader's result equals
// what an independent reading of the bytes here says, or, for bytes that are not a valid file, an
// IdxFormatError of one line naming the file (never a RangeError/TypeError, never a hang; a header
// claiming 2^32-1 images is refused without allocating anything).
//
// Cases per property (fixed seeds, so every run draws the same inputs):
//   raw image files, byte mutations ............. 2000
//   raw label files, byte mutations ............. 2000
//   image/label header fields (magic, n, dims) .. 2000
//   gzip files, mutations of the compressed bytes 600
//   gzip of mutated raw files ................... 400
//   MNIST splits (28x28, labels 0-9, gzip or raw) 800
//   loadMnist on mutated files on disk .......... 12
// Outcomes (parsed, refused by kind of message) are printed per property with FUZZ_STATS=1.
//
// Found and fixed: a header whose n*rows*cols passes 2^53 gave a refusal with an inexact byte count
// in exponent notation ("(1.0000048754842256e+21 bytes)"); the expected length is now exact (BigInt).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IdxFormatError, encodeIdxImages, encodeIdxLabels, parseIdxImages, parseIdxLabels, type IdxImageExpectation } from '../../src/data/idx';
import { clearMnistCache, loadMnist, parseIdxSplit } from '../../src/data/mnist';
import { Tally, applyMutations, byteMutations, check, concatBytes, embed, embedOffset, expectReaderError, interestingU32, outcome, sameBytes, setU32BE } from '../helpers/fuzz';

const TIMEOUT = 60_000;
/** The current property's outcomes (printed with FUZZ_STATS=1). */
let tally = new Tally('');
/** A small window keeps gzipping a case cheap (the default's allocation costs more than the case). */
const gzip = (b: Uint8Array) => new Uint8Array(gzipSync(b, { level: 1, memLevel: 1, windowBits: 9 }));

// ---- an independent reading of IDX bytes ---------------------------------------------------------

const be32 = (b: Uint8Array, o: number) => b[o] * 2 ** 24 + b[o + 1] * 2 ** 16 + b[o + 2] * 2 ** 8 + b[o + 3];

/** The IDX bytes a file's contents stand for (gunzipped when gzip), or null when they cannot be. */
function refDecode(bytes: Uint8Array, name: string): Uint8Array | null {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return new Uint8Array(gunzipSync(bytes));
    } catch {
      return null;
    }
  }
  // A file named .gz must be gzip or at least start like an IDX file.
  if (name.endsWith('.gz') && bytes.length >= 2 && (bytes[0] !== 0 || bytes[1] !== 0)) return null;
  return bytes;
}

interface RefImages {
  n: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

function refImages(bytes: Uint8Array, name: string, expect: IdxImageExpectation = {}): RefImages | null {
  const raw = refDecode(bytes, name);
  if (!raw || raw.length < 16 || be32(raw, 0) !== 0x803) return null;
  const [n, rows, cols] = [be32(raw, 4), be32(raw, 8), be32(raw, 12)];
  if (n < 1 || rows < 1 || cols < 1) return null;
  if ((expect.rows !== undefined && rows !== expect.rows) || (expect.cols !== undefined && cols !== expect.cols)) return null;
  if (BigInt(raw.length) !== 16n + BigInt(n) * BigInt(rows) * BigInt(cols)) return null;
  return { n, rows, cols, pixels: raw.subarray(16) };
}

function refLabels(bytes: Uint8Array, name: string): { n: number; labels: Uint8Array } | null {
  const raw = refDecode(bytes, name);
  if (!raw || raw.length < 8 || be32(raw, 0) !== 0x801) return null;
  const n = be32(raw, 4);
  if (n < 1 || raw.length !== 8 + n) return null;
  return { n, labels: raw.subarray(8) };
}

/** A refusal: an IdxFormatError naming the file, its byte counts exact (no 1.2e+21). */
function checkRefusal(e: unknown, name: string): void {
  expectReaderError(e, IdxFormatError, name);
  check(!/\de[+-]\d/.test((e as Error).message), () => `a number in exponent notation: ${(e as Error).message}`);
  tally.refused(e, name);
}

/** The reader agrees with the reference: the same parse, or (reference null) an IdxFormatError naming the file. */
function checkImages(bytes: Uint8Array, name: string, expect_: IdxImageExpectation = {}): void {
  const ref = refImages(bytes, name, expect_);
  const got = outcome(() => parseIdxImages(bytes, name, expect_));
  if (!got.ok) {
    check(ref === null, () => `rejected a valid file: ${(got.error as Error).message}`);
    checkRefusal(got.error, name);
    return;
  }
  check(ref !== null, 'accepted an invalid file');
  tally.parsed();
  const { n, rows, cols, pixels } = got.value;
  check(n === ref.n && rows === ref.rows && cols === ref.cols, () => `read ${n}x${rows}x${cols}, the header says ${ref.n}x${ref.rows}x${ref.cols}`);
  check(sameBytes(pixels, ref.pixels), 'pixels differ from the bytes');
}

function checkLabels(bytes: Uint8Array, name: string): void {
  const ref = refLabels(bytes, name);
  const got = outcome(() => parseIdxLabels(bytes, name));
  if (!got.ok) {
    check(ref === null, () => `rejected a valid file: ${(got.error as Error).message}`);
    checkRefusal(got.error, name);
    return;
  }
  check(ref !== null, 'accepted an invalid file');
  tally.parsed();
  check(got.value.n === ref.n && sameBytes(got.value.labels, ref.labels), 'labels differ from the bytes');
}

// ---- small valid files ---------------------------------------------------------------------------

const PIXELS = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => (i * 37 + 5) % 256);
const IMAGES = encodeIdxImages(PIXELS, 3, 2, 3);
const LABELS = encodeIdxLabels([7, 0, 9, 3]);
const IMAGE_NAMES = ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz', 'dir/t10k-images.idx3-ubyte'];
const LABEL_NAMES = ['train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte.gz'];
/** Image expectations: none, the file's own 2x3, or another size. */
const EXPECTATIONS: IdxImageExpectation[] = [{}, { rows: 2, cols: 3 }, { rows: 28, cols: 28 }, { rows: 2 }];

describe('IDX reader, fuzzed', () => {
  it('raw image files: any truncation, flip, overwrite, insertion or deletion', () => {
    tally = new Tally('IDX raw images');
    fc.assert(
      fc.property(byteMutations(16), fc.constantFrom(...IMAGE_NAMES), fc.constantFrom(...EXPECTATIONS), embedOffset, (ms, name, exp, pad) => {
        checkImages(embed(applyMutations(IMAGES, ms), pad), name, exp);
      }),
      { seed: 0x1d3, numRuns: 2000 },
    );
    tally.print();
  }, TIMEOUT);

  it('raw label files: any truncation, flip, overwrite, insertion or deletion', () => {
    tally = new Tally('IDX raw labels');
    fc.assert(
      fc.property(byteMutations(8), fc.constantFrom(...LABEL_NAMES), embedOffset, (ms, name, pad) => {
        checkLabels(embed(applyMutations(LABELS, ms), pad), name);
      }),
      { seed: 0x1d1, numRuns: 2000 },
    );
    tally.print();
  }, TIMEOUT);

  it('header fields: magic, count and dimensions set to edge values (2^31, 2^32-1, 0, ...) and resized payloads', () => {
    tally = new Tally('IDX header fields');
    // Each field rewritten a fifth (the magic) or half (the others) of the time.
    const field = (valid: number, weight = 1) =>
      fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: interestingU32(valid) as fc.Arbitrary<number | undefined> });
    fc.assert(
      fc.property(
        fc.boolean(),
        field(0x803, 4),
        field(3),
        field(2),
        field(3),
        fc.integer({ min: -20, max: 20 }),
        fc.constantFrom(...EXPECTATIONS),
        (labels, magic, n, rows, cols, resize, exp) => {
          let b = labels ? LABELS : IMAGES;
          if (magic !== undefined) b = setU32BE(b, 0, magic);
          if (n !== undefined) b = setU32BE(b, 4, n);
          if (!labels && rows !== undefined) b = setU32BE(b, 8, rows);
          if (!labels && cols !== undefined) b = setU32BE(b, 12, cols);
          b = resize < 0 ? b.slice(0, Math.max(0, b.length + resize)) : concatBytes(b, new Uint8Array(resize).fill(0x11));
          const start = performance.now();
          if (labels) checkLabels(b, 'labels-idx1-ubyte');
          else checkImages(b, 'images-idx3-ubyte', exp);
          // Refused or read without work proportional to what the header claims.
          check(performance.now() - start < 1000, 'slow');
        },
      ),
      { seed: 0x4ead, numRuns: 2000 },
    );
    tally.print();
  }, TIMEOUT);

  it('refuses headers claiming 2^31 and 2^32-1 images or labels before allocating', () => {
    for (const n of [0x80000000, 0xffffffff]) {
      const img = setU32BE(IMAGES, 4, n);
      expect(() => parseIdxImages(img, 'big')).toThrow(new RegExp(`^big: truncated: header says ${n}x2x3 images`));
      // 3 images of n x n pixels: the byte count, over 2^53, is exact.
      const wide = setU32BE(setU32BE(IMAGES, 8, n), 12, n);
      const bytes = 16n + 3n * BigInt(n) * BigInt(n);
      expect(() => parseIdxImages(wide, 'wide')).toThrow(`wide: truncated: header says 3x${n}x${n} images (${bytes} bytes) but the file has 34 bytes`);
      expect(() => parseIdxLabels(setU32BE(LABELS, 4, n), 'lbl')).toThrow(new RegExp(`^lbl: truncated: header says ${n} labels`));
    }
  });

  it('gzip files: mutations of the compressed bytes (header, deflate stream, CRC and size trailer)', () => {
    tally = new Tally('IDX gzip bytes');
    const gzImages = gzip(IMAGES);
    const gzLabels = gzip(LABELS);
    fc.assert(
      fc.property(fc.boolean(), byteMutations(12), embedOffset, (labels, ms, pad) => {
        if (labels) checkLabels(embed(applyMutations(gzLabels, ms), pad), 'train-labels-idx1-ubyte.gz');
        else checkImages(embed(applyMutations(gzImages, ms), pad), 'train-images-idx3-ubyte.gz', { rows: 2, cols: 3 });
      }),
      { seed: 0x6212, numRuns: 600 },
    );
    tally.print();
  }, TIMEOUT);

  it('gzip of mutated raw files: the contents are checked after decompression', () => {
    tally = new Tally('IDX gzip of mutated raw');
    fc.assert(
      fc.property(fc.boolean(), byteMutations(16), fc.constantFrom('x-idx3-ubyte.gz', 'x-idx3-ubyte'), (labels, ms, name) => {
        const gz = gzip(applyMutations(labels ? LABELS : IMAGES, ms));
        if (labels) checkLabels(gz, name);
        else checkImages(gz, name);
      }),
      { seed: 0x6213, numRuns: 400 },
    );
    tally.print();
  }, TIMEOUT);
});

// ---- MNIST splits: 28x28 images, one label 0-9 per image -------------------------------------------

const N = 2;
const MNIST_IMAGES = encodeIdxImages(Uint8Array.from({ length: N * 784 }, (_, i) => (i * 13) % 256), N, 28, 28);
const MNIST_LABELS = encodeIdxLabels([4, 9]);

/** Mutations of a split: of the image bytes, of the label bytes, label values, gzip of either. */
const splitCase = fc.record({
  imageMs: fc.option(byteMutations(16), { nil: undefined }),
  labelMs: fc.option(byteMutations(8), { nil: undefined }),
  labelValue: fc.option(fc.tuple(fc.nat({ max: N - 1 }), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
  gzipImages: fc.boolean(),
  gzipLabels: fc.boolean(),
});

function splitBytes(c: typeof splitCase extends fc.Arbitrary<infer T> ? T : never): [Uint8Array, Uint8Array] {
  let img = c.imageMs ? applyMutations(MNIST_IMAGES, c.imageMs) : MNIST_IMAGES;
  let lbl = c.labelMs ? applyMutations(MNIST_LABELS, c.labelMs) : MNIST_LABELS;
  if (c.labelValue && 8 + c.labelValue[0] < lbl.length) {
    lbl = lbl.slice();
    lbl[8 + c.labelValue[0]] = c.labelValue[1];
  }
  if (c.gzipImages) img = gzip(img);
  if (c.gzipLabels) lbl = gzip(lbl);
  return [img, lbl];
}

describe('MNIST split reader, fuzzed', () => {
  it('parseIdxSplit: a split equal to the bytes, or one line naming the file at fault', () => {
    tally = new Tally('MNIST splits');
    fc.assert(
      fc.property(splitCase, fc.constantFrom('mnist', 'fashion-mnist') as fc.Arbitrary<'mnist' | 'fashion-mnist'>, (c, ds) => {
        const [img, lbl] = splitBytes(c);
        const refI = refImages(img, 'img', { rows: 28, cols: 28 });
        const refL = refLabels(lbl, 'lbl');
        const valid = refI !== null && refL !== null && refI.n === refL.n && refL.labels.every((y) => y < 10);
        const got = outcome(() => parseIdxSplit(img, 'img', lbl, 'lbl', ds));
        if (!got.ok) {
          check(!valid, () => `rejected a valid split: ${(got.error as Error).message}`);
          // The images are checked first: an image problem names the image file, anything else the labels.
          checkRefusal(got.error, refI === null ? 'img' : 'lbl');
          return;
        }
        check(valid, 'accepted an invalid split');
        tally.parsed();
        const s = got.value;
        check(s.n === refI!.n && s.rows === 28 && s.cols === 28 && s.channels === 1, 'wrong split shape');
        check(sameBytes(s.images, refI!.pixels) && sameBytes(s.labels, refL!.labels), 'images or labels differ from the bytes');
      }),
      { seed: 0x5b17, numRuns: 800 },
    );
    tally.print();
  }, TIMEOUT);

  it('loadMnist on a folder whose files are mutated on disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'l2rw-fuzz-idx-'));
    try {
      let k = 0;
      await fc.assert(
        fc.asyncProperty(splitCase, fc.boolean(), async (c, testSplit) => {
          const [img, lbl] = splitBytes(c);
          const dir = join(root, `d${k++}`);
          mkdirSync(dir);
          const files: Record<string, Uint8Array> = {
            'train-images-idx3-ubyte': MNIST_IMAGES,
            'train-labels-idx1-ubyte': MNIST_LABELS,
            't10k-images-idx3-ubyte': MNIST_IMAGES,
            't10k-labels-idx1-ubyte': MNIST_LABELS,
          };
          files[testSplit ? 't10k-images-idx3-ubyte' : 'train-images-idx3-ubyte'] = img;
          files[testSplit ? 't10k-labels-idx1-ubyte' : 'train-labels-idx1-ubyte'] = lbl;
          for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);
          clearMnistCache();
          const refI = refImages(img, 'img', { rows: 28, cols: 28 });
          const refL = refLabels(lbl, 'lbl');
          const valid = refI !== null && refL !== null && refI.n === refL.n && refL.labels.every((y) => y < 10);
          try {
            const m = await loadMnist({ dataDir: dir });
            expect(valid).toBe(true);
            const split = testSplit ? m.test : m.train;
            expect(sameBytes(split.labels, refL!.labels)).toBe(true);
            expect(sameBytes(split.images, refI!.pixels)).toBe(true);
          } catch (e) {
            expect(valid, (e as Error).message).toBe(false);
            expectReaderError(e, IdxFormatError, dir, { contains: true });
          }
        }),
        { seed: 0xd15c, numRuns: 12 },
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, TIMEOUT);
});
