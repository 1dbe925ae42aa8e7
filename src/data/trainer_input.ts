// A task as trainer input: raw pixel bytes taken by sourceIndex from the data set's splits (u8 on the
// GPU is a quarter of the float copy's memory and upload; the gather kernel scales by 1/255). Each
// image is C x H x W bytes, the task's inputShape. Browser-safe.
import type { HostDataset } from '../train/dataset';
import type { TrainData } from '../train/trainer';
import { asImageDataset, imageBytes, type DataSource, type Split } from './dataset';
import { isOwnDataset, ownTrainData, type OwnDataset } from './own_data';
import type { Task, TaskSplit } from './tasks';

/** A split's images as the raw bytes of `source`, in the split's order: [n, channels * rows * cols]. */
export function pixelBytes(source: Split, split: TaskSplit): HostDataset {
  const dim = imageBytes(source);
  const x = new Uint8Array(split.n * dim);
  for (let i = 0; i < split.n; i++) {
    const j = split.sourceIndex[i];
    if (j >= source.n) throw new RangeError(`pixelBytes: source index ${j} at position ${i} is outside the split of ${source.n} images`);
    x.set(source.images.subarray(j * dim, (j + 1) * dim), i * dim);
  }
  return { x, y: split.y, n: split.n, dim };
}

/**
 * Training and clean images come from the data set's train split, the test images from its test split.
 * Own data (the 'given' task): its own train, clean and test splits.
 */
export function taskTrainData(data: DataSource | OwnDataset, task: Task): TrainData {
  if (isOwnDataset(data)) return ownTrainData(data, task);
  const ds = asImageDataset(data);
  if (task.dataset !== undefined && task.dataset !== ds.name) {
    throw new Error(`taskTrainData: the task ${task.name} indexes ${task.dataset} but the data given is ${ds.title}`);
  }
  const dim = imageBytes(ds.train);
  const shape = task.inputShape;
  if (shape[0] * shape[1] * shape[2] !== dim) {
    throw new Error(`taskTrainData: the task's input shape ${shape.join('x')} does not match the ${ds.title} images (${dim} bytes each)`);
  }
  return {
    train: pixelBytes(ds.train, task.train),
    clean: pixelBytes(ds.train, task.clean),
    test: pixelBytes(ds.test, task.test),
    // Tasks with label noise: the stats then report the weight given to the mislabelled examples.
    ...(task.train.noisyMask ? { trainFlags: task.train.noisyMask } : {}),
  };
}
