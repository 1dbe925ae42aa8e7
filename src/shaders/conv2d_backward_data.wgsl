// Gradient of a 2-D convolution with respect to its input (NCHW), gather form (no atomics):
//   dx[n,c,h,w] = sum over (k,r,s) with h + pad - r = p*stride, w + pad - s = q*stride,
//                 0 <= p < P, 0 <= q < Q, of dy[n,k,p,q] * w[k,c,r,s].
// Each invocation owns BC input channels x BM input positions in registers. The channel block comes
// from workgroup_id.y alone (uniform across the workgroup, and so are the filter loads); positions
// vary along the workgroup. No workgroup memory (a CPU driver emulates barriers). The loops over
// block dimensions have constant trip counts, no break and count upwards, so that they are unrolled
// and the block and the window below stay in registers.
//
// Row path (stride 1): the BM positions are consecutive columns of one input row h, and blocks are
// numbered with h outermost, so neighbouring invocations share h and with it the range of filter rows
// r that reach a valid dy row (p = h + pad - r in [0, P)): only those are visited. For each (r, k) the
// dy values of all s taps are one run of BM + S - 1 columns of dy row p, walked by a register window
// shifted one column per tap (one load per tap instead of BM). That window multiplies every column
// of the block at every tap, also those whose dy column lies outside the row; a row that fits one
// block without padding (LeNet's conv2) takes the tap-outer form instead (tap_outer_row), which
// multiplies only the columns inside.
// General path (any stride): positions consecutive in (n, h, w); every tap tests its own hits.
// BC and BM are consts appended by the TS wrapper (src/kernels/conv2d_backward_data.ts), which also
// picks the path (same test as row_path()) and sizes the launch to match.
// `struct Params` (the shape) is shared by every convolution kernel: conv2d_params.wgsl, appended
// by the wrapper (conv2dSource in src/kernels/conv2d_forward.ts) after conv2d_backward_data_io.wgsl.
// Bindings, the WG override, row_path() and load_dy() live in conv2d_backward_data_io.wgsl, shared
// with the written-out form of this kernel (registerBlockConv2dBackwardData in
// src/kernels/wgsl_template.ts).

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let mb = (wid.x + wid.z * nwg.x) * WG + lid;
  let c0 = wid.y * BC;
  if (row_path()) {
    row_main(mb, c0);
  } else {
    general_main(mb, c0);
  }
}

fn row_main(mb: u32, c0: u32) {
  let HW = params.H * params.W;
  let PQ = params.P * params.Q;
  let KPQ = params.K * PQ;
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let pad = i32(params.pad);
  let wblocks = ceil_div(params.W, BM);
  let per_h = params.N * wblocks;
  if (mb >= params.H * per_h) {
    return;
  }
  let h = mb / per_h;
  let rem = mb - h * per_h;
  let n = rem / wblocks;
  let w0 = (rem - n * wblocks) * BM;
  var w_base: array<u32, BC>;
  for (var i = 0u; i < BC; i++) {
    w_base[i] = min(c0 + i, params.C - 1u) * RS;
  }
  // Filter rows with a valid dy row: 0 <= h + pad - r < P.
  let hp = i32(h) + pad;
  let r_begin = u32(max(0, hp - i32(params.P) + 1));
  let r_end = u32(clamp(hp + 1, 0, i32(params.R)));
  let q_first = i32(w0) + pad;
  var acc: array<f32, BC * BM>;
  if (params.pad == 0u && params.W <= BM && params.Q <= TAP_FRAME) {
    tap_outer_row(&acc, n * KPQ, hp, r_begin, r_end, w_base);
  } else {
    for (var r = r_begin; r < r_end; r++) {
      let p = hp - i32(r);
      for (var k = 0u; k < params.K; k++) {
        let row_off = i32(n * KPQ + k * PQ) + p * i32(params.Q);
        // win[j] = dy column q_first + j - s at tap s: shifted right by one column per tap.
        var win: array<f32, BM>;
        for (var j = 0u; j < BM; j++) {
          win[j] = load_dy(row_off, q_first + i32(j), true);
        }
        let w_off = k * CRS + r * params.S;
        for (var s = 0u; s < params.S; s++) {
          for (var i = 0u; i < BC; i++) {
            let wv = w[w_base[i] + w_off + s];
            for (var j = 0u; j < BM; j++) {
              acc[i * BM + j] = fma(wv, win[j], acc[i * BM + j]);
            }
          }
          // Counted upwards with a constant trip count: a down-counting loop is not unrolled, and the
          // window would then live in memory.
          for (var t = 1u; t < BM; t++) {
            win[BM - t] = win[BM - t - 1u];
          }
          win[0] = load_dy(row_off, q_first - i32(s) - 1, true);
        }
      }
    }
  }
  let dx_base = n * params.C * HW + h * params.W + w0;
  // A guard, not a break: a loop with a break is not unrolled, and a block indexed by a loop that is
  // not unrolled lives in memory for the whole kernel.
  for (var i = 0u; i < BC; i++) {
    let c = c0 + i;
    for (var j = 0u; j < BM; j++) {
      if (c < params.C && w0 + j < params.W) {
        dx[dx_base + c * HW + j] = acc[i * BM + j];
      }
    }
  }
}

