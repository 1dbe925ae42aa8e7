// Gradient of a convolution's per-channel bias, optionally per-example weighted:
//   db[k] = sum_n e[n] * sum_{p,q} dy[n,k,p,q],  e[n] = ex_weight[n] when EX_WEIGHTS, else 1.
// One workgroup per channel k (K is small, N*P*Q large): its invocations stride over each example's
// P*Q plane, scale that example's partial sum once, then reduce with workgroup_sum (common.wgsl): a
// tree, so the sum is deterministic (no atomics) and its error grows with log2(WG).
// Examples whose weight is exactly 0 are skipped.
// `struct Params` (the shape) is shared by every convolution kernel: conv2d_params.wgsl, appended
// by the wrapper (conv2dSource in src/kernels/conv2d_forward.ts).
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> ex_weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// A power of two, at most 256 (workgroup_sum in common.wgsl).
override WG: u32 = 64;
override EX_WEIGHTS: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // k is uniform across the workgroup, and workgroup_sum's barriers sit outside the k < K guard.
  let k = wid.x + wid.y * nwg.x;
  let PQ = params.P * params.Q;
  let KPQ = params.K * PQ;
  var sum = 0.0;
  if (k < params.K) {
    for (var n = 0u; n < params.N; n++) {
      var e = 1.0;
      if (EX_WEIGHTS) {
        e = ex_weight[n];
        if (e == 0.0) {
          continue;
        }
      }
      let base = n * KPQ + k * PQ;
      var s = 0.0;
      for (var i = lid; i < PQ; i += WG) {
        s += dy[base + i];
      }
      sum = fma(e, s, sum);
    }
  }
  let total = workgroup_sum(lid, sum, WG);
  if (lid == 0u && k < params.K) {
    db[k] = total;
  }
}
