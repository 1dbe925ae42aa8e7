// float64 reference: C = op(A) · diag(s) · op(B) (+ bias per column) (then ReLU).
export interface MatmulRefOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number>;
  relu?: boolean;
  kscale?: ArrayLike<number>;
}

/** A is [m,k] ([k,m] when transA), B is [k,n] ([n,k] when transB), all row-major. */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: { m: number; n: number; k: number },
  opts: MatmulRefOptions = {},
): Float64Array {
  const { m, n, k } = shape;
  if (a.length < m * k || b.length < k * n) throw new Error(`matmulRef: inputs too short for ${m}x${n}x${k}`);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) {
        const av = opts.transA ? a[t * m + i] : a[i * k + t];
        const bv = opts.transB ? b[j * k + t] : b[t * n + j];
        sum += av * bv * (opts.kscale ? opts.kscale[t] : 1);
      }
      if (opts.bias) sum += opts.bias[j];
      if (opts.relu) sum = Math.max(sum, 0);
      out[i * n + j] = sum;
    }
  }
  return out;
}
