// The paper's experiments as sweep presets. A preset is a declaration: the quantity its x axis varies
// (each point is a label and the RunConfig fields it sets), the methods compared, the seeds and steps
// of the full sweep and of --quick, and the fixed settings per data set: the paper's (ResNet-32 on
// CIFAR) when the CIFAR files are given, and settings sized for a CPU adapter on MNIST and
// Fashion-MNIST otherwise. sweep.ts runs any of them; nothing else knows a preset's name.
import type { Method } from '../train/methods';
import type { DatasetInfo } from '../data/dataset';
import type { DatasetName, RunConfig } from './config';

/** RunConfig fields a sweep may vary along its x axis. */
export const AXIS_FIELDS = ['ratio', 'noise', 'flip', 'clean', 'imbalanceFactor'] as const;
export type AxisField = (typeof AXIS_FIELDS)[number];

/** One point of a sweep's x axis: its label (plot tick, table column) and the settings it changes. */
export interface SweepPoint {
  label: string;
  set: Partial<Pick<RunConfig, AxisField>>;
}

export interface SweepAxis {
  /** The plot's x-axis title. */
  title: string;
  /** Prefix of a point's table column, e.g. "r=" gives "r=0.9". */
  column: string;
}

/** How much of a preset runs: the full sweep, or --quick. */
export interface PresetSize {
  methods: Method[];
  points: SweepPoint[];
  seeds: number;
  steps: number;
  evalEvery: number;
}

/** A preset's settings on one family of data sets. */
export interface PresetSetting {
  /** Fixed settings of every run (task, model, optimiser); the rest are RunConfig's defaults. */
  config: Partial<RunConfig>;
  full: PresetSize;
  quick: PresetSize;
}

export interface PresetDecl {
  /** One line for `--help`. */
  summary: string;
  axis: SweepAxis;
  /** The data set the paper ran it on; `sweep` picks it when --data-dir holds its files and no --dataset is given. */
  paperDataset?: DatasetName;
  /** The settings for a data set. */
  setting(dataset: DatasetName): PresetSetting;
  /** The plot's title for a sweep's shared settings. */
  title(c: RunConfig, data: DatasetInfo): string;
}

export const ratioPoints = (ratios: number[]): SweepPoint[] => ratios.map((ratio) => ({ label: String(ratio), set: { ratio } }));
const noisePoints = (flips: RunConfig['flip'][], levels: number[]): SweepPoint[] =>
  flips.flatMap((flip) => levels.map((noise) => ({ label: `${flip} ${noise}`, set: { flip, noise } })));
const levelPoints = (levels: number[]): SweepPoint[] => levels.map((noise) => ({ label: String(noise), set: { noise } }));
const cleanPoints = (perClass: number[]): SweepPoint[] => perClass.map((clean) => ({ label: String(clean), set: { clean } }));

/** Whether a run's config is at this point of the axis. */
export function atPoint(c: Partial<Pick<RunConfig, AxisField>>, p: SweepPoint): boolean {
  return Object.entries(p.set).every(([k, v]) => c[k as AxisField] === v);
}

/** The axis fields a list of points sets, in AXIS_FIELDS order (the CSV columns). */
export function axisFields(points: SweepPoint[]): AxisField[] {
  return AXIS_FIELDS.filter((f) => points.some((p) => f in p.set));
}

const isCifar = (d: DatasetName) => d === 'cifar10' || d === 'cifar100';

/**
 * ResNet-32 on CIFAR with the paper's settings (README: batch 100, SGD with momentum 0.9, lr 0.1 cut
 * tenfold at 50% and 75% of 80k steps, weight decay 2e-4 on weights only, random 4-pixel crops and
 * flips). 80k steps is a GPU's job, not this project's CPU machine's (RESULTS.md has step times).
 */
const CIFAR_TRAINING: Partial<RunConfig> = {
  model: 'resnet32',
  batch: 100,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 2e-4,
  lrDecayAt: [0.5, 0.75],
  lrDecayFactor: 0.1,
  decayBiases: false,
  augmentPad: 4,
};
const CIFAR_FULL = { seeds: 3, steps: 80000, evalEvery: 2000 };
const CIFAR_QUICK = { seeds: 1, steps: 2000, evalEvery: 500 };

/** The methods the paper compares on noisy labels (its Tables 1 and 2). */
const NOISE_METHODS: Method[] = ['plain', 'random', 'bootstrap-soft', 'bootstrap-hard', 'clean-only', 'finetune', 'early-stop', 'l2rw', 'l2rw-finetune'];
/** The methods that use the clean set (Fig. 4 and 5), and plain SGD as the reference. */
const CLEAN_METHODS: Method[] = ['plain', 'clean-only', 'finetune', 'early-stop', 'l2rw', 'l2rw-finetune'];
const QUICK_METHODS: Method[] = ['plain', 'clean-only', 'finetune', 'l2rw'];

