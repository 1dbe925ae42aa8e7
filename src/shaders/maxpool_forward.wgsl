// 2x2 max pooling, stride 2, NCHW, floor mode (an odd last row or column is dropped):
//   y[n,c,p,q] = max_{i,j in {0,1}} x[n,c,2p+i,2q+j],  P = floor(H/2), Q = floor(W/2).
// argmax[n,c,p,q] = (2p+i)*W + (2q+j) of the chosen element: an index into its own H x W input
// plane, not into the whole tensor, so it stays valid whatever the batch slice or binding offset.
// Ties keep the first maximum in row-major window order (strict > while scanning).
struct Params {
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  P: u32,
  Q: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = linear_index(wid, nwg, lid, WG);
  let PQ = params.P * params.Q;
  if (o >= params.N * params.C * PQ) {
    return;
  }
  let plane = o / PQ;
  let pq = o - plane * PQ;
  let p = pq / params.Q;
  let q = pq - p * params.Q;
  let base = plane * params.H * params.W;
  let i00 = 2u * p * params.W + 2u * q;
  var best = x[base + i00];
  var at = i00;
  let others = array<u32, 3>(i00 + 1u, i00 + params.W, i00 + params.W + 1u);
  for (var t = 0u; t < 3u; t++) {
    let v = x[base + others[t]];
    if (v > best) {
      best = v;
      at = others[t];
    }
  }
  y[o] = best;
  argmax[o] = at;
}
