// Gradient of a 2-D convolution with respect to its filter (NCHW), optionally per-example weighted:
//   dw[k,c,r,s] = sum_n e[n] * sum_{p,q} dy[n,k,p,q] * x[n,c,p*stride+r-pad, q*stride+s-pad]
// with e[n] = ex_weight[n] when EX_WEIGHTS, else 1. GEMM view: rows k, columns (c,r,s), reduction
// (n,p,q). Each invocation owns BK filters x BJ consecutive (c,r,s) columns in registers and runs the
// whole reduction, so no atomics and no second pass. Each example is summed on its own and then scaled
// once (one multiply per output and example instead of one per term); examples whose weight is exactly
// 0 are skipped, so they cost nothing and cannot inject non-finite values.
// That is the general path; stride-1 shapes whose filter width is RBS take the row path below
// (row_main), which loads x through a register window along each row. The window holds all taps of
// a filter row, so its size must be a constant for it to stay in registers: RBS = 5 serves LeNet's
// 5x5 filters, and other widths (ResNet's 3x3) keep the general path.
// BK, BJ (general path) and RBK, RBF, RBS (row path) are consts appended by the TS wrapper
// (src/kernels/conv2d_backward_filter.ts), which also picks the path and sizes the launch to match.
// The bindings (conv2d_backward_filter_io.wgsl, shared by every form of this kernel), `struct Params`
// (conv2d_params.wgsl, shared by every convolution kernel) and filter_tap() (conv2d_filter_tap.wgsl)
// are appended by the wrapper (conv2dSource in src/kernels/conv2d_forward.ts).

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  if (filter_row_path()) {
    row_main(t);
  } else {
    general_main(t);
  }
}

// The row path applies exactly when the wrapper launched it (same test there).
fn filter_row_path() -> bool {
  return params.stride == 1u && params.S == RBS;
}

// Row path: RBK filters x RBF filter rows (c, r) x all RBS taps s of each row per invocation. For
// each output row p, the x values of a filter row's taps at output column q are one run of RBS
// input columns, kept in a register window shifted by one column per q: one x load per filter row
// and q, where the general path loads every column of its block. CPU ms on lavapipe at LeNet's
// batch of 100 with example weights (conv1 dw [20,1,5,5] / conv2 dw [50,20,5,5]), medians of 5
// rounds alternating on the same buffers, general path 10x8: 12.4 / 54.7; row path 10x2x5:
// 8.5 / 33.5, 10x1x5: 10.9 / 56.6, 5x2x5: 9.9 / 39.7, 10x3x5: 10.3 / 39.5.
fn row_main(t: u32) {
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let F = params.C * params.R;
  let f_blocks = ceil_div(F, RBF);
  if (t >= f_blocks * ceil_div(params.K, RBK)) {
    return;
  }
  let f0 = (t % f_blocks) * RBF;
  let k0 = (t / f_blocks) * RBK;
  let H = i32(params.H);
  let W = i32(params.W);
  let pad = i32(params.pad);

  var x_chan: array<u32, RBF>;
  var dh: array<i32, RBF>;
  for (var b = 0u; b < RBF; b++) {
    // Filter row f = (c, r) is column (c, r, 0).
    let tap = filter_tap(min(f0 + b, F - 1u) * params.S);
    x_chan[b] = tap.x_off;
    dh[b] = tap.dh;
  }
  var dy_chan: array<u32, RBK>;
  for (var i = 0u; i < RBK; i++) {
    dy_chan[i] = dy_channel(k0 + i);
  }
  var total: array<f32, RBK * RBF * RBS>;
  for (var n = 0u; n < params.N; n++) {
    let e = example_weight(n);
    if (e == 0.0) {
      continue;
    }
    let x_n = x_example(n);
    let dy_n = dy_example(n);
    var acc: array<f32, RBK * RBF * RBS>;
    for (var i = 0u; i < RBK * RBF; i++) {
      for (var s = 0u; s < RBS; s++) {
        acc[i * RBS + s] = 0.0;
      }
    }
    for (var p = 0u; p < params.P; p++) {
      var row: array<i32, RBF>;
      var row_ok: array<bool, RBF>;
      var win: array<f32, RBF * RBS>;
      for (var b = 0u; b < RBF; b++) {
        let ih = i32(p) + dh[b];
        row_ok[b] = ih >= 0 && ih < H;
        row[b] = i32(x_n + x_chan[b]) + ih * W;
        for (var s = 0u; s < RBS; s++) {
          win[b * RBS + s] = load_x_row(row[b], i32(s) - pad, row_ok[b]);
        }
      }
      for (var q = 0u; q < params.Q; q++) {
        let pq = p * params.Q + q;
        for (var i = 0u; i < RBK; i++) {
          let g = dy[dy_n + dy_chan[i] + pq];
          for (var b = 0u; b < RBF; b++) {
            for (var s = 0u; s < RBS; s++) {
              acc[(i * RBF + b) * RBS + s] = fma(g, win[b * RBS + s], acc[(i * RBF + b) * RBS + s]);
            }
          }
        }
        for (var b = 0u; b < RBF; b++) {
          for (var s = 0u; s + 1u < RBS; s++) {
            win[b * RBS + s] = win[b * RBS + s + 1u];
          }
          win[b * RBS + RBS - 1u] = load_x_row(row[b], i32(q + RBS) - pad, row_ok[b]);
        }
      }
    }
    for (var i = 0u; i < RBK * RBF; i++) {
      for (var s = 0u; s < RBS; s++) {
        total[i * RBS + s] = fma(e, acc[i * RBS + s], total[i * RBS + s]);
      }
    }
  }
  for (var i = 0u; i < RBK; i++) {
    let k = k0 + i;
    for (var b = 0u; b < RBF; b++) {
      for (var s = 0u; s < RBS; s++) {
        if (k < params.K && f0 + b < F) {
          dw[k * CRS + (f0 + b) * params.S + s] = total[(i * RBF + b) * RBS + s];
        }
      }
    }
  }
}

