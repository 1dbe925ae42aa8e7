// float64 references for the reduction kernels (sums accumulate in float64, whose rounding is far
// below the float32 tolerances these are compared with).

export function sumRef(x: ArrayLike<number>, n = x.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  return s;
}

export function dotRef(x: ArrayLike<number>, y: ArrayLike<number>, n = x.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

/** out[c] = Σ_r w[r] * x[r, c] over row-major [rows, cols]; w omitted means all ones. */
export function columnSumsRef(x: ArrayLike<number>, rows: number, cols: number, w?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const wr = w ? w[r] : 1;
    for (let c = 0; c < cols; c++) out[c] += wr * x[r * cols + c];
  }
  return out;
}

/** out[r] = Σ_c a[r, c] * b[r, c]. */
export function rowDotsRef(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += a[r * cols + c] * b[r * cols + c];
    out[r] = s;
  }
  return out;
}

/** out[r] = the first c with the largest x[r, c] (strictly greater replaces, as in the kernel). */
export function rowArgmaxRef(x: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c] > x[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}
