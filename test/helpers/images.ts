// Small synthetic image folders for the own-data tests: PNG and JPEG files written with sharp.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../src/util/rng';

/** Writes H x W x C bytes (interleaved) as a PNG or JPEG file (by the extension). */
export async function writeImage(file: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const img = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  await (file.toLowerCase().endsWith('.png') ? img.png() : img.jpeg({ quality: 95 })).toFile(file);
}

export const PATTERNS = ['stripes-h', 'stripes-v', 'checks'] as const;

/**
 * A grey image of one pattern class: horizontal stripes, vertical stripes or a checkerboard (period
 * 6 pixels, random phase), plus a little noise. H x W bytes.
 */
export function patternImage(kind: (typeof PATTERNS)[number], size: number, rng: Rng): Uint8Array {
  const out = new Uint8Array(size * size);
  const [py, px] = [rng.int(6), rng.int(6)];
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const a = Math.floor((r + py) / 3) % 2;
      const b = Math.floor((c + px) / 3) % 2;
      const on = kind === 'stripes-h' ? a : kind === 'stripes-v' ? b : a ^ b;
      out[r * size + c] = Math.max(0, Math.min(255, Math.round((on ? 200 : 40) + rng.normal() * 12)));
    }
  }
  return out;
}

export interface PatternFolder {
  dir: string;
  /** Training files (relative to dir) whose folder is not their pattern. */
  mislabelled: string[];
  /** Every training file, relative to dir. */
  train: string[];
}

/**
 * A `folder:DIR` data set of the three pattern classes: `perClass` training images in each class
 * folder, of which a share `flip` shows another class's pattern (deliberately mislabelled), `clean`
 * correct images per class in DIR/clean/<class>/, and `test` per class in DIR/test/<class>/.
 */
export async function writePatternFolder(dir: string, o: { perClass: number; flip: number; clean: number; test: number; size?: number; seed?: number }): Promise<PatternFolder> {
  const size = o.size ?? 20;
  const rng = new Rng(o.seed ?? 7);
  const mislabelled: string[] = [];
  const train: string[] = [];
  const jobs: Promise<void>[] = [];
  const k = PATTERNS.length;
  PATTERNS.forEach((name, c) => {
    const flips = Math.round(o.flip * o.perClass);
    for (let i = 0; i < o.perClass; i++) {
      const shown = i < flips ? PATTERNS[(c + 1 + (i % (k - 1))) % k] : name;
      const rel = `${name}/${String(i).padStart(3, '0')}.png`;
      train.push(rel);
      if (shown !== name) mislabelled.push(rel);
      jobs.push(writeImage(join(dir, rel), patternImage(shown, size, rng), size, size, 1));
    }
    for (let i = 0; i < o.clean; i++) jobs.push(writeImage(join(dir, 'clean', name, `${i}.png`), patternImage(name, size, rng), size, size, 1));
    for (let i = 0; i < o.test; i++) jobs.push(writeImage(join(dir, 'test', name, `${i}.png`), patternImage(name, size, rng), size, size, 1));
  });
  await Promise.all(jobs);
  return { dir, mislabelled, train };
}
