// Gradient of 2x2 / stride-2 max pooling, gather form: every dx element is written, so no clear is
// needed. dx[n,c,h,w] = dy[n,c,h/2,w/2] when (h,w) is its window's recorded argmax, else 0; elements
// of a dropped odd last row or column get 0. argmax holds in-plane indices h*W+w (maxpool_forward).
struct Params {
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  P: u32,
  Q: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  let HW = params.H * params.W;
  if (i >= params.N * params.C * HW) {
    return;
  }
  let plane = i / HW;
  let hw = i - plane * HW;
  let h = hw / params.W;
  let p = h / 2u;
  let q = (hw - h * params.W) / 2u;
  var g = 0.0;
  if (p < params.P && q < params.Q) {
    let o = plane * params.P * params.Q + p * params.Q + q;
    if (argmax[o] == hw) {
      g = dy[o];
    }
  }
  dx[i] = g;
}
