// `folder:DIR` own data: the layout (class folders, clean/ or clean.txt, test/ or a held-out share),
// decoding and resizing with sharp, grey or colour, and every malformed folder named.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { givenTask, ImageFolderError, loadDataset, loadImageFolder, ownTrainData } from '../../src/data/index';
import { writeImage } from '../helpers/images';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-imgdir-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A solid-colour W x H image, interleaved. */
const solid = (w: number, h: number, rgb: number[]) => Uint8Array.from({ length: w * h * rgb.length }, (_, i) => rgb[i % rgb.length]);

async function errorOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (x: Error) => x,
  );
  if (!e) throw new Error('expected an error');
  expect(e).toBeInstanceOf(ImageFolderError);
  expect(e.message.includes('\n'), e.message).toBe(false);
  return e.message;
}

describe('image folders', () => {
  it('reads class folders of PNG and JPEG, resized, in colour, with clean/ and test/', async () => {
    const dir = join(tmp, 'colour');
    await writeImage(join(dir, 'red', 'a.png'), solid(10, 7, [255, 0, 0]), 10, 7, 3);
    await writeImage(join(dir, 'red', 'deep', 'b.JPG'), solid(12, 12, [250, 5, 5]), 12, 12, 3);
    await writeImage(join(dir, 'red', 'c.png'), solid(6, 6, [255, 0, 0, 255]), 6, 6, 4);
    await writeImage(join(dir, 'blue', 'a.jpeg'), solid(9, 9, [0, 0, 250]), 9, 9, 3);
    await writeImage(join(dir, 'blue', 'b.png'), solid(3, 5, [0, 0, 255]), 3, 5, 3);
    writeFileSync(join(dir, 'blue', 'notes.txt'), 'not an image');
    writeFileSync(join(dir, 'blue', '.DS_Store'), 'hidden');
    await writeImage(join(dir, 'clean', 'red', 'x.png'), solid(8, 8, [255, 0, 0]), 8, 8, 3);
    await writeImage(join(dir, 'clean', 'blue', 'x.png'), solid(8, 8, [0, 0, 255]), 8, 8, 3);
    await writeImage(join(dir, 'test', 'blue', 'y.png'), solid(8, 8, [0, 0, 255]), 8, 8, 3);
    const d = await loadImageFolder(dir, { size: 8 });
    expect(d.classNames).toEqual(['blue', 'red']);
    expect(d.shape).toEqual([3, 8, 8]);
    expect(d.inputFormat).toBe('uint8');
    expect(d.train.files).toEqual(['blue/a.jpeg', 'blue/b.png', 'red/a.png', 'red/c.png', 'red/deep/b.JPG']);
    expect(Array.from(d.train.y)).toEqual([0, 0, 1, 1, 1]);
    expect([d.train.n, d.clean.n, d.test.n]).toEqual([5, 2, 1]);
    expect(d.testSource).toBe('files');
    expect(d.clean.files).toEqual(['clean/blue/x.png', 'clean/red/x.png']);
    // red/a.png, resized from 10x7 to 8x8: channel planes of 255, 0 and 0.
    const red = d.train.x.subarray(2 * 192, 3 * 192);
    expect([red[0], red[63], red[64], red[127], red[128], red[191]]).toEqual([255, 255, 0, 0, 0, 0]);
    expect(d.description).toMatch(/2 classes, 8x8 colour; 5 training images \(blue 2, red 3\); clean set 2 \(clean\/\); test 1 \(test\/\); 1 other file\(s\) skipped/);
    // Forced grey: luma of the colour.
    const g = await loadImageFolder(dir, { size: 8, channels: 1 });
    expect(g.shape).toEqual([1, 8, 8]);
    expect(g.train.x[2 * 64]).toBe(Math.round(0.299 * 255));
    // Through loadDataset and the given task.
    const viaSpec = await loadDataset(`folder:${dir}`, { image: { size: 8 } });
    const task = givenTask(viaSpec as typeof d);
    expect(task.inputShape).toEqual([3, 8, 8]);
    expect(task.classNames).toEqual(['blue', 'red']);
    expect(ownTrainData(d, givenTask(d)).train.x).toBe(d.train.x);
  });

  it('reads grey images as one channel, byte for byte at their own size, and holds out a test share', async () => {
    const dir = join(tmp, 'grey');
    const px = (k: number) => Uint8Array.from({ length: 16 }, (_, i) => (i * 13 + k * 31) % 256);
    for (let k = 0; k < 20; k++) await writeImage(join(dir, k % 2 ? 'odd' : 'even', `${String(k).padStart(2, '0')}.png`), px(k), 4, 4, 1);
    writeFileSync(join(dir, 'clean.txt'), '# trusted\neven/00.png\n./odd/01.png\n\n');
    const d = await loadImageFolder(dir, { size: 4 });
    expect(d.shape).toEqual([1, 4, 4]);
    expect(d.clean.files).toEqual(['even/00.png', 'odd/01.png']);
    expect(Array.from(d.clean.x.subarray(0, 16))).toEqual(Array.from(px(0)));
    expect(Array.from(d.clean.x.subarray(16, 32))).toEqual(Array.from(px(1)));
    // 9 images of each class left: round(0.9) = 1 of each held out as the test set.
    expect([d.train.n, d.clean.n, d.test.n]).toEqual([16, 2, 2]);
    expect(d.testSource).toBe('held-out');
    const all = [...d.train.files!, ...d.clean.files!, ...d.test.files!].sort();
    expect(new Set(all).size).toBe(20);
    for (let i = 0; i < d.test.n; i++) {
      const k = Number(d.test.files![i].slice(-6, -4));
      expect(Array.from(d.test.x.subarray(i * 16, (i + 1) * 16))).toEqual(Array.from(px(k)));
      expect(d.test.y[i]).toBe(k % 2);
    }
    expect(d.description).toMatch(/4x4 grey; 16 training images \(even 8, odd 8\); clean set 2 \(clean\.txt\); test 2 \(held out: 10% of each class\)/);
  });

  it('names the folder or file of every problem', async () => {
    const base = join(tmp, 'bad');
    const img = (f: string) => writeImage(join(base, f), solid(4, 4, [9]), 4, 4, 1);
    const fresh = (name: string) => {
      const d = join(base, name);
      mkdirSync(d, { recursive: true });
      return d;
    };
    // No class folders; one class; no clean set; both clean sets.
    expect(await errorOf(loadImageFolder(fresh('empty')))).toMatch(/empty: no class folders/);
    await img('one/a/1.png');
    await img('one/clean/a/1.png');
    expect(await errorOf(loadImageFolder(join(base, 'one')))).toMatch(/only one class folder \(a\)/);
    for (const f of ['noclean/a/1.png', 'noclean/b/1.png']) await img(f);
    expect(await errorOf(loadImageFolder(join(base, 'noclean')))).toMatch(/noclean: no trusted clean set: put a few correctly labelled images .*clean\/<class>\/.*clean\.txt/);
    for (const f of ['both/a/1.png', 'both/b/1.png', 'both/clean/a/1.png']) await img(f);
    writeFileSync(join(base, 'both', 'clean.txt'), 'a/1.png\n');
    expect(await errorOf(loadImageFolder(join(base, 'both')))).toMatch(/both clean\/ and clean\.txt/);
    // An empty class folder, in training and in the clean set.
    for (const f of ['emptyclass/a/1.png', 'emptyclass/clean/a/1.png']) await img(f);
    mkdirSync(join(base, 'emptyclass', 'b'));
    writeFileSync(join(base, 'emptyclass', 'b', 'readme.md'), 'no images here');
    expect(await errorOf(loadImageFolder(join(base, 'emptyclass')))).toMatch(/emptyclass\/b: the class folder holds no PNG or JPEG images/);
    for (const f of ['emptyclean/a/1.png', 'emptyclean/b/1.png', 'emptyclean/clean/a/1.png']) await img(f);
    mkdirSync(join(base, 'emptyclean', 'clean', 'b'));
    expect(await errorOf(loadImageFolder(join(base, 'emptyclean')))).toMatch(/emptyclean\/clean\/b: the class folder holds no PNG or JPEG images/);
    // A clean or test class that is not a training class.
    for (const f of ['stray/a/1.png', 'stray/b/1.png', 'stray/clean/a/1.png', 'stray/test/c/1.png']) await img(f);
    expect(await errorOf(loadImageFolder(join(base, 'stray')))).toMatch(/stray\/test\/c: "c" is not a training class \(the classes are a, b\)/);
    // An unreadable image, and a truncated one.
    for (const f of ['broken/a/1.png', 'broken/b/1.png', 'broken/clean/a/1.png']) await img(f);
    writeFileSync(join(base, 'broken', 'b', '2.png'), 'this is not a PNG');
    expect(await errorOf(loadImageFolder(join(base, 'broken')))).toMatch(/broken\/b\/2\.png: cannot read the image/);
    rmSync(join(base, 'broken', 'b', '2.png'));
    await writeImage(join(base, 'broken', 'b', '3.png'), Uint8Array.from({ length: 64 * 64 }, (_, i) => (i * 7919) % 251), 64, 64, 1);
    const whole = readFileSync(join(base, 'broken', 'b', '3.png'));
    writeFileSync(join(base, 'broken', 'b', '3.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    expect(await errorOf(loadImageFolder(join(base, 'broken')))).toMatch(/broken\/b\/3\.png: cannot read the image/);
    // A clean list naming a file that is not a training image.
    for (const f of ['badlist/a/1.png', 'badlist/b/1.png']) await img(f);
    writeFileSync(join(base, 'badlist', 'clean.txt'), 'a/1.png\nb/9.png\n');
    expect(await errorOf(loadImageFolder(join(base, 'badlist')))).toMatch(/badlist\/clean\.txt: line 2: "b\/9\.png" is not a training image/);
    // No test folder and too few images to hold any out.
    for (const f of ['tiny/a/1.png', 'tiny/b/1.png', 'tiny/clean/a/1.png']) await img(f);
    expect(await errorOf(loadImageFolder(join(base, 'tiny')))).toMatch(/tiny: no test set: there is no test\/ folder and too few images/);
    // Options and the folder itself.
    expect(await errorOf(loadImageFolder(join(base, 'tiny'), { size: 0 }))).toMatch(/image size must be an integer in \[1, 1024\], got 0x0/);
    expect(await errorOf(loadImageFolder(join(base, 'missing')))).toMatch(/missing does not exist/);
    writeFileSync(join(base, 'afile'), 'x');
    expect(await errorOf(loadImageFolder(join(base, 'afile')))).toMatch(/afile is not a folder/);
  });
});
