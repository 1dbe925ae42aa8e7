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

/**
 * Reed et al.'s bootstrapping losses, float64, written from their definitions (no shared algebra with
 * the kernel): with q = softmax(z_i) and a = argmax z_i (first maximum),
 *   soft: loss = −Σ_j (beta·[j == y] + (1 − beta)·q_j) log q_j  (q inside the target is differentiated)
 *   hard: loss = −beta·log q_y − (1 − beta)·log q_a
 * and dlogits = w_i · ∂loss/∂z_i, the soft one by the chain rule through q: ∂loss/∂q_j = −(beta·[j == y]
 * + (1 − beta) q_j)/q_j − (1 − beta)·log q_j, then ∂q_j/∂z_l = q_j([j == l] − q_l).
 */
export function bootstrapRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  weights: ArrayLike<number>,
  n: number,
  k: number,
  kind: 'soft' | 'hard',
  beta: number,
): SoftmaxXentResult {
  const loss = new Float64Array(n);
  const dlogits = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    const y = labels[i];
    const z = Array.from({ length: k }, (_, j) => logits[base + j]);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((acc, v) => acc + v, 0);
    const q = e.map((v) => v / s);
    const logq = z.map((v) => v - m - Math.log(s));
    const a = z.indexOf(m);
    if (kind === 'soft') {
      loss[i] = -logq.reduce((acc, lq, j) => acc + (beta * (j === y ? 1 : 0) + (1 - beta) * q[j]) * lq, 0);
      const dq = q.map((qj, j) => -(beta * (j === y ? 1 : 0) + (1 - beta) * qj) / qj - (1 - beta) * logq[j]);
      for (let l = 0; l < k; l++) {
        let d = 0;
        for (let j = 0; j < k; j++) d += dq[j] * q[j] * ((j === l ? 1 : 0) - q[l]);
        dlogits[base + l] = weights[i] * d;
      }
    } else {
      loss[i] = -beta * logq[y] - (1 - beta) * logq[a];
      for (let l = 0; l < k; l++) dlogits[base + l] = weights[i] * (q[l] - beta * (l === y ? 1 : 0) - (1 - beta) * (l === a ? 1 : 0));
    }
  }
  return { loss, dlogits };
}
