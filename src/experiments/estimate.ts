// How long a sweep will take on this adapter, measured rather than guessed: for each method of the
// plan, a few steps and one evaluation at the plan's first point, timed after a warm-up run that
// compiles the pipelines; then every run's steps and evaluations priced at those rates. This is how a
// user with CIFAR and a GPU learns what the paper's 80k-step presets cost before starting them.
import type { DataSource } from '../data/index';
import type { Gpu } from '../gpu/gpu';
import type { RunConfig } from './config';
import { runExperiment } from './run';
import { sweepConfigs, type SweepPlan } from './sweep';

export interface MethodCost {
  method: string;
  /** Seconds per training step (the run's mix of phases at the measured point). */
  step_s: number;
  /** Seconds per evaluation (clean set and test set). */
  eval_s: number;
  /** Seconds per run outside steps and evaluations (task, buffers, model). */
  setup_s: number;
  /** Runs of this method in the sweep (or shard). */
  runs: number;
  /** Estimated seconds for those runs. */
  total_s: number;
}

export interface SweepEstimate {
  methods: MethodCost[];
  total_s: number;
  /** Steps timed per method (after the warm-up). */
  measured_steps: number;
}

export interface EstimateOptions {
  /** Steps timed per method (default 4). */
  steps?: number;
  /** Called before each method is measured. */
  onMethod?(method: string, index: number, count: number): void;
}

/** Evaluations a run makes: every evalEvery steps and after the last. */
export function evaluationsPerRun(c: Pick<RunConfig, 'steps' | 'evalEvery'>): number {
  return Math.floor(c.steps / c.evalEvery) + (c.steps % c.evalEvery === 0 ? 0 : 1);
}

/** Measures each method of `configs` (the sweep's runs, or a shard's) and prices every run. */
export async function estimateSweep(gpu: Gpu, data: DataSource, plan: SweepPlan, configs: RunConfig[] = sweepConfigs(plan), o: EstimateOptions = {}): Promise<SweepEstimate> {
  const steps = o.steps ?? 4;
  const methods = [...new Set(configs.map((c) => c.method))];
  const costs: MethodCost[] = [];
  for (const [i, method] of methods.entries()) {
    o.onMethod?.(method, i, methods.length);
    const at = configs.find((c) => c.method === method)!;
    // Fine-tuning methods spend the last tenth of a run on the clean set; the probe gives that phase
    // one of its steps, so their estimate leans a little towards that (cheaper) phase.
    const probe = (n: number): RunConfig => ({ ...at, steps: n, evalEvery: n, lrDecayAt: [] });
    await runExperiment(gpu, data, probe(2)); // compiles this method's pipelines
    const r = await runExperiment(gpu, data, probe(steps));
    if (r.status !== 'ok') throw new Error(`estimating ${method}: the timing run ${r.status}${r.error ? `: ${r.error}` : ''}`);
    const step_s = r.train_s / steps;
    const eval_s = r.eval_s;
    const setup_s = Math.max(0, r.wall_s - r.train_s - r.eval_s);
    const mine = configs.filter((c) => c.method === method);
    const total_s = mine.reduce((a, c) => a + c.steps * step_s + evaluationsPerRun(c) * eval_s + setup_s, 0);
    costs.push({ method, step_s, eval_s, setup_s, runs: mine.length, total_s });
  }
  return { methods: costs, total_s: costs.reduce((a, c) => a + c.total_s, 0), measured_steps: steps };
}

/** "3.2 h", "41 min", "12 s", "5.1 days". */
export function formatDuration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 90 * 60) return `${(s / 60).toFixed(0)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

/** The estimate as a text table. */
export function formatEstimate(e: SweepEstimate): string {
  const header = ['method', 'step', 'evaluation', 'runs', 'time'];
  const rows = e.methods.map((m) => [m.method, `${(m.step_s * 1000).toFixed(m.step_s < 1 ? 1 : 0)} ms`, `${m.eval_s.toFixed(2)} s`, String(m.runs), formatDuration(m.total_s)]);
  rows.push(['total', '', '', String(e.methods.reduce((a, m) => a + m.runs, 0)), formatDuration(e.total_s)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
