// The page's MNIST: the compact IDX subset that scripts/build-demo-assets.ts cuts at build time, read
// into the same `Mnist` shape that loadMnist gives in Node, so the tasks are built by the engine's own
// imbalanceTask / noiseTask. Training data go to the GPU as raw bytes taken by sourceIndex (4x less
// memory and upload than the float copies the task builders also make).
import { parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { MNIST_COLS, MNIST_PIXELS, MNIST_ROWS, type Mnist, type Split } from '../../src/data/mnist';
import { imbalanceTask, noiseTask, type Task, type TaskSplit } from '../../src/data/tasks';
import type { Settings } from './settings';

interface Manifest {
  format: string;
  train: { n: number; images: string; labels: string };
  test: { n: number; images: string; labels: string };
}

const FORMAT = 'l2rw-demo-mnist/1';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not load ${url}: HTTP ${r.status}. Build the demo's data with \`npm run build\` (or \`npm run demo\`).`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadSplit(base: string, files: Manifest['train']): Promise<Split> {
  const [img, lbl] = await Promise.all([fetchBytes(base + files.images), fetchBytes(base + files.labels)]);
  const images = parseIdxImages(img, files.images, { rows: MNIST_ROWS, cols: MNIST_COLS });
  const labels = parseIdxLabels(lbl, files.labels);
  if (images.n !== files.n || labels.n !== files.n) {
    throw new Error(`${files.images}: expected ${files.n} images and labels, found ${images.n} and ${labels.n}; rebuild with \`npm run build\``);
  }
  return { images: images.pixels, labels: labels.labels, n: images.n, rows: MNIST_ROWS, cols: MNIST_COLS };
}

/** Loads the subset from `base` (a URL ending in '/', next to the page by default). */
export async function loadDemoMnist(base = new URL('data/', document.baseURI).href): Promise<Mnist> {
  const r = await fetch(base + 'manifest.json');
  if (!r.ok) {
    throw new Error(`the demo's MNIST subset is missing (${base}manifest.json: HTTP ${r.status}). Run \`npm run build\` or \`npm run demo\`, which create it.`);
  }
  const m = (await r.json()) as Manifest;
  if (m.format !== FORMAT) throw new Error(`${base}manifest.json has format "${m.format}", this page reads "${FORMAT}"; rebuild with \`npm run build\``);
  const [train, test] = await Promise.all([loadSplit(base, m.train), loadSplit(base, m.test)]);
  return { train, test, dir: base };
}

/** CLI-style flag names in the task builders' messages, as the form labels them. */
const FIELD_NAMES: Record<string, string> = {
  '--ratio': 'the ratio of 9s',
  '--train-size': 'the training-set size',
  '--clean': 'the number of clean examples',
  '--clean-per-class': 'clean examples per class',
  '--noise': 'the noise level',
  '--flip': 'the noise kind',
};

function formWording(message: string): string {
  return message.replace(/--[a-z-]+/g, (flag) => FIELD_NAMES[flag] ?? flag);
}

export function buildTask(mnist: Mnist, s: Settings): Task {
  try {
    if (s.task === 'imbalance') {
      return imbalanceTask(mnist, { ratio: s.ratio, trainSize: s.trainSize, clean: 2 * s.cleanPerClass, seed: s.seed });
    }
    return noiseTask(mnist, { noise: s.noise, flip: s.task === 'noise-background' ? 'background' : 'uniform', cleanPerClass: s.cleanPerClass, trainSize: s.trainSize, seed: s.seed });
  } catch (e) {
    throw new Error(`${formWording((e as Error).message)} (this demo ships ${mnist.train.n / 10} training images per digit)`);
  }
}


/** The 28x28 bytes of example `k` of a task split (for drawing). */
export function examplePixels(split: TaskSplit, source: Split, k: number): Uint8Array {
  const i = split.sourceIndex[k];
  return source.images.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
}
