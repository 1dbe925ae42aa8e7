// A small line chart on <canvas>: a few series over training steps, nice axis ticks, a legend, sharp
// on high-DPI screens, redrawn when its box is resized. The demo draws a handful of points every few
// seconds, so a plotting library would buy nothing over these hundred lines.

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
}

export interface PlotOptions {
  /** Fixed y range ends; missing ends follow the data. */
  yMin?: number;
  yMax?: number;
  yFormat?: (v: number) => string;
  xLabel?: string;
  /** Shown when there is nothing to draw yet. */
  empty?: string;
}

/** 1, 2 or 5 times a power of ten, about `count` steps across [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

export class LinePlot {
  private series: Series[] = [];
  private xMax = 1;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly opts: PlotOptions = {},
  ) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas context');
    this.ctx = ctx;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** The text shown while there is no data. */
  setEmpty(text: string): void {
    this.opts.empty = text;
    this.draw();
  }

  set(series: Series[], xMax: number): void {
    this.series = series;
    this.xMax = Math.max(1, xMax);
    this.draw();
  }

  draw(): void {
    const { canvas, ctx, opts } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, canvas.clientWidth);
    const h = Math.max(1, canvas.clientHeight);
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(canvas);
    const fg = css.getPropertyValue('--plot-fg').trim() || '#333';
    const grid = css.getPropertyValue('--plot-grid').trim() || '#e5e5e5';
    const bg = css.getPropertyValue('--plot-bg').trim() || '#fff';
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';

    const pts = this.series.flatMap((s) => s.points);
    if (pts.length === 0) {
      ctx.fillStyle = fg;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(opts.empty ?? 'waiting for data…', w / 2, h / 2);
      return;
    }
    let lo = opts.yMin ?? Math.min(...pts.map((p) => p[1]));
    let hi = opts.yMax ?? Math.max(...pts.map((p) => p[1]));
    if (!(hi > lo)) {
      const pad = Math.abs(lo) * 0.1 || 0.1;
      lo -= opts.yMin === undefined ? pad : 0;
      hi += pad;
    }
    const yFmt = opts.yFormat ?? ((v: number) => String(+v.toPrecision(3)));
    const yTicks = niceTicks(lo, hi, Math.max(2, Math.floor(h / 45)));
    // A free end moves out to the next tick, so the highest curve has a labelled line above it.
    const step = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 0;
    if (opts.yMax === undefined && step > 0 && yTicks[yTicks.length - 1] < hi - 1e-12) yTicks.push(+(yTicks[yTicks.length - 1] + step).toPrecision(12));
    if (opts.yMin === undefined) lo = Math.min(lo, yTicks[0]);
    if (opts.yMax === undefined) hi = Math.max(hi, yTicks[yTicks.length - 1]);
    const left = 8 + Math.max(...yTicks.map((t) => ctx.measureText(yFmt(t)).width));
    // Room on the right for half of the last step label, which is centred on the axis end.
    const right = Math.max(10, ctx.measureText(String(this.xMax)).width / 2 + 4);
    const box = { l: left + 6, r: w - right, t: 28, b: h - (opts.xLabel ? 34 : 22) };
    const X = (x: number) => box.l + (x / this.xMax) * (box.r - box.l);
    const Y = (y: number) => box.b - ((y - lo) / (hi - lo)) * (box.b - box.t);

    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = fg;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of yTicks) {
      if (t < lo - 1e-12 || t > hi + 1e-12) continue;
      const y = Math.round(Y(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(box.l, y);
      ctx.lineTo(box.r, y);
      ctx.stroke();
      ctx.fillText(yFmt(t), box.l - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of niceTicks(0, this.xMax, Math.max(2, Math.floor((box.r - box.l) / 70)))) {
      ctx.fillText(String(t), X(t), box.b + 5);
    }
    ctx.strokeStyle = fg;
    ctx.beginPath();
    ctx.moveTo(box.l, box.t);
    ctx.lineTo(box.l, box.b);
    ctx.lineTo(box.r, box.b);
    ctx.stroke();
    if (opts.xLabel) {
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      ctx.fillText(opts.xLabel, (box.l + box.r) / 2, box.b + 19);
    }

    ctx.save();
    ctx.beginPath();
    ctx.rect(box.l, box.t - 4, box.r - box.l + 4, box.b - box.t + 8);
    ctx.clip();
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dashed ? [5, 4] : []);
      ctx.beginPath();
      s.points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
      ctx.stroke();
      if (!s.dashed) for (const [x, y] of s.points) ctx.fillRect(X(x) - 2, Y(y) - 2, 4, 4);
    }
    ctx.restore();
    ctx.setLineDash([]);

    // Legend along the top, wrapping to the left edge.
    let lx = box.l;
    const ly = 6;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    for (const s of this.series) {
      const tw = ctx.measureText(s.name).width + 26;
      if (lx + tw > w && lx > box.l) break;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dashed ? [4, 3] : []);
      ctx.beginPath();
      ctx.moveTo(lx, ly + 6);
      ctx.lineTo(lx + 16, ly + 6);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = fg;
      ctx.fillText(s.name, lx + 20, ly);
      lx += tw;
    }
  }
}
