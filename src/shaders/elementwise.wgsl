// out[i] = act(a[i] (+ b[i])) (+ out[i]) for i < n: the residual add (with a fused ReLU), a standalone
// ReLU, a copy, and signal accumulation where a tensor has several consumers (see src/train/network.ts).
// Variants are override constants, so each use compiles only its own arithmetic.
struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
// Read only when ADD_B; the wrapper binds `a` here otherwise (two read-only bindings may alias).
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 256;
override ADD_B: bool = false;
override RELU: bool = false;
override ACCUMULATE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= params.n) {
    return;
  }
  var v = a[i];
  if (ADD_B) {
    v += b[i];
  }
  if (RELU) {
    v = max(v, 0.0);
  }
  if (ACCUMULATE) {
    v += out[i];
  }
  out[i] = v;
}
