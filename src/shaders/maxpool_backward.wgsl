// Gradient of 2x2 / stride-2 max pooling, gather form: every dx element is written, so no clear is
// needed. dx[n,c,h,w] = dy[n,c,h/2,w/2] when (h,w) is its window's recorded argmax, else 0; elements
// of a dropped odd last row or column get 0. argmax holds in-plane indices h*W+w (maxpool_forward).
//
// One work item is a pair of dx rows (2p, 2p+1) of one plane, walked window by window: one integer
// division per item instead of three per element (lavapipe has no vector integer division and
// splits it per lane), and a grid-stride loop over a capped launch, since every workgroup has a fixed
// cost on CPU drivers. Measured in the wrapper (src/kernels/maxpool_backward.ts).
// `struct Params` (the shape) is shared with the other pooling kernel: maxpool_params.wgsl, appended
// by the wrapper (maxpoolSource in src/kernels/maxpool_forward.ts).
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let W = params.W;
  let P = params.P;
  let Q = params.Q;
  // Row pairs per plane: ceil(H/2), the last one a single zero row when H is odd.
  let pairs = (params.H + 1u) / 2u;
  let items = params.N * params.C * pairs;
  let stride = launch_size(nwg, WG);
  for (var item = linear_index(wid, nwg, lid, WG); item < items; item += stride) {
    let plane = item / pairs;
    let p = item - plane * pairs;
    let h0 = 2u * p;
    let row0 = plane * params.H * W + h0 * W;
    if (p >= P) {
      // The dropped odd last row.
      for (var w = 0u; w < W; w++) {
        dx[row0 + w] = 0.0;
      }
      continue;
    }
    let o0 = (plane * P + p) * Q;
    for (var q = 0u; q < Q; q++) {
      let a = argmax[o0 + q];
      let g = dy[o0 + q];
      let w0 = 2u * q;
      let i00 = h0 * W + w0;
      dx[row0 + w0] = select(0.0, g, a == i00);
      dx[row0 + w0 + 1u] = select(0.0, g, a == i00 + 1u);
      dx[row0 + W + w0] = select(0.0, g, a == i00 + W);
      dx[row0 + W + w0 + 1u] = select(0.0, g, a == i00 + W + 1u);
    }
    if (2u * Q < W) {
      // The dropped odd last column, in both rows.
      dx[row0 + W - 1u] = 0.0;
      dx[row0 + 2u * W - 1u] = 0.0;
    }
  }
}