export const PRESET_DECLS = {
  /**
   * Fig. 2: MNIST 4-vs-9, 5000 training images, 10 clean images, LeNet, test error against the
   * proportion of 9s. The paper trains 8000 steps and averages 10 seeds; the step and seed counts
   * here come from measured step times (src/experiments/README.md): the full sweep took 93 minutes
   * on a 2-core CPU Vulkan driver. --quick is `npm start`, a newcomer's first command, sized to answer
   * in a few minutes there: 150 steps (200 took 5.0 minutes on an idle 2-core machine; at 150 the
   * point of Fig. 2 is unchanged: L2RW far below plain at 0.995, the baselines between).
   */
  fig2: {
    summary: 'MNIST 4-vs-9 class imbalance: test error vs proportion of 9s (paper Fig. 2)',
    axis: { title: 'Proportion of the majority class (9s)', column: 'r=' },
    setting: () => ({
      config: { task: 'imbalance', clean: 10, model: 'lenet' },
      full: {
        methods: ['plain', 'proportion', 'resample', 'hardmining', 'random', 'l2rw'],
        points: ratioPoints([0.9, 0.95, 0.98, 0.99, 0.995]),
        seeds: 3,
        steps: 350,
        evalEvery: 70,
      },
      quick: { methods: ['plain', 'proportion', 'resample', 'l2rw'], points: ratioPoints([0.9, 0.995]), seeds: 1, steps: 150, evalEvery: 75 },
    }),
    title: (_c, data) => `${data.title} ${data.classNames[4]} vs ${data.classNames[9]} with class imbalance`,
  },
  /**
   * The paper's noisy-label tables: uniform flip (to a random other class) and background flip (to
   * one class per seed) at 20, 40 and 60%, every baseline. On MNIST and Fashion-MNIST: LeNet, 10
   * clean images per class (100 in all, as in the paper's Fig. 4 setting), 200 steps.
   */
  noise: {
    summary: 'label noise: uniform and background flip at 20, 40 and 60%, every baseline (paper Tables 1-2)',
    axis: { title: 'Label noise (flip kind and share of corrupted labels)', column: '' },
    paperDataset: 'cifar10',
    setting: (d) =>
      isCifar(d)
        ? {
            config: { task: 'noise', clean: 100, ...CIFAR_TRAINING },
            full: { methods: NOISE_METHODS, points: noisePoints(['uniform', 'background'], [0.2, 0.4, 0.6]), ...CIFAR_FULL },
            quick: { methods: QUICK_METHODS, points: noisePoints(['uniform', 'background'], [0.4]), ...CIFAR_QUICK },
          }
        : {
            config: { task: 'noise', clean: 10, model: 'lenet' },
            full: { methods: NOISE_METHODS, points: noisePoints(['uniform', 'background'], [0.2, 0.4, 0.6]), seeds: 3, steps: 200, evalEvery: 50 },
            quick: { methods: QUICK_METHODS, points: noisePoints(['uniform', 'background'], [0.4]), seeds: 1, steps: 150, evalEvery: 50 },
          },
    title: (_c, data) => `${data.title} with noisy labels`,
  },
  /**
   * Fig. 4: 40% of the labels flipped to one background class, and the number of clean images per
   * class from 5 to 1000; the methods that use the clean set, and plain SGD for reference.
   */
  'clean-size': {
    summary: 'number of clean images: 40% background flip, 5 to 1000 clean images per class (paper Fig. 4)',
    axis: { title: 'Clean images per class', column: 'k=' },
    paperDataset: 'cifar10',
    setting: (d) => {
      const full = cleanPoints([5, 10, 25, 50, 100, 250, 1000]);
      const quick = cleanPoints([5, 50, 250]);
      const fixed: Partial<RunConfig> = { task: 'noise', noise: 0.4, flip: 'background' };
      return isCifar(d)
        ? {
            config: { ...fixed, ...CIFAR_TRAINING },
            full: { methods: CLEAN_METHODS, points: full, ...CIFAR_FULL },
            quick: { methods: ['clean-only', 'finetune', 'l2rw'], points: quick, ...CIFAR_QUICK },
          }
        : {
            config: { ...fixed, model: 'lenet' },
            full: { methods: CLEAN_METHODS, points: full, seeds: 3, steps: 250, evalEvery: 50 },
            quick: { methods: ['clean-only', 'finetune', 'l2rw'], points: quick, seeds: 1, steps: 150, evalEvery: 50 },
          };
    },
    title: (_c, data) => `${data.title}, 40% background flip: effect of the clean set's size`,
  },
  /**
   * Fig. 5: long-tailed class imbalance (largest class 10x the smallest) plus uniform label noise at
   * several levels; the paper's setting is CIFAR-100 with ResNet-32.
   */
  'imbalance-noise': {
    summary: 'class imbalance plus label noise: long tail (factor 10) with 0 to 60% uniform flip (paper Fig. 5)',
    axis: { title: 'Share of corrupted labels (uniform flip), long-tailed classes', column: 'noise=' },
    paperDataset: 'cifar100',
    setting: (d) => {
      const fixed: Partial<RunConfig> = { task: 'longtail', imbalanceFactor: 10, flip: 'uniform' };
      return isCifar(d)
        ? {
            config: { ...fixed, clean: 10, ...CIFAR_TRAINING },
            full: { methods: CLEAN_METHODS, points: levelPoints([0, 0.2, 0.4, 0.6]), ...CIFAR_FULL },
            quick: { methods: QUICK_METHODS, points: levelPoints([0, 0.4]), ...CIFAR_QUICK },
          }
        : {
            config: { ...fixed, clean: 10, model: 'lenet' },
            full: { methods: CLEAN_METHODS, points: levelPoints([0, 0.2, 0.4, 0.6]), seeds: 3, steps: 400, evalEvery: 50 },
            quick: { methods: QUICK_METHODS, points: levelPoints([0, 0.4]), seeds: 1, steps: 150, evalEvery: 50 },
          };
    },
    title: (c, data) => `${data.title}, long tail (factor ${c.imbalanceFactor}) with noisy labels`,
  },
} satisfies Record<string, PresetDecl>;

export type PresetName = keyof typeof PRESET_DECLS;
export const PRESETS = Object.keys(PRESET_DECLS) as PresetName[];

export function presetDecl(name: PresetName): PresetDecl {
  return PRESET_DECLS[name];
}
