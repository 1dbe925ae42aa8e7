// Builds a run's task from MNIST and hands it to the trainer as raw pixel bytes (u8 on the GPU is a
// quarter of the float copy's memory; the gather kernel scales by 1/255).
import { MNIST_PIXELS, imbalanceTask, loadMnist, noiseTask, type Mnist, type Split, type Task, type TaskSplit } from '../data/index';
import type { HostDataset } from '../train/dataset';
import type { TrainData } from '../train/trainer';
import { UsageError, type RunConfig } from './config';

/** Loads MNIST; a bad --data-dir is the user's mistake (exit 2), anything else a runtime failure. */
export async function loadData(dataDir: string | null): Promise<Mnist> {
  try {
    return await loadMnist(dataDir ? { dataDir } : {});
  } catch (e) {
    if (dataDir) throw new UsageError((e as Error).message);
    throw e;
  }
}

/** The task a config describes. Argument errors the task builders find against MNIST become UsageErrors. */
export function buildTask(mnist: Mnist, c: RunConfig): Task {
  try {
    if (c.task === 'imbalance') {
      return imbalanceTask(mnist, { ratio: c.ratio, clean: c.clean, seed: c.seed, ...(c.trainSize !== null ? { trainSize: c.trainSize } : {}) });
    }
    const perClass = minClassCount(mnist.train);
    if (c.clean > perClass) {
      throw new UsageError(`--clean ${c.clean} asks for ${c.clean} clean images per class but MNIST train has only ${perClass} of its rarest digit; lower --clean`);
    }
    return noiseTask(mnist, { noise: c.noise, flip: c.flip, cleanPerClass: c.clean, seed: c.seed, ...(c.trainSize !== null ? { trainSize: c.trainSize } : {}) });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

function minClassCount(split: Split): number {
  const counts = new Array<number>(10).fill(0);
  for (const l of split.labels) counts[l]++;
  return Math.min(...counts);
}

/** A split's images as the raw MNIST bytes, taken by sourceIndex. */
export function pixelBytes(source: Split, split: TaskSplit): HostDataset {
  const x = new Uint8Array(split.n * MNIST_PIXELS);
  for (let i = 0; i < split.n; i++) {
    const j = split.sourceIndex[i];
    x.set(source.images.subarray(j * MNIST_PIXELS, (j + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
  }
  return { x, y: split.y, n: split.n, dim: MNIST_PIXELS };
}

/** Trainer input: training and clean images come from MNIST train, the test images from MNIST test. */
export function trainData(mnist: Mnist, task: Task): TrainData {
  return {
    train: pixelBytes(mnist.train, task.train),
    clean: pixelBytes(mnist.train, task.clean),
    test: pixelBytes(mnist.test, task.test),
    // Noise tasks: the stats then report the weight given to the mislabelled examples.
    ...(task.train.noisyMask ? { trainFlags: task.train.noisyMask } : {}),
  };
}
