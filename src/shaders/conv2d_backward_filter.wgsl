// Gradient of a 2-D convolution with respect to its filter (NCHW), optionally per-example weighted:
//   dw[k,c,r,s] = sum_n e[n] * sum_{p,q} dy[n,k,p,q] * x[n,c,p*stride+r-pad, q*stride+s-pad]
// with e[n] = ex_weight[n] when EX_WEIGHTS, else 1. GEMM view: rows k, columns (c,r,s), reduction
// (n,p,q). Each invocation owns BK filters x BJ consecutive (c,r,s) columns in registers and runs the
// whole reduction, so no atomics and no second pass. Each example is summed on its own and then scaled
// once (one multiply per output and example instead of one per term); examples whose weight is exactly
// 0 are skipped, so they cost nothing and cannot inject non-finite values.
// BK and BJ are consts appended by the TS wrapper (src/kernels/conv2d_backward_filter.ts).
// `struct Params` (the shape) is shared by every convolution kernel: conv2d_params.wgsl, appended
// by the wrapper (conv2dSource in src/kernels/conv2d_forward.ts), as is filter_tap()
// (conv2d_filter_tap.wgsl).
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> ex_weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WG: u32 = 64;
override EX_WEIGHTS: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let j_blocks = ceil_div(CRS, BJ);
  if (t >= j_blocks * ceil_div(params.K, BK)) {
    return;
  }
  let j0 = (t % j_blocks) * BJ;
  let k0 = (t / j_blocks) * BK;
  let HW = params.H * params.W;
  let CHW = params.C * HW;
  let PQ = params.P * params.Q;
  let KPQ = params.K * PQ;
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
    dy_chan[i] = min(k0 + i, params.K - 1u) * PQ;
  }

  var total: array<f32, BK * BJ>;
  for (var n = 0u; n < params.N; n++) {
    var e = 1.0;
    if (EX_WEIGHTS) {
      e = ex_weight[n];
      if (e == 0.0) {
        continue;
      }
    }
    let x_n = n * CHW;
    let dy_n = n * KPQ;
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
