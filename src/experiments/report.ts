// Files a run or a sweep leaves behind (JSON, CSV) and the text table of a sweep.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic_file';
import { atPoint, type SweepPoint } from './presets';
import type { CurvePoint, RunResult } from './run';

export { writeFileAtomic } from '../util/atomic_file';

export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

const CURVE_COLUMNS: (keyof CurvePoint)[] = [
  'step',
  'train_loss',
  'val_loss',
  'test_error',
  'test_loss',
  'weighted_loss',
  'zero_weights',
  'max_weight',
  'flagged_weight',
  'val_batch_loss',
  'lr',
];

export function curvesCsv(curves: CurvePoint[]): string {
  const cols = CURVE_COLUMNS.filter((k) => k === 'step' || curves.some((p) => p[k] !== undefined));
  return toCsv(cols, curves.map((p) => cols.map((k) => p[k])));
}

/** DIR/result.json and DIR/curves.csv for one run. */
export function writeRunFiles(dir: string, result: RunResult): { json: string; csv: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'result.json');
  const csv = join(dir, 'curves.csv');
  writeFileAtomic(json, JSON.stringify(result, null, 2) + '\n');
  writeFileAtomic(csv, curvesCsv(result.curves));
  return { json, csv };
}

export interface Cell {
  /** Test errors (fractions) of the runs that finished. */
  errors: number[];
  mean: number | null;
  std: number | null;
  /** Runs that diverged or failed. */
  failed: number;
  /** Runs stopped by Ctrl-C, SIGTERM or a time limit (`sweep --resume` continues them). */
  interrupted: number;
}

export interface Aggregate {
  methods: string[];
  /** The labels of the sweep's points (its x axis), in order. */
  points: string[];
  /** cells[method][point label] */
  cells: Record<string, Record<string, Cell>>;
}

/** Sample standard deviation (n − 1); null for fewer than two values. */
export function stdDev(v: number[]): number | null {
  if (v.length < 2) return null;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

export function aggregate(results: RunResult[], methods: string[], points: SweepPoint[]): Aggregate {
  const cells: Aggregate['cells'] = {};
  for (const m of methods) {
    cells[m] = {};
    for (const p of points) {
      const runs = results.filter((x) => x.method === m && atPoint(x.config, p));
      const errors = runs.filter((x) => x.status === 'ok' && x.test_error !== null).map((x) => x.test_error as number);
      cells[m][p.label] = {
        errors,
        mean: errors.length ? errors.reduce((a, b) => a + b, 0) / errors.length : null,
        std: stdDev(errors),
        failed: runs.filter((x) => x.status !== 'ok' && x.status !== 'interrupted').length,
        interrupted: runs.filter((x) => x.status === 'interrupted').length,
      };
    }
  }
  return { methods, points: points.map((p) => p.label), cells };
}

/** "1.23 ± 0.45" in percent; "1.23" for one run; "—" for none; "(n failed)", "(n interrupted)" appended. */
export function formatCell(c: Cell | undefined): string {
  if (!c) return '—';
  const notes = [c.failed ? `${c.failed} failed` : '', c.interrupted ? `${c.interrupted} interrupted` : ''].filter(Boolean);
  if (c.mean === null) return notes.length ? notes.join(', ') : '—';
  let s = (c.mean * 100).toFixed(2);
  if (c.std !== null) s += ` ± ${(c.std * 100).toFixed(2)}`;
  if (notes.length) s += ` (${notes.join(', ')})`;
  return s;
}

/** Methods as rows, points as columns (headed `${column}${label}`): mean ± std test error in percent. */
export function formatTable(a: Aggregate, column = '', bold: (s: string) => string = (s) => s): string {
  const header = ['test error %', ...a.points.map((p) => `${column}${p}`)];
  const rows = a.methods.map((m) => [m, ...a.points.map((p) => formatCell(a.cells[m]?.[p]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [bold(line(header)), rule, ...rows.map(line)].join('\n');
}
