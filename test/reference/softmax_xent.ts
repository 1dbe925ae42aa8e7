// float64 references for softmax cross-entropy: per-example loss and weighted logit gradient.

export interface SoftmaxXentResult {
  loss: Float64Array;
  dlogits: Float64Array;
}

/**
 * -log softmax(z)[y] of one row; NaN when y is not a class index. Formed as (m - z_y) + log1p(r) with
 * m the row maximum (first at column a) and r = Σ_{j≠a} exp(z_j - m): even float64 would round
 * log(1 + r) to nothing useful for a confident row (r ~ 1e-13 keeps only ~3 digits).
 */
export function rowXentRef(z: ArrayLike<number>, offset: number, k: number, y: number): number {
  if (!(y >= 0 && y < k)) return NaN;
  let a = 0;
  for (let j = 1; j < k; j++) if (z[offset + j] > z[offset + a]) a = j;
  const m = z[offset + a];
  let r = 0;
  for (let j = 0; j < k; j++) if (j !== a) r += Math.exp(z[offset + j] - m);
  return m - z[offset + y] + Math.log1p(r);
}

/**
 * loss[i] = -log softmax(z_i)[y_i] (unweighted); dlogits[i, j] = w[i] * (softmax(z_i)_j - [j == y_i]),
 * i.e. the gradient of Σ_i w[i] * loss[i]. A label >= k gives NaN loss and a NaN dlogits row.
 */
export function softmaxXentRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  weights: ArrayLike<number>,
  n: number,
  k: number,
): SoftmaxXentResult {
  const loss = new Float64Array(n);
  const dlogits = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    const y = labels[i];
    loss[i] = rowXentRef(logits, base, k, y);
    if (!(y < k)) {
      dlogits.fill(NaN, base, base + k);
      continue;
    }
    let a = 0;
    for (let j = 1; j < k; j++) if (logits[base + j] > logits[base + a]) a = j;
    const m = logits[base + a];
    let r = 0;
    for (let j = 0; j < k; j++) if (j !== a) r += Math.exp(logits[base + j] - m);
    const s = 1 + r;
    for (let j = 0; j < k; j++) {
      const p = Math.exp(logits[base + j] - m) / s;
      // 1 - p_y = r / s exactly when y is the maximum, without the cancellation of p_y - 1.
      const d = j !== y ? p : y === a ? -r / s : p - 1;
      dlogits[base + j] = weights[i] * d;
    }
  }
  return { loss, dlogits };
}