// The dy columns tap_outer_row multiplies: LeNet's conv2 has Q = 8 against W = 12 = BM.
const TAP_FRAME: u32 = min(8u, BM);

// The row path for a row that fits one block, without padding and with Q <= TAP_FRAME (w0 = 0, dy
// column q = w - s), tap-outer: before each tap s (S-1 down to 0) the block is shifted one column
// right, so a product added at column u for tap s ends s columns further, on u + s, the column that
// reads dy column u at tap s. Each tap multiplies the TAP_FRAME columns u that can hold dy values,
// where the window form multiplies all BM (8 of 12 for LeNet's conv2). CPU ms on lavapipe for LeNet's
// conv2 data gradient at batch 100, medians of 9 rounds alternating on the same buffers: window form
// 67, tap-outer 43; with a second, BM-wide copy for TAP_FRAME < Q <= BM (frames chosen by a uniform
// branch) 51, and that copy alone (frame BM for every row) 57. Skipping the columns past Q with an
// `if` inside the unrolled loops instead (per column, or per four columns) is slower than no skip at
// all (58-420 ms): the block then leaves registers.
fn tap_outer_row(acc: ptr<function, array<f32, BC * BM>>, dy_n: u32, hp: i32, r_begin: u32, r_end: u32, w_base: array<u32, BC>) {
  let PQ = params.P * params.Q;
  let CRS = params.C * params.R * params.S;
  for (var sd = 0u; sd < params.S; sd++) {
    let s = params.S - 1u - sd;
    for (var t = 1u; t < BM; t++) {
      for (var i = 0u; i < BC; i++) {
        (*acc)[i * BM + BM - t] = (*acc)[i * BM + BM - t - 1u];
      }
    }
    for (var i = 0u; i < BC; i++) {
      (*acc)[i * BM] = 0.0;
    }
    for (var r = r_begin; r < r_end; r++) {
      let p = u32(hp - i32(r));
      for (var k = 0u; k < params.K; k++) {
        let row_off = i32(dy_n + k * PQ + p * params.Q);
        var g: array<f32, TAP_FRAME>;
        for (var u = 0u; u < TAP_FRAME; u++) {
          g[u] = load_dy(row_off, i32(u), true);
        }
        let w_off = k * CRS + r * params.S + s;
        for (var i = 0u; i < BC; i++) {
          let wv = w[w_base[i] + w_off];
          for (var u = 0u; u < TAP_FRAME; u++) {
            (*acc)[i * BM + u] = fma(wv, g[u], (*acc)[i * BM + u]);
          }
        }
      }
    }
  }
}

