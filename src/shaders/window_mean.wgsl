// Mean over non-overlapping KH x KW windows, NCHW:
//   y[n,c,p,q] = scale · Σ_{r<KH, s<KW} x[n,c, p·KH + r, q·KW + s],  P = H/KH, Q = W/KW,
// with scale = 1/(KH·KW) from the wrapper, which requires KH | H and KW | W. avgpool2 is the 2x2
// window and global_avg_pool the H x W one (one output per plane); both ops are linear, so their
// tangent is this same map applied to the input tangent. The adjoint (their backward) is
// window_spread.wgsl with the same window and scale.
//
// One work item is an output row (plane, p), walked along q (integer divisions once per row, as in
// maxpool_forward.wgsl), in a grid-stride loop over a capped launch. Each window is summed in
// row-major order in f32, then scaled once.
struct Params {
  planes: u32, // N·C
  H: u32,
  W: u32,
  KH: u32,
  KW: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let W = params.W;
  let P = params.H / params.KH;
  let Q = W / params.KW;
  let rows = params.planes * P;
  let stride = launch_size(nwg, WG);
  for (var row = linear_index(wid, nwg, lid, WG); row < rows; row += stride) {
    let plane = row / P;
    let p = row - plane * P;
    // x index of the window's top-left corner at q = 0.
    let base = plane * params.H * W + p * params.KH * W;
    let o0 = row * Q;
    for (var q = 0u; q < Q; q++) {
      var sum = 0.0;
      var at = base + q * params.KW;
      for (var r = 0u; r < params.KH; r++) {
        for (var s = 0u; s < params.KW; s++) {
          sum += x[at + s];
        }
        at += W;
      }
      y[o0 + q] = sum * params.scale;
    }
  }
}
