// Direct convolution as an implicit GEMM (no im2col buffer), NCHW:
//   y[n,k,p,q] = epilogue(sum_{c,r,s} x[n,c,p*stride+r-pad, q*stride+s-pad] * w[k,c,r,s])
// Each invocation owns a BK x BM register block: BK output channels x BM output positions. The
// channel block is taken from workgroup_id.y alone, so it is uniform across the workgroup and so are
// the filter loads indexed by it; the positions vary along the workgroup. On lavapipe a larger
// channel block pays off and a larger position block (more per-lane x loads) does not (numbers in the
// wrapper). No workgroup memory: a CPU driver emulates barriers.
//
// Row path (stride 1): the BM positions are consecutive columns of one output row, so for each (c, r)
// the x values of all S taps are one run of BM + S - 1 input columns, walked by a register window
// shifted one column per tap: one load per tap instead of BM.
// General path (any stride): the BM positions are consecutive in (n, p, q) and every tap loads.
// The loops over block dimensions have constant trip counts, no break and are counted upwards, so
// that the compiler unrolls them: an array that a hot loop indexes through a loop left rolled lives
// in memory and is addressed per lane, which measured 5-15x slower.
// BK and BM are module-scope consts appended by the TS wrapper (src/kernels/conv2d_forward.ts), which
// also picks the path (the same test as row_path()) and sizes the launch to match.
// EPILOGUE: 0 = none, 1 = + bias[k], 2 = max(0, . + bias[k]), 3 = max(0, .) (no bias).
// `struct Params` (the shape) is shared by every convolution kernel: conv2d_params.wgsl, appended
// by the wrapper (conv2dSource in src/kernels/conv2d_forward.ts) after conv2d_forward_io.wgsl.
// Bindings, overrides, row_path() and load_x() live in conv2d_forward_io.wgsl, shared with the
// written-out form of this kernel (registerBlockConv2dForward in src/kernels/wgsl_template.ts).

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let PQ = params.P * params.Q;
  let HW = params.H * params.W;
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let pad = i32(params.pad);
  let mb = (wid.x + wid.z * nwg.x) * WG + lid;
  // Channels past K read the last real filter and are never stored.
  let k0 = wid.y * BK;
  var w_base: array<u32, BK>;
  for (var i = 0u; i < BK; i++) {
    w_base[i] = min(k0 + i, params.K - 1u) * CRS;
  }
  var acc: array<f32, BK * BM>;
  // Output element j of the block is y[y_base[j] + k * PQ], stored when valid[j].
  var y_base: array<u32, BM>;
  var valid: array<bool, BM>;

  if (row_path()) {
    let qblocks = ceil_div(params.Q, BM);
    if (mb >= params.N * params.P * qblocks) {
      return;
    }
    let row = mb / qblocks;
    let q0 = (mb - row * qblocks) * BM;
    let n = row / params.P;
    let p = row - n * params.P;
    for (var j = 0u; j < BM; j++) {
      valid[j] = q0 + j < params.Q;
      y_base[j] = n * params.K * PQ + p * params.Q + q0 + j;
    }
    let iw0 = i32(q0) - pad;
    let x_n = n * params.C * HW;
    for (var r = 0u; r < params.R; r++) {
      let ih = i32(p) - pad + i32(r);
      let row_ok = ih >= 0 && ih < i32(params.H);
      // Column t of the run is x[x_row + t + c * HW]; i32 because the run may start left of column 0.
      let x_row = i32(x_n) + ih * i32(params.W) + iw0;
      for (var c = 0u; c < params.C; c++) {
        let x_c = x_row + i32(c * HW);
        // xw[j] holds column j + s of the run at tap s: loaded once for s = 0, then shifted by one
        // column per tap, with one new load at its end.
        var xw: array<f32, BM>;
        for (var j = 0u; j < BM; j++) {
          xw[j] = load_x(x_c, iw0, j, row_ok);
        }
        let w_off = c * RS + r * params.S;
        for (var s = 0u; s < params.S; s++) {
          for (var i = 0u; i < BK; i++) {
            let wv = w[w_base[i] + w_off + s];
            for (var j = 0u; j < BM; j++) {
              acc[i * BM + j] = fma(wv, xw[j], acc[i * BM + j]);
            }
          }
          for (var j = 0u; j + 1u < BM; j++) {
            xw[j] = xw[j + 1u];
          }
          xw[BM - 1u] = load_x(x_c, iw0, BM + s, row_ok);
        }
      }
    }
  } else {
    let M = params.N * PQ;
    if (mb >= ceil_div(M, BM)) {
      return;
    }
    let m0 = mb * BM;
    // Rows past M are computed on a clamped row and never stored.
    var x_base: array<u32, BM>;
    var ih0: array<i32, BM>;
    var iw0: array<i32, BM>;
    for (var j = 0u; j < BM; j++) {
      let m = min(m0 + j, M - 1u);
      let n = m / PQ;
      let pq = m - n * PQ;
      let p = pq / params.Q;
      let q = pq - p * params.Q;
      x_base[j] = n * params.C * HW;
      ih0[j] = i32(p * params.stride) - pad;
      iw0[j] = i32(q * params.stride) - pad;
      y_base[j] = n * params.K * PQ + pq;
      valid[j] = m0 + j < M;
    }
    // (r, s) outermost so the padding test is paid once per tap, not once per multiply-add.
    for (var r = 0u; r < params.R; r++) {
      for (var s = 0u; s < params.S; s++) {
        var x_off: array<u32, BM>;
        var inside: array<bool, BM>;
        for (var j = 0u; j < BM; j++) {
          let ih = ih0[j] + i32(r);
          let iw = iw0[j] + i32(s);
          inside[j] = ih >= 0 && ih < i32(params.H) && iw >= 0 && iw < i32(params.W);
          x_off[j] = select(0u, x_base[j] + u32(ih) * params.W + u32(iw), inside[j]);
        }
        let tap = r * params.S + s;
        for (var c = 0u; c < params.C; c++) {
          var xv: array<f32, BM>;
          for (var j = 0u; j < BM; j++) {
            xv[j] = select(0.0, x[x_off[j] + c * HW], inside[j]);
          }
          for (var i = 0u; i < BK; i++) {
            let wv = w[w_base[i] + c * RS + tap];
            for (var j = 0u; j < BM; j++) {
              acc[i * BM + j] = fma(wv, xv[j], acc[i * BM + j]);
            }
          }
        }
      }
    }
  }

  // A guard, not a break: a loop with a break is never unrolled. (With BK = 25 this loop is still
  // too long to unroll, so that block stays in memory; its hot loop indexes it by constants, and
  // forcing it into registers instead, by storing in short loops, measured 1.8x slower: the
  // register allocator then spills it irregularly.)
  for (var i = 0u; i < BK; i++) {
    let k = k0 + i;
    var b = 0.0;
    if (EPILOGUE == 1u || EPILOGUE == 2u) {
      b = bias[min(k, params.K - 1u)];
    }
    for (var j = 0u; j < BM; j++) {
      if (k < params.K && valid[j]) {
        var v = acc[i * BM + j] + b;
        if (EPILOGUE >= 2u) {
          v = max(v, 0.0);
        }
        y[y_base[j] + k * PQ] = v;
      }
    }
  }
}

