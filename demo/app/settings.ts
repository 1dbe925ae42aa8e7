// What the user picks in the form, its defaults, and its mirror in the page's query string (so a run
// can be linked to, and the browser tests can start one without clicking through the form).
import { METHODS, selectsOnClean, type Method } from '../../src/train/methods';

/** The methods the live demo offers: early stopping needs evaluation points the demo's loop does not keep. */
export const DEMO_METHODS = METHODS.filter((m) => !selectsOnClean(m));

export type TaskKind = 'imbalance' | 'noise-uniform' | 'noise-background';
export type ModelKind = 'mlp' | 'lenet';

export interface Settings {
  task: TaskKind;
  /** Imbalance: fraction of 9s (the majority class) in the training set. */
  ratio: number;
  /** Label noise: fraction of corrupted training labels. */
  noise: number;
  trainSize: number;
  /** Clean validation images per class (the imbalance task has two classes, the noise task ten). */
  cleanPerClass: number;
  methods: Method[];
  steps: number;
  lr: number;
  batch: number;
  model: ModelKind;
  /** Steps between readbacks of statistics, test error and the minibatch view. */
  every: number;
  seed: number;
  /** Start training as soon as the page is ready. */
  autostart: boolean;
}

/** Per-task sizes: the paper's clean-set sizes, training sets the shipped subset can supply. */
export const TASK_DEFAULTS: Record<TaskKind, Pick<Settings, 'trainSize' | 'cleanPerClass'>> = {
  imbalance: { trainSize: 1000, cleanPerClass: 5 },
  'noise-uniform': { trainSize: 5000, cleanPerClass: 10 },
  'noise-background': { trainSize: 5000, cleanPerClass: 10 },
};

export const DEFAULTS: Settings = {
  task: 'imbalance',
  ratio: 0.98,
  noise: 0.4,
  ...TASK_DEFAULTS.imbalance,
  methods: ['l2rw', 'plain'],
  steps: 300,
  lr: 0.01,
  batch: 32,
  model: 'mlp',
  every: 20,
  seed: 1,
  autostart: false,
};

export const TASK_LABELS: Record<TaskKind, string> = {
  imbalance: '4 vs 9, class imbalance',
  'noise-uniform': '10 digits, uniform label noise',
  'noise-background': '10 digits, background-flip label noise',
};

export const METHOD_LABELS: Record<Method, string> = {
  l2rw: 'L2RW',
  plain: 'Plain SGD',
  proportion: 'Proportion',
  resample: 'Resample',
  hardmining: 'Hard mining',
  random: 'Random',
  'clean-only': 'Clean only',
  finetune: 'Fine-tune',
  'l2rw-finetune': 'L2RW + fine-tune',
  'early-stop': 'Early stopping',
  'bootstrap-soft': 'Bootstrap (soft)',
  'bootstrap-hard': 'Bootstrap (hard)',
};

/** Fixed colours per method, so a method keeps its colour whatever else is selected. */
export const METHOD_COLORS: Record<Method, string> = {
  l2rw: '#d9480f',
  plain: '#1c7ed6',
  proportion: '#2b8a3e',
  resample: '#7048e8',
  hardmining: '#c2255c',
  random: '#868e96',
  'clean-only': '#0c8599',
  finetune: '#e67700',
  'l2rw-finetune': '#a61e4d',
  'early-stop': '#5c940d',
  'bootstrap-soft': '#364fc7',
  'bootstrap-hard': '#495057',
};

export const LIMITS = {
  ratio: [0.5, 0.999],
  noise: [0, 0.95],
  trainSize: [10, 9900],
  cleanPerClass: [1, 100],
  steps: [1, 100_000],
  lr: [1e-5, 10],
  batch: [2, 256],
  every: [1, 1000],
  seed: [0, 2 ** 31 - 1],
} as const;

function num(v: string | null, fallback: number, [lo, hi]: readonly [number, number], integer = false): number {
  if (v === null || v.trim() === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) return fallback;
  return Math.min(hi, Math.max(lo, n));
}

export function parseMethods(list: string | null): Method[] | null {
  if (!list) return null;
  const picked = list.split(',').filter((m): m is Method => (DEMO_METHODS as readonly string[]).includes(m));
  return picked.length ? [...new Set(picked)] : null;
}

export function fromQuery(search: string): Settings {
  const q = new URLSearchParams(search);
  const task = (['imbalance', 'noise-uniform', 'noise-background'] as const).find((t) => t === q.get('task')) ?? DEFAULTS.task;
  const sizes = TASK_DEFAULTS[task];
  return {
    task,
    ratio: num(q.get('ratio'), DEFAULTS.ratio, LIMITS.ratio),
    noise: num(q.get('noise'), DEFAULTS.noise, LIMITS.noise),
    trainSize: num(q.get('trainSize'), sizes.trainSize, LIMITS.trainSize, true),
    cleanPerClass: num(q.get('clean'), sizes.cleanPerClass, LIMITS.cleanPerClass, true),
    methods: parseMethods(q.get('methods')) ?? DEFAULTS.methods,
    steps: num(q.get('steps'), DEFAULTS.steps, LIMITS.steps, true),
    lr: num(q.get('lr'), DEFAULTS.lr, LIMITS.lr),
    batch: num(q.get('batch'), DEFAULTS.batch, LIMITS.batch, true),
    model: q.get('model') === 'lenet' ? 'lenet' : 'mlp',
    every: num(q.get('every'), DEFAULTS.every, LIMITS.every, true),
    seed: num(q.get('seed'), DEFAULTS.seed, LIMITS.seed, true),
    autostart: q.get('autostart') === '1',
  };
}

export function toQuery(s: Settings): string {
  const q = new URLSearchParams({
    task: s.task,
    ratio: String(s.ratio),
    noise: String(s.noise),
    trainSize: String(s.trainSize),
    clean: String(s.cleanPerClass),
    methods: s.methods.join(','),
    steps: String(s.steps),
    lr: String(s.lr),
    batch: String(s.batch),
    model: s.model,
    every: String(s.every),
    seed: String(s.seed),
  });
  return '?' + q.toString();
}
