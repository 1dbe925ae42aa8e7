// float64 reference for 2x2 / stride-2 max pooling (NCHW, floor mode) and its gradient.
// argmax holds in-plane indices h*W+w; ties keep the first maximum in row-major window order.

export function maxpoolForwardRef(x: ArrayLike<number>, N: number, C: number, H: number, W: number): { y: Float64Array; argmax: Uint32Array } {
  const P = Math.floor(H / 2);
  const Q = Math.floor(W / 2);
  const y = new Float64Array(N * C * P * Q);
  const argmax = new Uint32Array(N * C * P * Q);
  for (let plane = 0; plane < N * C; plane++)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < Q; q++) {
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++) {
            const hw = (2 * p + i) * W + (2 * q + j);
            const v = x[plane * H * W + hw];
            if (at < 0 || v > best) {
              best = v;
              at = hw;
            }
          }
        const o = (plane * P + p) * Q + q;
        y[o] = best;
        argmax[o] = at;
      }
  return { y, argmax };
}

/** Scatter form: each window's gradient goes to its argmax; everything else is 0. */
export function maxpoolBackwardRef(dy: ArrayLike<number>, argmax: ArrayLike<number>, N: number, C: number, H: number, W: number): Float64Array {
  const P = Math.floor(H / 2);
  const Q = Math.floor(W / 2);
  const dx = new Float64Array(N * C * H * W);
  for (let plane = 0; plane < N * C; plane++)
    for (let pq = 0; pq < P * Q; pq++) {
      const o = plane * P * Q + pq;
      dx[plane * H * W + argmax[o]] += dy[o];
    }
  return dx;
}
