// float64 references for the reduction kernels column_sums and row_dots (sums accumulate in float64,
// whose rounding is far below the float32 tolerances these are compared with).

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
