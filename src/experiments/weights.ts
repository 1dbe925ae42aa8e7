// What a method made of each training example over a run, as a table a data-cleaning user reads:
// the Trainer's GPU tally (Trainer.weightTally: Σ weight, draws, zero-weight draws per example) joined
// with the task (labels, where each example came from, the corruption when the task made it). Rows
// come sorted by mean weight, lowest first: L2RW gives wrong labels little or no weight, so the top of
// the list is the suspected mislabelled examples. Browser-safe.
import { exampleSource, isOwnDataset } from '../data/own_data';
import type { Task } from '../data/tasks';
import type { WeightTallyCounts } from '../train/trainer';
import type { RunData } from './data';

export interface ExampleWeight {
  /** The example's position in the task's training set. */
  index: number;
  /** Where it came from: its file (image folders), its row of x.npy, or its index in the data set's train split. */
  source: string;
  /** Its (possibly wrong) label's class name. */
  label: string;
  /** Steps whose minibatch held it (twice in one batch counts twice). */
  draws: number;
  /** Mean weight over those draws; null when never drawn. */
  meanWeight: number | null;
  /** Share of its draws with weight exactly 0; null when never drawn. */
  zeroShare: number | null;
  /** Tasks that corrupted labels themselves (noise, longtail with noise): whether this label is wrong. */
  corrupted?: boolean;
}

/** One row per training example, lowest mean weight first (never drawn last; ties by index). */
export function exampleWeights(tally: WeightTallyCounts, task: Task, data: RunData): ExampleWeight[] {
  const n = task.train.n;
  if (tally.draws.length !== n) throw new Error(`the weight tally has ${tally.draws.length} examples, the task's training set ${n}`);
  const own = isOwnDataset(data) ? data : null;
  const flags = task.train.noisyMask;
  const rows: ExampleWeight[] = [];
  for (let i = 0; i < n; i++) {
    const draws = tally.draws[i];
    const j = task.train.sourceIndex[i];
    rows.push({
      index: i,
      source: own ? exampleSource(own.train, j) : String(j),
      label: task.classNames[task.train.y[i]] ?? String(task.train.y[i]),
      draws,
      meanWeight: draws > 0 ? tally.sum[i] / draws : null,
      zeroShare: draws > 0 ? tally.zeros[i] / draws : null,
      ...(flags ? { corrupted: flags[i] === 1 } : {}),
    });
  }
  const key = (r: ExampleWeight) => r.meanWeight ?? Infinity;
  return rows.sort((a, b) => key(a) - key(b) || a.index - b.index);
}

/** A CSV field, quoted when it holds a comma, quote or line break. */
export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(6)) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV: index, source, label, times_drawn, mean_weight, zero_weight_share (, corrupted). */
export function exampleWeightsCsv(rows: readonly ExampleWeight[]): string {
  const corrupted = rows.some((r) => r.corrupted !== undefined);
  const head = ['index', 'source', 'label', 'times_drawn', 'mean_weight', 'zero_weight_share', ...(corrupted ? ['corrupted'] : [])];
  const lines = rows.map((r) =>
    [r.index, r.source, r.label, r.draws, r.meanWeight, r.zeroShare, ...(corrupted ? [r.corrupted === undefined ? '' : r.corrupted ? 1 : 0] : [])].map(csvField).join(','),
  );
  return `${[head.join(','), ...lines].join('\n')}\n`;
}

/** Mean of the examples' mean weights, over those drawn at least once (null if none). */
export function meanOfMeans(rows: readonly ExampleWeight[]): number | null {
  const drawn = rows.filter((r) => r.meanWeight !== null);
  return drawn.length ? drawn.reduce((a, r) => a + r.meanWeight!, 0) / drawn.length : null;
}
