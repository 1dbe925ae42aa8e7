// 2x2 max pooling, stride 2, NCHW, floor mode (an odd last row or column is dropped):
//   y[n,c,p,q] = max_{i,j in {0,1}} x[n,c,2p+i,2q+j],  P = floor(H/2), Q = floor(W/2).
// argmax[n,c,p,q] = (2p+i)*W + (2q+j) of the chosen element: an index into its own H x W input
// plane, not into the whole tensor, so it stays valid whatever the batch slice or binding offset.
// Ties keep the first maximum in row-major window order (strict > while scanning).
//
// One work item is an output row (n, c, p), walked along q: one integer division per row instead of
// three per output (lavapipe splits vector integer division per lane), in a grid-stride loop over a
// capped launch (every workgroup has a fixed cost on CPU drivers).
// `struct Params` (the shape) is shared with the other pooling kernel: maxpool_params.wgsl, appended
// by the wrapper (maxpoolSource in src/kernels/maxpool_forward.ts).
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let W = params.W;
  let P = params.P;
  let Q = params.Q;
  let rows = params.N * params.C * P;
  let stride = launch_size(nwg, WG);
  for (var row = linear_index(wid, nwg, lid, WG); row < rows; row += stride) {
    let plane = row / P;
    let p = row - plane * P;
    let base = plane * params.H * W;
    let o0 = row * Q;
    for (var q = 0u; q < Q; q++) {
      let i00 = 2u * p * W + 2u * q;
      var best = x[base + i00];
      var at = i00;
      let v01 = x[base + i00 + 1u];
      if (v01 > best) {
        best = v01;
        at = i00 + 1u;
      }
      let v10 = x[base + i00 + W];
      if (v10 > best) {
        best = v10;
        at = i00 + W;
      }
      let v11 = x[base + i00 + W + 1u];
      if (v11 > best) {
        best = v11;
        at = i00 + W + 1u;
      }
      y[o0 + q] = best;
      argmax[o0 + q] = at;
    }
  }
}
