// Your own data (`--dataset folder:DIR` or `npy:DIR`): the splits the files give, taken as they are.
// Browser-safe; the readers (image_folder.ts, npy.ts) and loadOwnDataset (load.ts) touch the disk.
//
// Unlike the built-in data sets, nothing is corrupted or subsampled: the training set is the data as
// labelled (with whatever wrong labels or imbalance it has), the clean set is the trusted examples the
// user provides, and the test set is theirs too, or else a fixed held-out share of the training files
// (HELD_OUT_FRACTION of each class, drawn with a fixed seed, so every run and `l2rw predict` see the
// same test set). The task kind is 'given' (givenTask).

import type { HostDataset } from '../train/dataset';
import type { TrainData } from '../train/trainer';
import { Rng } from '../util/rng';
import type { OwnDataKind, OwnDataSpec } from './dataset';
import type { Task, TaskSplit } from './tasks';

/** One split of own data: the trainer's input (pixels as bytes, or floats) and where each example came from. */
export interface OwnSplit extends HostDataset {
  /** Each example's position in the file or listing it came from (its row of x.npy, or its place among the images). */
  rows: Uint32Array;
  /** Image folders: each example's file, relative to the data folder (e.g. "cat/0001.png"). */
  files?: string[];
}

export interface OwnDataset {
  /** Which reader made it. */
  own: OwnDataKind;
  spec: OwnDataSpec;
  /** The data folder (resolved). */
  dir: string;
  /** "image folder pets", "arrays in exports": for messages. */
  title: string;
  /** Per-example input shape: [C, H, W] for images, [D] for vectors. */
  shape: number[];
  classes: number;
  classNames: string[];
  /** uint8: pixel bytes, scaled by 1/255 on the GPU; float32: used as they are. */
  inputFormat: 'uint8' | 'float32';
  train: OwnSplit;
  clean: OwnSplit;
  test: OwnSplit;
  /** Where the test set came from: the user's files, or held out of the training files. */
  testSource: 'files' | 'held-out';
  /** What was read: sizes, classes, where the clean and test sets came from. */
  description: string;
}

export function isOwnDataset(d: unknown): d is OwnDataset {
  return typeof d === 'object' && d !== null && 'own' in d && 'spec' in d;
}

/** The share of each class's training files held out as the test set when no test files are given. */
export const HELD_OUT_FRACTION = 0.1;
/** The fixed seed of the held-out draw (the same test set for every run seed). */
export const HELD_OUT_SEED = 0x5eed;

/** The examples `idx` (in this order) of a split. */
export function subsetSplit(s: OwnSplit, idx: ArrayLike<number>): OwnSplit {
  const n = idx.length;
  const x = s.x instanceof Uint8Array ? new Uint8Array(n * s.dim) : new Float32Array(n * s.dim);
  const y = new Uint32Array(n);
  const rows = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const j = idx[i];
    x.set(s.x.subarray(j * s.dim, (j + 1) * s.dim), i * s.dim);
    y[i] = s.y[j];
    rows[i] = s.rows[j];
  }
  return { x, y, n, dim: s.dim, rows, ...(s.files ? { files: Array.from(idx, (j) => s.files![j]) } : {}) };
}

/**
 * Holds out round(fraction * count) examples of each class (at most count − 1, so no class leaves
 * training) as the test set, drawn with Rng(HELD_OUT_SEED); both parts keep the split's order.
 */
export function holdOutTest(s: OwnSplit, classes: number, fraction = HELD_OUT_FRACTION): { train: OwnSplit; test: OwnSplit } {
  const rng = new Rng(HELD_OUT_SEED);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < s.n; i++) byClass[s.y[i]].push(i);
  const held = new Uint8Array(s.n);
  for (const idx of byClass) {
    const k = Math.min(Math.round(fraction * idx.length), Math.max(0, idx.length - 1));
    for (const i of (rng.shuffle(idx.slice()) as number[]).slice(0, k)) held[i] = 1;
  }
  const pick = (v: number) => Array.from({ length: s.n }, (_, i) => i).filter((i) => held[i] === v);
  return { train: subsetSplit(s, pick(0)), test: subsetSplit(s, pick(1)) };
}

/** Per-class counts "a 12, b 40" for descriptions. */
export function classCountText(s: Pick<OwnSplit, 'y' | 'n'>, names: readonly string[]): string {
  const counts = new Array<number>(names.length).fill(0);
  for (let i = 0; i < s.n; i++) counts[s.y[i]]++;
  return names.map((c, k) => `${c} ${counts[k]}`).join(', ');
}

function identity(s: OwnSplit): TaskSplit {
  return { y: s.y, n: s.n, sourceIndex: Uint32Array.from({ length: s.n }, (_, i) => i) };
}

/**
 * The task of own data: its splits as given (train, clean and test index the data set's own splits,
 * in order). Refuses a data set whose clean or test set is empty.
 */
export function givenTask(d: OwnDataset): Task {
  if (d.train.n === 0) throw new Error(`${d.title}: the training set is empty`);
  if (d.clean.n === 0) throw new Error(`${d.title}: the clean set is empty`);
  if (d.test.n === 0) throw new Error(`${d.title}: the test set is empty`);
  return {
    name: `${d.own}-given`,
    dataset: d.spec,
    numClasses: d.classes,
    train: identity(d.train),
    clean: identity(d.clean),
    test: identity(d.test),
    inputShape: [...d.shape],
    description: d.description,
    classNames: d.classNames.slice(),
  };
}

/** Own data as trainer input: its splits, as the given task orders them (identity). */
export function ownTrainData(d: OwnDataset, task: Task): TrainData {
  if (task.dataset !== d.spec) throw new Error(`ownTrainData: the task ${task.name} is of ${task.dataset}, the data given is ${d.spec}`);
  const take = (s: OwnSplit, t: TaskSplit): HostDataset => {
    if (t.n !== s.n || t.sourceIndex.some((j, i) => j !== i)) return { ...subsetSplit(s, t.sourceIndex), y: t.y };
    return { x: s.x, y: t.y, n: s.n, dim: s.dim };
  };
  return { train: take(d.train, task.train), clean: take(d.clean, task.clean), test: take(d.test, task.test) };
}

/** Where example i of a split came from: its file, or its row. */
export function exampleSource(s: OwnSplit, i: number): string {
  return s.files ? s.files[i] : String(s.rows[i]);
}
