// Gradient of a 2-D convolution with respect to its filter (NCHW), optionally per-example weighted,
// in the form for GPUs (the 'reduce' form of src/kernels/conv2d_backward_filter.ts):
//   dw[k,c,r,s] = sum_{n,p,q} e[n] * dy[n,k,p,q] * x[n,c,p*stride+r-pad, q*stride+s-pad]
// The blocked form gives each invocation whole outputs and the whole (n,p,q) reduction: a few hundred
// long serial loops, which suits a CPU driver's handful of threads and starves a GPU (LeNet's conv1
// filter has 500 outputs over a 57,600-term reduction). Here a workgroup owns a block of TK filters x 4
// consecutive (c,r,s) columns, its WG invocations stride over the (n,p,q) terms (neighbouring
// invocations read neighbouring dy and x elements), and a tree over workgroup memory adds the WG
// partial blocks. Terms of examples whose weight is exactly 0 are skipped, as in the blocked form, so
// such examples cannot inject non-finite values.
// The bindings are conv2d_backward_filter_io.wgsl, `struct Params` conv2d_params.wgsl and
// filter_tap() conv2d_filter_tap.wgsl, all appended by the wrapper (conv2dSource).

// A power of two (the tree halves it).
override WG: u32 = 128;
const TK: u32 = 4u;

// One vec4 (4 columns) per filter of the block and invocation: 8 KiB at WG = 128.
var<workgroup> partial: array<vec4f, TK * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // The block depends on the workgroup only, so the early return and the barriers below stay in
  // workgroup-uniform control flow.
  let block = wid.x + wid.y * nwg.x;
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let j_blocks = ceil_div(CRS, 4u);
  if (block >= j_blocks * ceil_div(params.K, TK)) {
    return;
  }
  let j0 = (block % j_blocks) * 4u;
  let k0 = (block / j_blocks) * TK;
  let HW = params.H * params.W;
  let PQ = params.P * params.Q;
  let H = i32(params.H);
  let W = i32(params.W);

  // Columns past CRS and filters past K are computed on clamped indices and never stored.
  var taps: array<FilterTap, 4>;
  for (var j = 0u; j < 4u; j++) {
    taps[j] = filter_tap(min(j0 + j, CRS - 1u));
  }
  var dy_off: array<u32, TK>;
  for (var i = 0u; i < TK; i++) {
    dy_off[i] = min(k0 + i, params.K - 1u) * PQ;
  }

  var acc: array<vec4f, TK>;
  let terms = params.N * PQ;
  for (var t = lid; t < terms; t += WG) {
    let n = t / PQ;
    let pq = t - n * PQ;
    let e = example_weight(n);
    if (e == 0.0) {
      continue;
    }
    let p = pq / params.Q;
    let q = pq - p * params.Q;
    let x_n = n * params.C * HW;
    var xv: vec4f;
    for (var j = 0u; j < 4u; j++) {
      let ih = i32(p * params.stride) + taps[j].dh;
      let iw = i32(q * params.stride) + taps[j].dw;
      let ok = ih >= 0 && ih < H && iw >= 0 && iw < W;
      xv[j] = select(0.0, x[select(0u, x_n + taps[j].x_off + u32(ih * W + iw), ok)], ok);
    }
    let dy_n = n * params.K * PQ + pq;
    for (var i = 0u; i < TK; i++) {
      acc[i] = fma(vec4f(e * dy[dy_n + dy_off[i]]), xv, acc[i]);
    }
  }

  for (var i = 0u; i < TK; i++) {
    partial[i * WG + lid] = acc[i];
  }
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      for (var i = 0u; i < TK; i++) {
        partial[i * WG + lid] += partial[i * WG + lid + stride];
      }
    }
    workgroupBarrier();
  }
  if (lid < TK) {
    let k = k0 + lid;
    let total = partial[lid * WG];
    for (var j = 0u; j < 4u; j++) {
      if (k < params.K && j0 + j < CRS) {
        dw[k * CRS + j0 + j] = total[j];
      }
    }
  }
}
