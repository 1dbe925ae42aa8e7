// Gradient of ReLU from its *output* y (the forward kernels fuse ReLU and keep only the output):
//   dx[i] = dy[i] if y[i] > 0 else 0        (y > 0 exactly when the pre-activation was > 0).
// IN_PLACE: dx holds dy on entry and is overwritten; the dy binding is then a dummy that is never
// read, because WebGPU forbids binding one buffer range as both read and read_write in a dispatch.
struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 256;
override IN_PLACE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i < params.n) {
    var g: f32;
    if (IN_PLACE) {
      g = dx[i];
    } else {
      g = dy[i];
    }
    // select, not a multiply, so an inf or NaN gradient behind a dead unit still gives 0.
    dx[i] = select(0.0, g, y[i] > 0.0);
  }
}
