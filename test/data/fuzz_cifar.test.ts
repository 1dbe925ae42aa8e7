// Seeded fuzz tests of the CIFAR-10 / CIFAR-100 binary reader (src/data/cifar.ts): parseCifarBinary
// on small files of 2 records built here, mutated by truncation, bit flips, byte overwrites,
// insertions, deletions, whole records added or removed, and label bytes set to any value; the class
// names reader on mutated meta files; loadCifar on a folder whose test file is mutated on disk. The
// format has no header: the record count follows from the size, which is checked before anything is
// allocated. Property: the parse equals what an independent reading of the bytes here says, or the
// input is refused with a CifarFormatError of one line naming the file (never a RangeError/TypeError).
//
// Cases per property (fixed seeds, so every run draws the same inputs):
//   CIFAR-10 records, byte and label mutations .. 1500
//   CIFAR-100 records, byte and label mutations . 1500
//   class-name files ............................ 1000
//   loadCifar on mutated files on disk .......... 10
// Outcomes (parsed, refused by kind of message) are printed per property with FUZZ_STATS=1.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CIFAR10_CLASS_NAMES } from '../../src/data/dataset';
import {
  CIFAR_IMAGE_BYTES,
  CIFAR_LAYOUTS,
  CifarFormatError,
  clearCifarCache,
  encodeCifarBinary,
  loadCifar,
  parseCifarBinary,
  parseCifarClassNames,
  type CifarLayout,
} from '../../src/data/cifar';
import { Tally, applyMutations, byteMutations, check, concatBytes, embed, embedOffset, expectReaderError, outcome, sameBytes } from '../helpers/fuzz';

const TIMEOUT = 60_000;
/** The current property's outcomes (printed with FUZZ_STATS=1). */
let tally = new Tally('');
const C10 = CIFAR_LAYOUTS.cifar10;
const C100 = CIFAR_LAYOUTS.cifar100;

const N = 2;
const pixels = (seed: number, n: number) => Uint8Array.from({ length: n * CIFAR_IMAGE_BYTES }, (_, i) => (i * 7 + seed) % 256);
const FILE10 = encodeCifarBinary(pixels(1, N), [3, 9]);
const FILE100 = encodeCifarBinary(pixels(2, N), [42, 99], [7, 19]);

/** An independent reading of the records: null when the bytes are not `records` valid records. */
function reference(bytes: Uint8Array, l: CifarLayout, records?: number): { n: number; images: Uint8Array; labels: number[]; coarse?: number[] } | null {
  const r = l.labelBytes + 3072;
  if (bytes.length === 0 || bytes.length % r !== 0) return null;
  const n = bytes.length / r;
  if (records !== undefined && n !== records) return null;
  const images = new Uint8Array(n * 3072);
  const labels: number[] = [];
  const coarse: number[] = [];
  for (let i = 0; i < n; i++) {
    const rec = bytes.subarray(i * r, (i + 1) * r);
    if (l.labelBytes === 2) {
      if (rec[0] >= 20) return null;
      coarse.push(rec[0]);
    }
    const y = rec[l.labelBytes - 1];
    if (y >= l.classes) return null;
    labels.push(y);
    images.set(rec.subarray(l.labelBytes), i * 3072);
  }
  return { n, images, labels, ...(l.labelBytes === 2 ? { coarse } : {}) };
}

function checkParse(bytes: Uint8Array, file: string, l: CifarLayout, records?: number): void {
  const ref = reference(bytes, l, records);
  const got = outcome(() => parseCifarBinary(bytes, file, l, records));
  if (!got.ok) {
    expectReaderError(got.error, CifarFormatError, file);
    check(ref === null, () => `rejected a valid file: ${(got.error as Error).message}`);
    tally.refused(got.error, file);
    return;
  }
  check(ref !== null, 'accepted an invalid file');
  tally.parsed();
  const v = got.value;
  check(v.n === ref.n && sameBytes(v.images, ref.images), 'images differ from the records');
  check(sameBytes(v.labels, Uint8Array.from(ref.labels)), 'labels differ from the records');
  check(l.labelBytes === 1 ? v.coarse === undefined : sameBytes(v.coarse!, Uint8Array.from(ref.coarse!)), 'coarse labels differ from the records');
}

