// Test error against a sweep's x axis (majority proportion, label noise, clean-set size), one line
// per method with ±1 std error bars, in the style of Fig. 2 of Ren et al. (2018). Written as plain SVG: one static chart does not justify a charting
// stack (the maintained ones need a DOM or a canvas binding in Node), and the output is easy to check.
import type { Aggregate } from './report';

export interface PlotOptions {
  title?: string;
  subtitle?: string;
  /** The x axis's title. */
  xTitle?: string;
  width?: number;
  height?: number;
}

/** Tableau 10: distinguishable colours, also in greyscale print. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const MARKERS = ['circle', 'square', 'diamond', 'triangle'] as const;
/** A fixed look per method, so the quick and the full plot agree; L2RW stands out in red. */
const METHOD_STYLE: Record<string, { color: string; marker: (typeof MARKERS)[number] }> = {
  plain: { color: '#4e79a7', marker: 'circle' },
  proportion: { color: '#f28e2b', marker: 'square' },
  resample: { color: '#76b7b2', marker: 'diamond' },
  hardmining: { color: '#59a14f', marker: 'triangle' },
  random: { color: '#9c755f', marker: 'circle' },
  l2rw: { color: '#e15759', marker: 'square' },
  'clean-only': { color: '#b07aa1', marker: 'diamond' },
  finetune: { color: '#ff9da7', marker: 'triangle' },
  'early-stop': { color: '#edc948', marker: 'circle' },
  'l2rw-finetune': { color: '#8c1c13', marker: 'diamond' },
  'bootstrap-soft': { color: '#bab0ac', marker: 'square' },
  'bootstrap-hard': { color: '#555555', marker: 'triangle' },
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (v: number) => +v.toFixed(2);

/** Round tick steps (1, 2, 5 x 10^k) giving about `count` ticks, the last at or above hi. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  // Up to the first tick at or above hi, so the axis covers every value.
  for (let v = Math.floor(lo / step) * step; ; v += step) {
    ticks.push(+v.toPrecision(12));
    if (v >= hi - step * 1e-9) return ticks;
  }
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = 4;
  switch (kind) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case 'diamond':
      return `<path d="M${f(x)} ${f(y - r - 1)}L${f(x + r + 1)} ${f(y)}L${f(x)} ${f(y + r + 1)}L${f(x - r - 1)} ${f(y)}Z" fill="${color}"/>`;
    default:
      return `<path d="M${f(x)} ${f(y - r - 1)}L${f(x + r + 1)} ${f(y + r)}L${f(x - r - 1)} ${f(y + r)}Z" fill="${color}"/>`;
  }
}

/**
 * The x axis places the points evenly (categorical), as the paper's figure does: on a linear scale
 * the ratios 0.98, 0.99 and 0.995 would crowd into the last tenth of the axis, and the clean-set
 * sizes 5 to 1000 into its first.
 */
export function errorPlotSvg(a: Aggregate, opts: PlotOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 420;
  const twoLine = a.points.some((p) => p.includes(' '));
  const m = { top: opts.subtitle ? 58 : 42, right: 150, bottom: twoLine ? 66 : 52, left: 62 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const n = a.points.length;
  const xAt = (i: number) => m.left + (n === 1 ? pw / 2 : (pw * (i + 0.5)) / n);

  let hi = 0;
  for (const meth of a.methods) {
    for (const p of a.points) {
      const c = a.cells[meth]?.[p];
      if (c && c.mean !== null) hi = Math.max(hi, (c.mean + (c.std ?? 0)) * 100);
    }
  }
  const ticks = niceTicks(0, hi > 0 ? hi * 1.05 : 1);
  const top = ticks[ticks.length - 1];
  const yAt = (pct: number) => m.top + ph - (ph * pct) / top;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  if (opts.title) out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  if (opts.subtitle) out.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555555">${esc(opts.subtitle)}</text>`);
  // Grid and y axis.
  for (const t of ticks) {
    const y = f(yAt(t));
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${y + 4}" text-anchor="end">${+t.toPrecision(6)}</text>`);
  }
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333333"/>`);
  a.points.forEach((r, i) => {
    const x = f(xAt(i));
    out.push(`<line x1="${x}" y1="${m.top + ph}" x2="${x}" y2="${m.top + ph + 5}" stroke="#333333"/>`);
    // Two-word labels ("background 0.4") on two lines, so six of them fit side by side.
    const [head, ...rest] = r.split(' ');
    const second = rest.length ? `<tspan x="${x}" dy="14">${esc(rest.join(' '))}</tspan>` : '';
    out.push(`<text x="${x}" y="${m.top + ph + 19}" text-anchor="middle">${esc(head)}${second}</text>`);
  });
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xTitle ?? '')}</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">Test error (%)</text>`);

  // One series per method: line through the means, ±1 std error bars, markers.
  a.methods.forEach((meth, k) => {
    const style = METHOD_STYLE[meth];
    const color = style?.color ?? PALETTE[k % PALETTE.length];
    const shape = style?.marker ?? MARKERS[k % MARKERS.length];
    const pts = a.points.map((p, i) => ({ i, c: a.cells[meth]?.[p] })).filter((p) => p.c && p.c.mean !== null);
    out.push(`<g class="series" data-method="${esc(meth)}">`);
    if (pts.length > 1) {
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${f(xAt(p.i))} ${f(yAt(p.c!.mean! * 100))}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of pts) {
      const x = xAt(p.i);
      const mean = p.c!.mean! * 100;
      const sd = (p.c!.std ?? 0) * 100;
      if (sd > 0) {
        const y0 = f(yAt(Math.max(0, mean - sd)));
        const y1 = f(yAt(mean + sd));
        out.push(`<path d="M${f(x)} ${y0}V${y1}M${f(x - 4)} ${y0}H${f(x + 4)}M${f(x - 4)} ${y1}H${f(x + 4)}" stroke="${color}" stroke-width="1.2"/>`);
      }
      out.push(marker(shape, x, yAt(mean), color));
      out.push(`<title>${esc(meth)} at ${esc(a.points[p.i])}: ${mean.toFixed(2)}% ± ${sd.toFixed(2)}</title>`);
    }
    out.push('</g>');
    // Legend entry.
    const ly = m.top + 10 + k * 20;
    const lx = m.left + pw + 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(marker(shape, lx + 12, ly, color));
    out.push(`<text x="${lx + 32}" y="${ly + 4}">${esc(meth)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
