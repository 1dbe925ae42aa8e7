// float64 references for 2-D convolution (NCHW) and its gradients, written as plain loops over the
// definition (the backward-data reference scatters where the kernel gathers, so they share no indexing).
// Shape fields as in src/kernels/conv2d_forward.ts: x [N,C,H,W], w [K,C,R,S], y [N,K,P,Q].

export interface Conv2dShapeRef {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  stride: number;
  pad: number;
}

export function conv2dOutRef(s: Conv2dShapeRef): { P: number; Q: number } {
  return { P: Math.floor((s.H + 2 * s.pad - s.R) / s.stride) + 1, Q: Math.floor((s.W + 2 * s.pad - s.S) / s.stride) + 1 };
}

/** Calls f(n, k, p, q, c, r, s, yIndex, xIndex, wIndex) for every term whose input tap is inside x. */
function forEachTerm(
  sh: Conv2dShapeRef,
  f: (n: number, k: number, yi: number, xi: number, wi: number) => void,
): void {
  const { N, C, H, W, K, R, S, stride, pad } = sh;
  const { P, Q } = conv2dOutRef(sh);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          const yi = ((n * K + k) * P + p) * Q + q;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++) {
              const ih = p * stride + r - pad;
              if (ih < 0 || ih >= H) continue;
              for (let s = 0; s < S; s++) {
                const iw = q * stride + s - pad;
                if (iw < 0 || iw >= W) continue;
                f(n, k, yi, ((n * C + c) * H + ih) * W + iw, ((k * C + c) * R + r) * S + s);
              }
            }
        }
}

export type EpilogueRef = 'none' | 'bias' | 'bias_relu' | 'relu';

export function conv2dForwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  sh: Conv2dShapeRef,
  epilogue: EpilogueRef = 'none',
): Float64Array {
  const { P, Q } = conv2dOutRef(sh);
  const y = new Float64Array(sh.N * sh.K * P * Q);
  forEachTerm(sh, (_n, _k, yi, xi, wi) => {
    y[yi] += x[xi] * w[wi];
  });
  if (epilogue !== 'none') {
    const PQ = P * Q;
    for (let i = 0; i < y.length; i++) {
      const v = y[i] + (epilogue === 'relu' ? 0 : bias![Math.floor(i / PQ) % sh.K]);
      y[i] = epilogue === 'bias_relu' || epilogue === 'relu' ? Math.max(0, v) : v;
    }
  }
  return y;
}

/** dL/dx for L = sum dy * conv(x, w). */
export function conv2dBackwardDataRef(dy: ArrayLike<number>, w: ArrayLike<number>, sh: Conv2dShapeRef): Float64Array {
  const dx = new Float64Array(sh.N * sh.C * sh.H * sh.W);
  forEachTerm(sh, (_n, _k, yi, xi, wi) => {
    dx[xi] += dy[yi] * w[wi];
  });
  return dx;
}

/**
 * dL/dw for L = sum_n e[n] sum dy[n] * conv(x, w)[n], e = exWeight or all ones. Examples with weight
 * exactly 0 are skipped (as the kernel documents), so non-finite values there do not leak in.
 */
export function conv2dBackwardFilterRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  sh: Conv2dShapeRef,
  exWeight: ArrayLike<number> | null = null,
): Float64Array {
  const dw = new Float64Array(sh.K * sh.C * sh.R * sh.S);
  forEachTerm(sh, (n, _k, yi, xi, wi) => {
    const e = exWeight ? exWeight[n] : 1;
    if (e !== 0) dw[wi] += e * dy[yi] * x[xi];
  });
  return dw;
}

/** dL/db for L = sum_n e[n] sum dy[n] * (conv(x, w) + b)[n]; zero-weight examples skipped. */
export function conv2dBiasGradRef(dy: ArrayLike<number>, sh: Conv2dShapeRef, exWeight: ArrayLike<number> | null = null): Float64Array {
  const { P, Q } = conv2dOutRef(sh);
  const PQ = P * Q;
  const db = new Float64Array(sh.K);
  for (let n = 0; n < sh.N; n++) {
    const e = exWeight ? exWeight[n] : 1;
    if (e === 0) continue;
    for (let k = 0; k < sh.K; k++) {
      let s = 0;
      for (let i = 0; i < PQ; i++) s += dy[(n * sh.K + k) * PQ + i];
      db[k] += e * s;
    }
  }
  return db;
}
