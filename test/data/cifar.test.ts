// CIFAR-10 / CIFAR-100 binary readers on small synthetic files in the official record format, written
// to a temp dir (record counts lowered through `records`), and every malformed case.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CIFAR100_CLASS_NAMES,
  CIFAR10_CLASS_NAMES,
  CIFAR_IMAGE_BYTES,
  CIFAR_LAYOUTS,
  CifarFormatError,
  checkCifarSize,
  clearCifarCache,
  encodeCifarBinary,
  loadCifar,
  loadDataset,
  parseCifarBinary,
} from '../../src/data';

const root = mkdtempSync(join(tmpdir(), 'l2rw-cifar-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => clearCifarCache());

const C10 = CIFAR_LAYOUTS.cifar10;
const C100 = CIFAR_LAYOUTS.cifar100;
const PAGE = 'cs.toronto.edu/~kriz/cifar.html';

/** Image `g` (global index): bytes 0-1 hold g (low, high), the rest (g + j) mod 256. */
function images(first: number, n: number): Uint8Array {
  const px = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  for (let i = 0; i < n; i++) {
    const g = first + i;
    for (let j = 0; j < CIFAR_IMAGE_BYTES; j++) px[i * CIFAR_IMAGE_BYTES + j] = (g + j) % 256;
    px[i * CIFAR_IMAGE_BYTES] = g & 255;
    px[i * CIFAR_IMAGE_BYTES + 1] = g >> 8;
  }
  return px;
}

const TRAIN_PER_FILE = 20;
const TEST_N = 10;
const records = { train: TRAIN_PER_FILE, test: TEST_N };
const label10 = (g: number) => (g * 3) % 10;
const fine = (g: number) => (g * 7) % 100;
const coarse = (g: number) => g % 20;

function batch10(first: number, n: number): Uint8Array {
  return encodeCifarBinary(images(first, n), Array.from({ length: n }, (_, i) => label10(first + i)));
}

function batch100(first: number, n: number): Uint8Array {
  return encodeCifarBinary(
    images(first, n),
    Array.from({ length: n }, (_, i) => fine(first + i)),
    Array.from({ length: n }, (_, i) => coarse(first + i)),
  );
}

/** A CIFAR-10 folder; `override` replaces (or with null removes) files by name. */
function writeCifar10(name: string, override: Record<string, Uint8Array | string | null> = {}, sub = ''): string {
  const dir = join(root, name);
  const where = join(dir, sub);
  mkdirSync(where, { recursive: true });
  const files: Record<string, Uint8Array | string | null> = {};
  C10.trainFiles.forEach((f, b) => (files[f] = batch10(b * TRAIN_PER_FILE, TRAIN_PER_FILE)));
  files[C10.testFile] = batch10(1000, TEST_N);
  Object.assign(files, override);
  for (const [f, bytes] of Object.entries(files)) if (bytes !== null) writeFileSync(join(where, f), bytes);
  return dir;
}

function writeCifar100(name: string, override: Record<string, Uint8Array | string | null> = {}, sub = ''): string {
  const dir = join(root, name);
  const where = join(dir, sub);
  mkdirSync(where, { recursive: true });
  const files: Record<string, Uint8Array | string | null> = { 'train.bin': batch100(0, 50), 'test.bin': batch100(1000, TEST_N), ...override };
  for (const [f, bytes] of Object.entries(files)) if (bytes !== null) writeFileSync(join(where, f), bytes);
  return dir;
}

/** The error a promise rejects with: one line, naming the CIFAR page. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toContain(PAGE);
    return msg;
  }
  throw new Error('expected a rejection');
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('CIFAR-10 binary', () => {
  it('reads the five batches in order and the test batch, C x H x W bytes per image, labels 0-9', async () => {
    const dir = writeCifar10('c10-ok');
    const d = await loadCifar('cifar10', { dataDir: dir, records });
    expect(d.name).toBe('cifar10');
    expect(d.title).toBe('CIFAR-10');
    expect(d.shape).toEqual([3, 32, 32]);
    expect(d.classes).toBe(10);
    expect(d.classNames).toEqual(CIFAR10_CLASS_NAMES);
    expect(d.dir).toBe(dir);
    expect([d.train.n, d.train.channels, d.train.rows, d.train.cols]).toEqual([100, 3, 32, 32]);
    expect(d.test.n).toBe(TEST_N);
    expect(Buffer.from(d.train.images).equals(Buffer.from(images(0, 100)))).toBe(true);
    expect(Buffer.from(d.test.images).equals(Buffer.from(images(1000, TEST_N)))).toBe(true);
    expect(Array.from(d.train.labels)).toEqual(Array.from({ length: 100 }, (_, g) => label10(g)));
    expect(Array.from(d.test.labels)).toEqual(Array.from({ length: TEST_N }, (_, i) => label10(1000 + i)));
    // Same folder, same options: the cached object.
    expect(await loadDataset('cifar10', { dataDir: dir, records })).toBe(d);
  });

  it('accepts the cifar-10-batches-bin/ folder the archive unpacks to, and takes class names from batches.meta.txt', async () => {
    const names = CIFAR10_CLASS_NAMES.map((n) => n.toUpperCase());
    const dir = writeCifar10('c10-sub', { 'batches.meta.txt': names.join('\n') + '\n\n' }, 'cifar-10-batches-bin');
    const d = await loadCifar('cifar10', { dataDir: dir, records });
    expect(d.dir).toBe(join(dir, 'cifar-10-batches-bin'));
    expect(d.classNames).toEqual(names);
    expect(d.train.n).toBe(100);
  });

  it('checks sizes against the official record counts by default', () => {
    const rec = 3073;
    expect(checkCifarSize(10000 * rec, 'data_batch_1.bin', C10, C10.trainRecords)).toBe(10000);
    expect(() => checkCifarSize(9999 * rec, 'data_batch_1.bin', C10, C10.trainRecords)).toThrow(
      `data_batch_1.bin: 9999 records (30726927 bytes), expected 10000 records of 3073 bytes (1 label byte + 3072 pixel bytes) = 30730000 bytes; `,
    );
    expect(checkCifarSize(50000 * 3074, 'train.bin', C100, C100.trainRecords)).toBe(50000);
    expect(() => checkCifarSize(10000 * 3074, 'train.bin', C100, C100.trainRecords)).toThrow(/train\.bin: 10000 records .* expected 50000 records of 3074 bytes/);
  });

  const bad: [string, Record<string, Uint8Array | string | null>, (dir: string) => RegExp][] = [
    ['a missing batch', { 'data_batch_3.bin': null }, (d) => new RegExp(`^${esc(join(d, 'data_batch_3.bin'))}: missing, expected the CIFAR-10 file data_batch_3.bin with 20 records of 3073 bytes`)],
    ['a missing test batch', { 'test_batch.bin': null }, (d) => new RegExp(`^${esc(join(d, 'test_batch.bin'))}: missing, expected .* 10 records`)],
    [
      'a truncated record',
      { 'data_batch_2.bin': batch10(20, 20).subarray(0, 20 * 3073 - 5) },
      (d) => new RegExp(`^${esc(join(d, 'data_batch_2.bin'))}: 61455 bytes is not a whole number of 3073-byte records: 19 whole records and 3068 bytes of a truncated one`),
    ],
    [
      'a size that is not a multiple of the record (extra bytes)',
      { 'data_batch_5.bin': new Uint8Array([...batch10(80, 20), 1, 2, 3]) },
      (d) => new RegExp(`^${esc(join(d, 'data_batch_5.bin'))}: 61463 bytes is not a whole number of 3073-byte records: 20 whole records and 3 bytes`),
    ],
    ['a wrong record count', { 'test_batch.bin': batch10(1000, 11) }, (d) => new RegExp(`^${esc(join(d, 'test_batch.bin'))}: 11 records \\(33803 bytes\\), expected 10 records`)],
    [
      'a label out of range',
      (() => {
        const b = batch10(0, 20);
        b[7 * 3073] = 10;
        return { 'data_batch_1.bin': b };
      })(),
      (d) => new RegExp(`^${esc(join(d, 'data_batch_1.bin'))}: label 10 in record 7 \\(byte 21511\\), expected 0-9`),
    ],
    ['an empty file', { 'data_batch_4.bin': new Uint8Array(0) }, (d) => new RegExp(`^${esc(join(d, 'data_batch_4.bin'))}: empty file \\(0 bytes\\), expected 20 records`)],
    ['a meta file with the wrong number of names', { 'batches.meta.txt': 'cat\ndog\n' }, (d) => new RegExp(`^${esc(join(d, 'batches.meta.txt'))}: 2 class names, expected 10`)],
  ];
  for (const [what, override, message] of bad) {
    it(`rejects ${what} with one line naming the file`, async () => {
      const dir = writeCifar10(`c10-${what.replace(/\W+/g, '-')}`, override);
      const msg = await failure(loadCifar('cifar10', { dataDir: dir, records }));
      expect(msg).toMatch(message(dir));
    });
  }

  it('rejects a directory in place of a file', async () => {
    const dir = writeCifar10('c10-dir', { 'test_batch.bin': null });
    mkdirSync(join(dir, 'test_batch.bin'));
    const msg = await failure(loadCifar('cifar10', { dataDir: dir, records }));
    expect(msg).toMatch(new RegExp(`^${esc(join(dir, 'test_batch.bin'))}: is a directory, expected the CIFAR-10 file test_batch.bin with 10 records`));
    const dir2 = writeCifar10('c10-metadir');
    mkdirSync(join(dir2, 'batches.meta.txt'));
    expect(await failure(loadCifar('cifar10', { dataDir: dir2, records }))).toMatch(/batches\.meta\.txt: is a directory, expected a text file of 10 class names/);
  });

  it('says where the files come from when there is no folder, no files, or the Python version', async () => {
    expect(await failure(loadCifar('cifar10'))).toMatch(/^CIFAR-10 needs --data-dir DIR: a folder with data_batch_1\.bin \.\. data_batch_5\.bin and test_batch\.bin \(or the cifar-10-batches-bin\/ folder inside it\); the official binary version \(cifar-10-binary\.tar\.gz/);
    const nowhere = join(root, 'no-such-dir');
    expect(await failure(loadCifar('cifar10', { dataDir: nowhere }))).toMatch(new RegExp(`^CIFAR-10 not found: --data-dir ${esc(nowhere)} does not exist`));
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    expect(await failure(loadCifar('cifar10', { dataDir: file }))).toMatch(/is not a directory/);
    const emptyDir = join(root, 'c10-empty');
    mkdirSync(emptyDir);
    expect(await failure(loadCifar('cifar10', { dataDir: emptyDir }))).toMatch(
      new RegExp(`^CIFAR-10 not found in --data-dir ${esc(emptyDir)}: no data_batch_1\\.bin .* there or in ${esc(join(emptyDir, 'cifar-10-batches-bin'))}; the official binary version`),
    );
    const py = join(root, 'c10-python');
    mkdirSync(join(py, 'cifar-10-batches-py'), { recursive: true });
    expect(await failure(loadCifar('cifar10', { dataDir: py }))).toMatch(/looks like the Python version, which is pickled: the binary version is needed/);
  });
});

describe('CIFAR-100 binary', () => {
  it('reads train.bin and test.bin, using the fine labels', async () => {
    const dir = writeCifar100('c100-ok');
    const d = await loadCifar('cifar100', { dataDir: dir, records: { train: 50, test: TEST_N } });
    expect([d.name, d.title, d.classes]).toEqual(['cifar100', 'CIFAR-100', 100]);
    expect(d.shape).toEqual([3, 32, 32]);
    expect(d.classNames).toEqual(CIFAR100_CLASS_NAMES);
    expect(d.train.n).toBe(50);
    expect(Array.from(d.train.labels)).toEqual(Array.from({ length: 50 }, (_, g) => fine(g)));
    expect(Array.from(d.test.labels)).toEqual(Array.from({ length: TEST_N }, (_, i) => fine(1000 + i)));
    expect(Buffer.from(d.train.images).equals(Buffer.from(images(0, 50)))).toBe(true);
  });

  it('accepts cifar-100-binary/ and fine_label_names.txt', async () => {
    const names = Array.from({ length: 100 }, (_, c) => `thing_${c}`);
    const dir = writeCifar100('c100-sub', { 'fine_label_names.txt': names.join('\r\n') }, 'cifar-100-binary');
    const d = await loadCifar('cifar100', { dataDir: dir, records: { train: 50, test: TEST_N } });
    expect(d.dir).toBe(join(dir, 'cifar-100-binary'));
    expect(d.classNames).toEqual(names);
  });

  it('has 100 distinct default class names in label (alphabetical) order', () => {
    expect(CIFAR100_CLASS_NAMES).toHaveLength(100);
    expect(new Set(CIFAR100_CLASS_NAMES).size).toBe(100);
    expect([...CIFAR100_CLASS_NAMES].sort()).toEqual(CIFAR100_CLASS_NAMES);
  });

  it('rejects fine and coarse labels out of range, wrong counts and missing files', async () => {
    const r = { train: 50, test: TEST_N };
    const b = batch100(0, 50);
    b[3 * 3074 + 1] = 100;
    let msg = await failure(loadCifar('cifar100', { dataDir: writeCifar100('c100-fine', { 'train.bin': b }), records: r }));
    expect(msg).toMatch(/train\.bin: fine label 100 in record 3 \(byte 9223\), expected 0-99/);
    const c = batch100(1000, TEST_N);
    c[2 * 3074] = 20;
    msg = await failure(loadCifar('cifar100', { dataDir: writeCifar100('c100-coarse', { 'test.bin': c }), records: r }));
    expect(msg).toMatch(/test\.bin: coarse label 20 in record 2 \(byte 6148\), expected 0-19/);
    msg = await failure(loadCifar('cifar100', { dataDir: writeCifar100('c100-count', { 'train.bin': batch100(0, 49) }), records: r }));
    expect(msg).toMatch(/train\.bin: 49 records \(150626 bytes\), expected 50 records of 3074 bytes \(a coarse and a fine label byte \+ 3072 pixel bytes\)/);
    msg = await failure(loadCifar('cifar100', { dataDir: writeCifar100('c100-missing', { 'test.bin': null }), records: r }));
    expect(msg).toMatch(/test\.bin: missing, expected the CIFAR-100 file test\.bin/);
    expect(msg).toContain('cifar-100-binary.tar.gz');
    msg = await failure(loadCifar('cifar100', { dataDir: writeCifar100('c100-names', { 'fine_label_names.txt': 'a\nb' }), records: r }));
    expect(msg).toMatch(/fine_label_names\.txt: 2 class names, expected 100/);
    // Official counts by default: these small files are the wrong size.
    msg = await failure(loadCifar('cifar100', { dataDir: writeCifar100('c100-official') }));
    expect(msg).toMatch(/train\.bin: 50 records .* expected 50000 records/);
  });
});

describe('parseCifarBinary and encodeCifarBinary', () => {
  it('round-trip, without an expected count', () => {
    const bytes = batch10(5, 3);
    const r = parseCifarBinary(bytes, 'x', C10);
    expect(r.n).toBe(3);
    expect(Array.from(r.labels)).toEqual([5, 6, 7].map(label10));
    expect(Buffer.from(r.images).equals(Buffer.from(images(5, 3)))).toBe(true);
    const r100 = parseCifarBinary(batch100(0, 4), 'y', C100);
    expect(Array.from(r100.coarse!)).toEqual([0, 1, 2, 3].map(coarse));
    expect(Array.from(r100.labels)).toEqual([0, 1, 2, 3].map(fine));
    const e = (() => {
      try {
        parseCifarBinary(new Uint8Array(10), 'z', C10);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(CifarFormatError);
    expect((e as CifarFormatError).file).toBe('z');
  });
});
