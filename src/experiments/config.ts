// What one experiment run is: the task (class imbalance or label noise), the method, the model and
// the optimiser settings. Shared by the CLI, the sweep and the tests.
import { DATASETS, isOwnDataSpec, parseOwnDataSpec, type DatasetSpec } from '../data/dataset';
import { METHODS, type Method } from '../train/methods';

/** 'given': own data (--dataset folder:DIR or npy:DIR) as it is, chosen automatically for it. */
export const TASKS = ['imbalance', 'noise', 'longtail', 'given'] as const;
export type TaskName = (typeof TASKS)[number];
export { MODEL_NAMES as MODELS, type ModelName } from '../train/models';
import { AUTO_MODEL, MODEL_NAMES as MODELS, type ModelChoice } from '../train/models';
export const FLIPS = ['uniform', 'background'] as const;
export type FlipName = (typeof FLIPS)[number];
export { DATASETS, type DatasetName, type DatasetSpec } from '../data/dataset';

export interface RunConfig {
  task: TaskName;
  /** Imbalance: fraction of the majority class (9s) in the training set, in (0, 1). */
  ratio: number;
  /** Noise, longtail: fraction of corrupted training labels, in [0, 1). */
  noise: number;
  flip: FlipName;
  /** Imbalance: total clean images (half per class). Noise: clean images per class. */
  clean: number;
  /** Training images; imbalance default 5000, noise default every image not in the clean set. */
  trainSize: number | null;
  method: Method;
  /** A registered model, or 'auto' (chosen for the input shape: own data's default). */
  model: ModelChoice;
  /** MLP hidden widths (only for --model mlp). */
  hidden: number[];
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Step decay: the rate is multiplied by lrDecayFactor at each of these fractions of `steps`. */
  lrDecayAt: number[];
  lrDecayFactor: number;
  steps: number;
  evalEvery: number;
  seed: number;
  dataDir: string | null;
  // Engine settings, present only when not the default (so results of earlier versions, which lack
  // them, still compare equal on `sweep --resume`).
  /** false: weight decay on weights only (the paper's CIFAR setting); default true. */
  decayBiases?: false;
  /** Random crop with this many pixels of zero padding, and a random horizontal flip; default none. */
  augmentPad?: number;
  /** L2RW's way of computing (TrainConfig.l2rwPath); default 'auto'. */
  l2rwPath?: 'fast' | 'general';
  /** The data set every task is built from; absent means MNIST (recorded only when not MNIST). Own data: "folder:DIR" or "npy:DIR". */
  dataset?: DatasetSpec;
  /** Image folders only: the side images are resized to (default 32), present only when given. */
  imageSize?: number;
  /** Image folders only: 1 (grey) or 3 (colour); absent: grey when every image is. */
  channels?: 1 | 3;
  /** Longtail only (and then required): largest class size / smallest, >= 1. */
  imbalanceFactor?: number;
  /**
   * What a divergence (NaN or infinity in the losses, weights or parameters) does: absent, stop the
   * run (status 'diverged'); 'rollback', go back to the last good checkpoint with the learning rate
   * multiplied by rollbackFactor, at most MAX_ROLLBACKS times. Not compared on resume (run.ts).
   */
  onDiverge?: 'rollback';
  /** With onDiverge 'rollback': the factor on the learning rate at each rollback, in (0, 1); absent: 0.5. */
  rollbackFactor?: number;
}

/** The learning-rate factor of a rollback (RunConfig.rollbackFactor) when none is given. */
export const DEFAULT_ROLLBACK_FACTOR = 0.5;
/** Rollbacks a run makes at most before it stops as diverged. */
export const MAX_ROLLBACKS = 3;

/**
 * Training settings kept fixed across methods and ratios (src/experiments/README.md has the tuning
 * runs). The paper trains 8000 steps at lr 1e-3; a few hundred steps is what a CPU Vulkan driver
 * affords, hence a larger rate, cut tenfold after 60% of the run. The rate stays at 0.005 because
 * L2RW and Proportion often put most of a batch's weight on one or two examples: at 0.01-0.02 those
 * single-example steps diverge, and at a constant 0.005 L2RW still diverged in 2 of 10 runs once its
 * clean-set loss was near zero; the decay settles every run.
 */
