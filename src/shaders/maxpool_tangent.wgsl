// Forward-mode tangent of 2x2 / stride-2 max pooling: the pooled output moves with the selected input,
// so dy[n,c,p,q] = dx[n,c, argmax[n,c,p,q]] (argmax holds in-plane indices h*W+w, from
// maxpool_forward). Off the ties that make pooling non-differentiable this is exact. The shape struct
// is maxpool_params.wgsl, appended by the wrapper.
@group(0) @binding(0) var<storage, read> dx: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> dy: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let per_plane = params.P * params.Q;
  let total = params.N * params.C * per_plane;
  let stride = launch_size(nwg, WG);
  for (var o = linear_index(wid, nwg, lid, WG); o < total; o += stride) {
    let plane = o / per_plane;
    dy[o] = dx[plane * params.H * params.W + argmax[o]];
  }
}
