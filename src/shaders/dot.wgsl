// out[g] = Σ x[i] * y[i] over workgroup g's grid-stride share of [0, n) (+= with ACCUMULATE); the same
// one- or two-launch scheme as reduce_sum.wgsl, whose kernel adds up the partials.
struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 256;
override ACCUMULATE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * WG;
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < params.n; i += stride) {
    acc += x[i] * y[i];
  }
  let total = workgroup_sum(lid, acc, WG);
  if (lid == 0u) {
    if (ACCUMULATE) {
      out[wid.x] += total;
    } else {
      out[wid.x] = total;
    }
  }
}
