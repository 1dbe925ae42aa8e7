// Plain-text tables of a BenchResult (the CLI's summary; the browser page shows the same text).
import type { BenchResult } from './run';
import { fmtMs, fmtRate } from './lib/timing';

const f = (v: number | null | undefined, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function formatResult(r: BenchResult): string {
  const out: string[] = [];
  out.push(`adapter: ${r.adapter} (${r.runtime}); timer: ${r.timer}; mode: ${r.mode}; load ${r.load.start?.join(' ') ?? '?'} -> ${r.load.end?.join(' ') ?? '?'}`);
  if (r.kernels.length) {
    out.push('');
    out.push(table(['kernel', 'shape', 'variant', 'ms', 'GFLOP/s', 'cpu ms'], r.kernels.map((k) => [k.name, k.shape, k.variant, fmtMs(k.ms, k.ms_bound), fmtRate(k.gflops, k.ms_bound), f(k.cpu_ms, 3)])));
  }
  for (const m of r.models) {
    out.push('');
    out.push(
      `${m.model} step (batch 100, ${m.data} data): plain ${f(m.plain_ms, 1)} ms, L2RW ${f(m.l2rw_ms, 1)} ms, ` +
        `L2RW/plain ${f(m.l2rw_over_plain)} (CPU time: ${f(m.plain_cpu_ms, 1)} / ${f(m.l2rw_cpu_ms, 1)} ms, ratio ${f(m.l2rw_over_plain_cpu)}); submits/step ${m.submits_per_step}, readbacks/step ${m.readbacks_per_step} ` +
        `(${m.readbacks_per_log} per logging point); dispatches plain ${m.dispatches_per_step.plain}, L2RW ${m.dispatches_per_step.l2rw}`,
    );
    // Times below the timer's resolution (bench/lib/timing.ts) print as "< X"; tiny ones keep 2 significant digits.
    const plainBy = new Map(m.plain_groups.map((g) => [g.group, g]));
    const plainSum = { ms: m.plain_groups.reduce((a, g) => a + g.ms, 0), bound: m.plain_groups.some((g) => g.ms_bound) };
    out.push(
      table(
        ['Algorithm 1 step group', 'L2RW ms', 'L2RW cpu ms', 'plain ms', 'dispatches'],
        [
          ...m.l2rw_groups.map((g) => [g.group, fmtMs(g.ms, g.ms_bound, 2), f(g.cpu_ms, 2), fmtMs(plainBy.get(g.group)?.ms, plainBy.get(g.group)?.ms_bound, 2), String(g.dispatches)]),
          ['sum of groups', fmtMs(m.l2rw_groups_sum_ms, m.l2rw_groups_sum_bound, 2), f(m.l2rw_groups.reduce((a, g) => a + (g.cpu_ms ?? NaN), 0), 2), fmtMs(plainSum.ms, plainSum.bound, 2), ''],
        ],
      ),
    );
    if (m.l2rw_profile.length) {
      out.push(`slowest dispatches of the ${m.model} L2RW step:`);
      out.push(table(['dispatch', 'ms', 'cpu ms'], m.l2rw_profile.slice(0, 14).map((p) => [p.label, fmtMs(p.ms, p.ms_bound), f(p.cpu_ms, 3)])));
    }
  }
  const p = r.peers;
  out.push('');
  const rows: string[][] = [];
  for (const [name, d] of Object.entries(p.detail)) {
    if (!d) continue;
    rows.push([
      name,
      `${f(d.matmul1024_gflops)} (ours ${f(d.ours_matmul1024_gflops)})`,
      f(d.lenet?.step_ms, 1),
      f(d.lenet?.ours_step_ms, 1),
      f(d.lenet?.speedup),
      f(d.lenet?.speedup_cpu),
      f(d.mlp?.step_ms, 1),
      f(d.mlp?.ours_step_ms, 1),
      f(d.mlp?.speedup),
      f(d.mlp?.speedup_cpu),
    ]);
  }
  const mlp = r.models.find((m) => m.model === 'mlp');
  rows.push(['ours', f(p.ours_matmul1024_gflops), f(r.steps?.plain_ms, 1), '', '', '', f(mlp?.plain_ms, 1), '', '', '']);
  out.push('peers (same adapter; "ours" = our plain step timed in blocks alternating with the peer\'s; x = peer time / ours):');
  out.push(table(['peer', 'mm1024 GFLOP/s', 'LeNet ms', 'ours ms', 'x wall', 'x cpu', 'MLP ms', 'ours ms', 'x wall', 'x cpu'], rows));
  // PyTorch's L2RW step (Algorithm 1 by double backprop) next to ours, with each side's L2RW/plain.
  const l2rwRows: string[][] = [];
  for (const [name, d] of Object.entries(p.detail)) {
    for (const kind of ['lenet', 'mlp'] as const) {
      const plain = d?.[kind];
      const l2rw = d?.[`${kind}_l2rw`];
      if (!d || l2rw === undefined || (!plain && !l2rw)) continue;
      const ratio = (a?: number | null, b?: number | null) => (a && b ? a / b : null);
      l2rwRows.push([
        `${name} ${kind}`,
        f(plain?.step_ms, 1),
        f(l2rw?.step_ms, 1),
        f(ratio(l2rw?.step_ms, plain?.step_ms)),
        f(plain?.ours_step_ms, 1),
        f(l2rw?.ours_step_ms, 1),
        f(ratio(l2rw?.ours_step_ms, plain?.ours_step_ms)),
        f(plain?.speedup),
        f(l2rw?.speedup),
        f(l2rw?.speedup_cpu),
      ]);
    }
  }
  if (l2rwRows.length) {
    out.push('');
    out.push('L2RW step next to ours (peer: Algorithm 1 by double backprop; each step timed in blocks alternating with the same step of ours; x = peer time / ours):');
    out.push(table(['peer model', 'plain ms', 'L2RW ms', 'L2RW/plain', 'ours plain', 'ours L2RW', 'ours L2RW/plain', 'x plain', 'x L2RW', 'x L2RW cpu'], l2rwRows));
  }
  if (r.notes.length) {
    out.push('');
    out.push('notes:');
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join('\n');
}