// Column iw of the input row starting at element `row` (zero outside the image).
fn load_x_row(row: i32, iw: i32, row_ok: bool) -> f32 {
  let ok = row_ok && iw >= 0 && iw < i32(params.W);
  return select(0.0, x[select(0u, u32(row + iw), ok)], ok);
}

fn general_main(t: u32) {
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let j_blocks = ceil_div(CRS, BJ);
  if (t >= j_blocks * ceil_div(params.K, BK)) {
    return;
  }
  let j0 = (t % j_blocks) * BJ;
  let k0 = (t / j_blocks) * BK;
  let H = i32(params.H);
  let W = i32(params.W);

  // Columns past CRS and filters past K are computed on clamped indices and never stored.
  var x_chan: array<u32, BJ>;
  var dh: array<i32, BJ>;
  var dwo: array<i32, BJ>;
  for (var j = 0u; j < BJ; j++) {
    let tap = filter_tap(min(j0 + j, CRS - 1u));
    x_chan[j] = tap.x_off;
    dh[j] = tap.dh;
    dwo[j] = tap.dw;
  }
  var dy_chan: array<u32, BK>;
  for (var i = 0u; i < BK; i++) {
    dy_chan[i] = dy_channel(k0 + i);
  }

  var total: array<f32, BK * BJ>;
  for (var n = 0u; n < params.N; n++) {
    let e = example_weight(n);
    if (e == 0.0) {
      continue;
    }
    let x_n = x_example(n);
    let dy_n = dy_example(n);
    // Cleared explicitly: a var declared in a loop body was observed to keep its previous
    // iteration's value on this toolchain instead of being zero-initialised again.
    // Nested loops of BK and BJ rather than one of BK * BJ: a loop that long is not unrolled, and
    // the block would then live in memory.
    var acc: array<f32, BK * BJ>;
    for (var i = 0u; i < BK; i++) {
      for (var j = 0u; j < BJ; j++) {
        acc[i * BJ + j] = 0.0;
      }
    }
    for (var p = 0u; p < params.P; p++) {
      var row: array<i32, BJ>;
      var row_ok: array<bool, BJ>;
      for (var j = 0u; j < BJ; j++) {
        let ih = i32(p * params.stride) + dh[j];
        row_ok[j] = ih >= 0 && ih < H;
        row[j] = ih * W;
      }
      for (var q = 0u; q < params.Q; q++) {
        let iw_base = i32(q * params.stride);
        var xv: array<f32, BJ>;
        for (var j = 0u; j < BJ; j++) {
          let iw = iw_base + dwo[j];
          let ok = row_ok[j] && iw >= 0 && iw < W;
          xv[j] = select(0.0, x[select(0u, x_n + x_chan[j] + u32(row[j] + iw), ok)], ok);
        }
        let pq = p * params.Q + q;
        for (var i = 0u; i < BK; i++) {
          let g = dy[dy_n + dy_chan[i] + pq];
          for (var j = 0u; j < BJ; j++) {
            acc[i * BJ + j] = fma(g, xv[j], acc[i * BJ + j]);
          }
        }
      }
    }
    for (var i = 0u; i < BK; i++) {
      for (var j = 0u; j < BJ; j++) {
        total[i * BJ + j] = fma(e, acc[i * BJ + j], total[i * BJ + j]);
      }
    }
  }

  // A guard, not a break: a loop with a break is not unrolled, and a block indexed by a loop that is
  // not unrolled lives in memory for the whole kernel.
  for (var i = 0u; i < BK; i++) {
    let k = k0 + i;
    for (var j = 0u; j < BJ; j++) {
      if (k < params.K && j0 + j < CRS) {
        dw[k * CRS + j0 + j] = total[i * BJ + j];
      }
    }
  }
}
