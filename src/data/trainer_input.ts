// A task as trainer input: raw MNIST pixel bytes taken by sourceIndex (u8 on the GPU is a quarter of
// the float copy's memory and upload; the gather kernel scales by 1/255). Browser-safe.
import type { HostDataset } from '../train/dataset';
import type { TrainData } from '../train/trainer';
import { MNIST_PIXELS, type Mnist, type Split } from './mnist';
import type { Task, TaskSplit } from './tasks';

/** A split's images as the raw MNIST bytes of `source`, in the split's order. */
export function pixelBytes(source: Split, split: TaskSplit): HostDataset {
  const x = new Uint8Array(split.n * MNIST_PIXELS);
  for (let i = 0; i < split.n; i++) {
    const j = split.sourceIndex[i];
    x.set(source.images.subarray(j * MNIST_PIXELS, (j + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
  }
  return { x, y: split.y, n: split.n, dim: MNIST_PIXELS };
}

/** Training and clean images come from MNIST train, the test images from MNIST test. */
export function taskTrainData(mnist: Mnist, task: Task): TrainData {
  return {
    train: pixelBytes(mnist.train, task.train),
    clean: pixelBytes(mnist.train, task.clean),
    test: pixelBytes(mnist.test, task.test),
    // Noise tasks: the stats then report the weight given to the mislabelled examples.
    ...(task.train.noisyMask ? { trainFlags: task.train.noisyMask } : {}),
  };
}
