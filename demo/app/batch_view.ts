// The latest minibatch of one method: its digits in a grid, each faded by and annotated with the
// weight the method gave it, mislabelled ones framed in red; and a histogram of the weights.
// Weights are shown as w·n (n = batch size), so 1 is the uniform weight of plain SGD.

export interface DigitCell {
  pixels: Uint8Array;
  /** The label training sees (possibly corrupted). */
  label: string;
  /** The uncorrupted label, when it differs. */
  trueLabel?: string;
  weight: number;
  mislabelled: boolean;
}

const MISLABELLED = '#e03131';

function fitCanvas(canvas: HTMLCanvasElement, cssHeight: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  if (canvas.style.height !== `${cssHeight}px`) canvas.style.height = `${cssHeight}px`;
  const w = Math.max(1, canvas.clientWidth);
  const W = Math.round(w * dpr);
  const H = Math.round(cssHeight * dpr);
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

const scratch = (() => {
  let c: HTMLCanvasElement | null = null;
  return () => {
    c ??= Object.assign(document.createElement('canvas'), { width: 28, height: 28 });
    return c;
  };
})();

function drawDigit(ctx: CanvasRenderingContext2D, pixels: Uint8Array, x: number, y: number, size: number): void {
  const tmp = scratch();
  const tctx = tmp.getContext('2d')!;
  const img = tctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels[i];
    img.data[4 * i] = v;
    img.data[4 * i + 1] = v;
    img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  tctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(tmp, x, y, size, size);
}

export function formatWeight(wn: number): string {
  if (wn === 0) return '0';
  if (wn >= 10) return wn.toFixed(0);
  return wn.toFixed(wn < 0.095 ? 2 : 1);
}

/** Draws the grid; the canvas height follows its width and the batch size. */
export function drawDigitGrid(canvas: HTMLCanvasElement, cells: readonly DigitCell[], color: string): void {
  const n = cells.length;
  const width = Math.max(1, canvas.clientWidth);
  // As many columns as fit at >= 42 px a digit (at most 16), then fewer if that fills the last row.
  let cols = Math.max(1, Math.min(n || 1, Math.max(4, Math.floor(width / 42)), 16));
  for (let c = cols; c >= Math.ceil(cols * 0.7); c--) {
    if (n % c === 0) {
      cols = c;
      break;
    }
  }
  const cell = width / cols;
  const label = 15;
  const rows = Math.ceil(n / cols);
  const ctx = fitCanvas(canvas, Math.max(40, rows * (cell + label)));
  const css = getComputedStyle(canvas);
  ctx.fillStyle = css.getPropertyValue('--plot-bg').trim() || '#fff';
  ctx.fillRect(0, 0, width, canvas.clientHeight);
  const maxW = Math.max(...cells.map((c) => c.weight), 1e-12);
  const fg = css.getPropertyValue('--plot-fg').trim() || '#333';
  cells.forEach((c, i) => {
    const x = (i % cols) * cell;
    const y = Math.floor(i / cols) * (cell + label);
    const pad = 3;
    const size = cell - 2 * pad;
    ctx.fillStyle = '#000';
    ctx.fillRect(x + pad, y + pad, size, size);
    // Weight as opacity: a zero-weight example is barely visible, the heaviest fully.
    ctx.globalAlpha = c.weight === 0 ? 0.18 : 0.4 + 0.6 * Math.min(1, c.weight / maxW);
    drawDigit(ctx, c.pixels, x + pad, y + pad, size);
    ctx.globalAlpha = 1;
    if (c.mislabelled) {
      ctx.strokeStyle = MISLABELLED;
      ctx.lineWidth = 3;
      ctx.strokeRect(x + pad + 1.5, y + pad + 1.5, size - 3, size - 3);
    }
    // The label training sees, top left; a wrong one in red with the true digit after it.
    ctx.font = `${Math.max(9, Math.min(12, size / 4))}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    const tag = c.mislabelled && c.trueLabel !== undefined ? `${c.label}≠${c.trueLabel}` : c.label;
    const tw = ctx.measureText(tag).width;
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(x + pad + 2, y + pad + 2, tw + 4, 13);
    ctx.fillStyle = c.mislabelled ? '#ff8787' : '#fff';
    ctx.fillText(tag, x + pad + 4, y + pad + 3);
    // Weight bar (relative to the batch's largest weight) and w·n below the image.
    const by = y + cell + 1;
    const bw = size * Math.min(1, c.weight / maxW);
    ctx.fillStyle = color;
    ctx.fillRect(x + pad, by, bw, 4);
    ctx.fillStyle = fg;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.fillText(formatWeight(c.weight * n), x + cell / 2, by + 4);
  });
}

/** Histogram of w·n: exact zeros in their own bar, the rest in equal bins up to the largest. */
export function drawWeightHistogram(canvas: HTMLCanvasElement, weights: ArrayLike<number>, color: string): void {
  const ctx = fitCanvas(canvas, canvas.clientHeight || 110);
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  const css = getComputedStyle(canvas);
  const fg = css.getPropertyValue('--plot-fg').trim() || '#333';
  ctx.fillStyle = css.getPropertyValue('--plot-bg').trim() || '#fff';
  ctx.fillRect(0, 0, w, h);
  const n = weights.length;
  if (!n) return;
  const wn = Array.from(weights, (v) => v * n);
  const top = Math.max(2, Math.ceil(Math.max(...wn)));
  const bins = 12;
  const counts = new Array<number>(bins + 1).fill(0);
  for (const v of wn) {
    if (v === 0) counts[0]++;
    else counts[1 + Math.min(bins - 1, Math.floor((v / top) * bins))]++;
  }
  const maxCount = Math.max(...counts);
  const box = { l: 24, r: w - 6, t: 16, b: h - 16 };
  const slot = (box.r - box.l) / (bins + 1.5);
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = fg;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(`${counts[0]} of ${n} got weight 0`, box.l, 2);
  counts.forEach((c, i) => {
    const x = box.l + (i === 0 ? 0 : (i + 0.5) * slot);
    const bh = (c / maxCount) * (box.b - box.t);
    ctx.fillStyle = i === 0 ? '#868e96' : color;
    ctx.fillRect(x + 1, box.b - bh, slot - 2, bh);
  });
  ctx.strokeStyle = fg;
  ctx.beginPath();
  ctx.moveTo(box.l, box.b + 0.5);
  ctx.lineTo(box.r, box.b + 0.5);
  ctx.stroke();
  ctx.fillStyle = fg;
  ctx.textAlign = 'center';
  ctx.fillText('0', box.l + slot / 2, box.b + 3);
  const X = (v: number) => box.l + 1.5 * slot + (v / top) * bins * slot;
  for (const v of [top / 2, top]) ctx.fillText(formatWeight(v), X(v) - (v === top ? 6 : 0), box.b + 3);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'bottom';
  ctx.fillText(String(maxCount), box.l - 4, box.t + 10);
}