export const TRAIN_DEFAULTS = {
  batch: 100,
  lr: 0.005,
  momentum: 0.9,
  weightDecay: 5e-4,
  lrDecayAt: [0.6] as number[],
  lrDecayFactor: 0.1,
  steps: 350,
};

export const DEFAULT_CONFIG: RunConfig = {
  task: 'imbalance',
  ratio: 0.995,
  noise: 0.4,
  flip: 'uniform',
  clean: 10,
  trainSize: null,
  method: 'l2rw',
  model: 'lenet',
  hidden: [256],
  ...TRAIN_DEFAULTS,
  evalEvery: 50,
  seed: 1,
  dataDir: null,
};

/** A mistake in the arguments: reported as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Seeds are in [0, 2^32 - 1]: every random stream (Rng's mulberry32, the GPU's pcg hash, the trainer's
 * derived seeds) reduces its seed mod 2^32, so seed 2^32 + 1 would silently run as seed 1.
 */
export const MAX_SEED = 0xffffffff;

/** At most a billion steps: far beyond any real run (the paper's CIFAR runs take 80000), and inside the GPU kernels' 32-bit step counters. */
export const MAX_STEPS = 1_000_000_000;

/** Checks what can be checked without the data; the task builders check the rest against MNIST. */
export function validateConfig(c: RunConfig): RunConfig {
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new UsageError(msg);
  };
  // Number.isFinite / Number.isSafeInteger also refuse NaN, Infinity and non-numbers (library callers).
  const finite = (v: unknown): v is number => Number.isFinite(v);
  const int = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
  need((TASKS as readonly string[]).includes(c.task), `unknown task "${c.task}" (expected one of: ${TASKS.join(', ')})`);
  need((METHODS as readonly string[]).includes(c.method), `unknown method "${c.method}" (expected one of: ${METHODS.join(', ')})`);
  need(([...MODELS, AUTO_MODEL] as readonly string[]).includes(c.model), `unknown model "${c.model}" (expected one of: ${MODELS.join(', ')}, ${AUTO_MODEL})`);
  need((FLIPS as readonly string[]).includes(c.flip), `unknown flip "${c.flip}" (expected one of: ${FLIPS.join(', ')})`);
  need(
    c.dataset === undefined || (DATASETS as readonly string[]).includes(c.dataset) || isOwnDataSpec(c.dataset),
    `unknown data set "${c.dataset}" (expected one of: ${DATASETS.join(', ')})`,
  );
  const own = parseOwnDataSpec(c.dataset);
  if (own) {
    need(c.task === 'given', `--task ${c.task} builds its task from a built-in data set; your own data (--dataset ${c.dataset}) is trained as it is labelled (task given)`);
    need(c.trainSize === null, '--train-size applies to the built-in data sets; own data is trained on all of its training examples');
  } else {
    need(c.task !== 'given', `--task given is for your own data (--dataset folder:DIR or npy:DIR)`);
  }
  need((c.imageSize === undefined && c.channels === undefined) || own?.kind === 'folder', '--image-size and --channels apply to image folders (--dataset folder:DIR)');
  need(c.imageSize === undefined || int(c.imageSize, 1, 1024), `--image-size must be an integer in [1, 1024], got ${c.imageSize}`);
  need(c.channels === undefined || c.channels === 1 || c.channels === 3, `--channels must be 1 (grey) or 3 (colour), got ${c.channels}`);
  if (c.task === 'longtail') {
    need(c.imbalanceFactor !== undefined, '--task longtail needs --imbalance-factor <rho> (largest class / smallest class, >= 1)');
    need(finite(c.imbalanceFactor) && c.imbalanceFactor >= 1, `--imbalance-factor must be a number >= 1 (largest class / smallest class), got ${c.imbalanceFactor}`);
  } else {
    need(c.imbalanceFactor === undefined, `--imbalance-factor applies only to --task longtail, not ${c.task}`);
  }
  need(finite(c.ratio) && c.ratio > 0 && c.ratio < 1, `--ratio must be in (0, 1), got ${c.ratio}`);
  need(finite(c.noise) && c.noise >= 0 && c.noise < 1, `--noise must be in [0, 1), got ${c.noise}`);
  if (c.task === 'imbalance') {
    need(int(c.clean, 2) && c.clean % 2 === 0, `--clean must be an even integer >= 2 for the imbalance task (half 4s, half 9s), got ${c.clean}`);
  } else {
    need(int(c.clean, 1), `--clean must be a positive integer (clean images per class), got ${c.clean}`);
  }
  need(c.trainSize === null || int(c.trainSize, 1), `--train-size must be a positive integer, got ${c.trainSize}`);
  need(Array.isArray(c.hidden) && c.hidden.length >= 1 && c.hidden.every((h) => int(h, 1)), `--hidden must be positive integers, got ${c.hidden}`);
  need(int(c.batch, 1), `--batch must be a positive integer, got ${c.batch}`);
  need(finite(c.lr) && c.lr > 0, `--lr must be a positive finite number, got ${c.lr}`);
  need(finite(c.momentum) && c.momentum >= 0 && c.momentum < 1, `--momentum must be in [0, 1), got ${c.momentum}`);
  need(finite(c.weightDecay) && c.weightDecay >= 0, `--weight-decay must be a finite number >= 0, got ${c.weightDecay}`);
  need(Array.isArray(c.lrDecayAt) && c.lrDecayAt.every((f) => finite(f) && f > 0 && f < 1), `--lr-decay-at must be fractions of --steps in (0, 1), got ${c.lrDecayAt}`);
  need(finite(c.lrDecayFactor) && c.lrDecayFactor > 0 && c.lrDecayFactor <= 1, `--lr-decay-factor must be in (0, 1], got ${c.lrDecayFactor}`);
  need(int(c.steps, 1, MAX_STEPS), `--steps must be a positive integer up to ${MAX_STEPS}, got ${c.steps}`);
  need(int(c.evalEvery, 1), `--eval-every must be a positive integer, got ${c.evalEvery}`);
  need(int(c.seed, 0, MAX_SEED), `--seed must be an integer in [0, ${MAX_SEED}] (seeds are 32-bit), got ${c.seed}`);
  need(c.augmentPad === undefined || int(c.augmentPad, 0, 100), `--augment-pad must be an integer in [0, 100], got ${c.augmentPad}`);
  need(c.onDiverge === undefined || c.onDiverge === 'rollback', `--on-diverge must be stop or rollback, got ${c.onDiverge}`);
  need(c.rollbackFactor === undefined || (finite(c.rollbackFactor) && c.rollbackFactor > 0 && c.rollbackFactor < 1), `--rollback-factor must be in (0, 1), got ${c.rollbackFactor}`);
  need(c.rollbackFactor === undefined || c.onDiverge === 'rollback', '--rollback-factor applies only with --on-diverge rollback');
  return c;
}

/** The steps at which the learning rate decays: each fraction of the run, rounded to a step. */
export function lrDecaySteps(c: Pick<RunConfig, 'lrDecayAt' | 'steps'>): number[] {
  return c.lrDecayAt.map((f) => Math.round(f * c.steps));
}

/** "lr 0.005" or "lr 0.005, x0.1 at steps 210, 298": for tables and logs. */
export function describeLr(c: Pick<RunConfig, 'lr' | 'lrDecayAt' | 'lrDecayFactor' | 'steps'>): string {
  const at = lrDecaySteps(c);
  return at.length ? `lr ${c.lr}, x${c.lrDecayFactor} at step${at.length > 1 ? 's' : ''} ${at.join(', ')}` : `lr ${c.lr}`;
}
