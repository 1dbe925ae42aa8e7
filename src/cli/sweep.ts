// `l2rw sweep`: methods x ratios x seeds on one GPU; a table, results.json/csv and the Fig. 2 plot.
import { resolve } from 'node:path';
import type { Gpu } from '../gpu/gpu';
import { describeLr, validateConfig } from '../experiments/config';
import { loadData } from '../experiments/data';
import { formatTable } from '../experiments/report';
import { checkSweep, runSweep, sharedConfig, sweepConfigs, type SweepPlan } from '../experiments/sweep';
import { Progress, progressMode, useColor, type Streams } from './progress';
import { describeRun, pct } from './train';

export interface SweepCommandOptions {
  plan: SweepPlan;
  out: string;
  json: boolean;
  /** Keep the finished runs of an earlier sweep into the same folder. */
  resume: boolean;
}

export async function sweepCommand(o: SweepCommandOptions, s: Streams, gpuFactory: () => Promise<Gpu>, shouldStop: () => boolean): Promise<number> {
  const { plan } = o;
  validateConfig(plan.base);
  for (const ratio of plan.ratios) validateConfig({ ...plan.base, ratio });
  const out = resolve(o.out);
  const mnist = await loadData(plan.base.dataDir);
  checkSweep(mnist, plan);
  const gpu = await gpuFactory();
  const configs = sweepConfigs(plan);
  const total = configs.length * plan.base.steps;
  const progress = new Progress(progressMode(o.json, s), s);
  progress.event('start', { command: 'sweep', preset: plan.preset, runs: configs.length, methods: plan.methods, ratios: plan.ratios, seeds: plan.seeds, config: sharedConfig(plan), adapter: gpu.name, out });
  progress.log(
    `sweep ${plan.preset}: ${plan.methods.length} methods x ${plan.ratios.length} ratios x ${plan.seeds.length} seeds = ${configs.length} runs ` +
      `of ${plan.base.steps} steps on ${gpu.name}; writing to ${out}`,
  );
  progress.start(total, { label: 'sweep' });
  const base = (i: number) => i * plan.base.steps;
  const outcome = await runSweep(gpu, mnist, plan, out, {
    onRunStart: (i, n, c) => progress.update(base(i), { label: `[${i + 1}/${n}] ${c.method} r=${c.ratio} s${c.seed}` }),
    onProgress: (i, step, loss) => {
      progress.update(base(i) + step, { loss });
    },
    onRunEnd: (i, n, r) => {
      const what = `[${i + 1}/${n}] ${describeRun(r.config)}`;
      progress.log(
        r.status === 'ok'
          ? `${what}: test error ${pct(r.test_error)} (${r.wall_s.toFixed(1)} s, ${r.steps_per_s.toFixed(2)} steps/s)`
          : `${what}: ${r.status}: ${r.error}`,
      );
      const { curves: _c, config: _cfg, ...summary } = r;
      progress.event('run', { index: i, ratio: r.config.ratio, seed: r.config.seed, ...summary });
    },
    shouldStop,
  }, o.resume);
  progress.update(outcome.results.length * plan.base.steps);
  progress.stop();
  const failed = outcome.results.filter((r) => r.status === 'diverged' || r.status === 'failed');
  progress.event('done', { aggregate: outcome.aggregate, files: outcome.files, wall_s: outcome.wall_s, failed: failed.length, ...(outcome.stopped ? { stopped: outcome.stopped } : {}) });
  if (!o.json) {
    const bold = useColor(s.stdout, s.env) ? (t: string) => `\u001b[1m${t}\u001b[0m` : (t: string) => t;
    s.stdout.write(`\n${formatTable(outcome.aggregate, bold)}\n\n`);
    s.stdout.write(
      `${outcome.results.length} runs in ${(outcome.wall_s / 60).toFixed(1)} min on ${gpu.name} ` +
        `(${plan.base.model}, ${plan.base.steps} steps, batch ${plan.base.batch}, ${describeLr(plan.base)}, momentum ${plan.base.momentum}, weight decay ${plan.base.weightDecay}; mean ± std over seeds ${plan.seeds.join(',')})\n`,
    );
    s.stdout.write(`plot:    ${outcome.files.svg}\nresults: ${outcome.files.json}\n         ${outcome.files.csv}\n         ${outcome.files.summaryCsv}\n`);
  }
  if (outcome.stopped) {
    s.stderr.write(`l2rw: sweep stopped early (${outcome.stopped}) after ${outcome.results.length} of ${configs.length} runs; partial results are in ${outcome.files.json}\n`);
    return outcome.stopped === 'interrupted' ? 130 : 1;
  }
  if (failed.length) {
    s.stderr.write(`l2rw: ${failed.length} of ${configs.length} runs did not finish (${failed.map((r) => `${r.method} r=${r.config.ratio} s${r.config.seed}: ${r.status}`).join('; ')}); details in ${outcome.files.json}\n`);
    return 1;
  }
  return 0;
}