/** A mutation of a CIFAR file: bytes, a label byte set to any value, whole records added or removed. */
function cifarCase(l: CifarLayout) {
  const r = l.labelBytes + CIFAR_IMAGE_BYTES;
  return fc.record({
    ms: fc.option(byteMutations(r), { nil: undefined }),
    label: fc.option(fc.tuple(fc.nat({ max: N - 1 }), fc.nat({ max: l.labelBytes - 1 }), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
    records: fc.integer({ min: -N, max: 2 }),
    expect: fc.constantFrom(undefined, N, N + 1, N - 1, 0, 0x7fffffff),
    pad: embedOffset,
  });
}

function mutate(base: Uint8Array, l: CifarLayout, c: ReturnType<typeof cifarCase> extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  const r = l.labelBytes + CIFAR_IMAGE_BYTES;
  let b = base;
  if (c.records < 0) b = b.slice(0, b.length + c.records * r);
  else if (c.records > 0) b = concatBytes(b, b.subarray(0, c.records * r));
  if (c.label) {
    const [i, k, v] = c.label;
    if (i * r + k < b.length) {
      b = b.slice();
      b[i * r + k] = v;
    }
  }
  if (c.ms) b = applyMutations(b, c.ms);
  return embed(b, c.pad);
}

describe('CIFAR reader, fuzzed', () => {
  it('CIFAR-10 records: truncated, flipped, overwritten, resized, any label byte', () => {
    tally = new Tally('CIFAR-10 records');
    fc.assert(
      fc.property(cifarCase(C10), (c) => checkParse(mutate(FILE10, C10, c), 'cifar-10-batches-bin/data_batch_1.bin', C10, c.expect)),
      { seed: 0xc10, numRuns: 1500 },
    );
    tally.print();
  }, TIMEOUT);

  it('CIFAR-100 records: truncated, flipped, overwritten, resized, any coarse or fine label byte', () => {
    tally = new Tally('CIFAR-100 records');
    fc.assert(
      fc.property(cifarCase(C100), (c) => checkParse(mutate(FILE100, C100, c), 'cifar-100-binary/train.bin', C100, c.expect)),
      { seed: 0xc100, numRuns: 1500 },
    );
    tally.print();
  }, TIMEOUT);

  it('class-name files: mutated meta text gives the trimmed non-empty lines or one line naming the file', () => {
    tally = new Tally('CIFAR class names');
    const meta = new TextEncoder().encode(CIFAR10_CLASS_NAMES.join('\n') + '\n');
    fc.assert(
      fc.property(byteMutations(), (ms) => {
        const text = Buffer.from(applyMutations(meta, ms)).toString('utf8');
        const lines = text
          .split(/\r?\n/)
          .map((s) => s.trim())
          .filter(Boolean);
        const got = outcome(() => parseCifarClassNames(text, 'batches.meta.txt', C10));
        if (!got.ok) {
          expectReaderError(got.error, CifarFormatError, 'batches.meta.txt');
          check(lines.length !== 10, 'rejected 10 names');
          tally.refused(got.error, 'batches.meta.txt');
        } else {
          check(lines.length === 10 && got.value.join('\n') === lines.join('\n'), 'names differ from the lines');
          tally.parsed();
        }
      }),
      { seed: 0x3e7a, numRuns: 1000 },
    );
    tally.print();
  }, TIMEOUT);

  it('loadCifar on a folder whose test file is mutated on disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'l2rw-fuzz-cifar-'));
    let k = 0;
    try {
    await fc.assert(
      fc.asyncProperty(cifarCase(C10), async (c) => {
        const dir = join(root, `d${k++}`);
        mkdirSync(dir);
        for (const f of C10.trainFiles) writeFileSync(join(dir, f), FILE10);
        const test = mutate(FILE10, C10, c);
        writeFileSync(join(dir, C10.testFile), test);
        clearCifarCache();
        const ref = reference(test, C10, N);
        try {
          const ds = await loadCifar('cifar10', { dataDir: dir, records: { train: N, test: N } });
          expect(ref).not.toBeNull();
          expect(sameBytes(ds.test.images, ref!.images)).toBe(true);
          expect(Array.from(ds.test.labels)).toEqual(ref!.labels);
        } catch (e) {
          expect(ref, (e as Error).message).toBeNull();
          expectReaderError(e, CifarFormatError, join(dir, C10.testFile));
        }
      }),
      { seed: 0xd1c, numRuns: 10 },
    );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, TIMEOUT);
});
