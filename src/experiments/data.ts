// Builds a run's task from MNIST and hands it to the trainer as raw pixel bytes (u8 on the GPU is a
// quarter of the float copy's memory; the gather kernel scales by 1/255).
import { imbalanceTask, loadMnist, noiseTask, type Mnist, type Split, type Task } from '../data/index';
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

export { taskTrainData as trainData } from '../data/trainer_input';
