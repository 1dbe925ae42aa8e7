// SGD with momentum and L2 weight decay in the PyTorch convention (torch.optim.SGD, dampening 0,
// no Nesterov): d = g + weight_decay * p;  v = momentum * v + d;  p = p - lr * v.
// With v starting at zero the first step sets v = d, as PyTorch does. lr lives in the uniform so a
// schedule can change it between steps without replanning.
struct Params {
  n: u32,
  lr: f32,
  momentum: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let stride = launch_size(nwg, WG);
  for (var i = linear_index(wid, nwg, lid, WG); i < params.n; i += stride) {
    let pi = p[i];
    let vi = params.momentum * v[i] + (g[i] + params.weight_decay * pi);
    v[i] = vi;
    p[i] = pi - params.lr * vi;
  }
}