fn general_main(t: u32, c0: u32) {
  let HW = params.H * params.W;
  let M = params.N * HW;
  let m_blocks = ceil_div(M, BM);
  if (t >= m_blocks) {
    return;
  }
  let m0 = t * BM;
  let PQ = params.P * params.Q;
  let KPQ = params.K * PQ;
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let stride = i32(params.stride);
  let P = i32(params.P);
  let Q = i32(params.Q);

  // Positions past M are computed on a clamped position and never stored.
  var dy_base: array<u32, BM>;
  var hp: array<i32, BM>;
  var wp: array<i32, BM>;
  var dx_base: array<u32, BM>;
  for (var j = 0u; j < BM; j++) {
    let m = min(m0 + j, M - 1u);
    let n = m / HW;
    let hw = m - n * HW;
    let h = hw / params.W;
    dy_base[j] = n * KPQ;
    hp[j] = i32(h) + i32(params.pad);
    wp[j] = i32(hw - h * params.W) + i32(params.pad);
    dx_base[j] = n * params.C * HW + hw;
  }
  var w_base: array<u32, BC>;
  for (var i = 0u; i < BC; i++) {
    w_base[i] = min(c0 + i, params.C - 1u) * RS;
  }

  // Only taps within reach of some position in the block can hit: r <= h + pad (else p < 0) and
  // r >= h + pad - (P-1)*stride (else p >= P); likewise for s. Bounding the loops by the block's
  // extremes skips most of the zero-padding a full-convolution gather would otherwise multiply through.
  var h_lo = hp[0];
  var h_hi = hp[0];
  var w_lo = wp[0];
  var w_hi = wp[0];
  for (var j = 1u; j < BM; j++) {
    h_lo = min(h_lo, hp[j]);
    h_hi = max(h_hi, hp[j]);
    w_lo = min(w_lo, wp[j]);
    w_hi = max(w_hi, wp[j]);
  }
  let r_begin = u32(max(0, h_lo - (P - 1) * stride));
  let r_end = min(params.R, u32(h_hi) + 1u);
  let s_begin = u32(max(0, w_lo - (Q - 1) * stride));
  let s_end = min(params.S, u32(w_hi) + 1u);

  var acc: array<f32, BC * BM>;
  for (var r = r_begin; r < r_end; r++) {
    for (var s = s_begin; s < s_end; s++) {
      var dy_off: array<u32, BM>;
      var hit: array<bool, BM>;
      var any_hit = false;
      for (var j = 0u; j < BM; j++) {
        // th, tw >= 0 is tested before the remainder so % never sees a negative operand.
        let th = hp[j] - i32(r);
        let tw = wp[j] - i32(s);
        var ok = th >= 0 && tw >= 0;
        let p = th / stride;
        let q = tw / stride;
        ok = ok && th - p * stride == 0 && tw - q * stride == 0 && p < P && q < Q;
        hit[j] = ok;
        any_hit = any_hit || ok;
        dy_off[j] = select(0u, dy_base[j] + u32(p) * params.Q + u32(q), ok);
      }
      if (!any_hit) {
        continue;
      }
      let tap = r * params.S + s;
      for (var k = 0u; k < params.K; k++) {
        var g: array<f32, BM>;
        for (var j = 0u; j < BM; j++) {
          g[j] = select(0.0, dy[dy_off[j] + k * PQ], hit[j]);
        }
        for (var i = 0u; i < BC; i++) {
          let wv = w[k * CRS + w_base[i] + tap];
          for (var j = 0u; j < BM; j++) {
            acc[i * BM + j] = fma(wv, g[j], acc[i * BM + j]);
          }
        }
      }
    }
  }

  for (var i = 0u; i < BC; i++) {
    let c = c0 + i;
    for (var j = 0u; j < BM; j++) {
      if (c < params.C && m0 + j < M) {
        dx[dx_base[j] + c * HW] = acc[i * BM + j];
      }
    }
  }
}
