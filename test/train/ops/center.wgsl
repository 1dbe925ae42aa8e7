// Test-only op `center`: y[i, f] = x[i, f] − (1/n) Σ_j x[j, f] over the n examples of a batch. One
// invocation per feature. Linear and symmetric, so the forward, backward and tangent passes all run it.
struct Params {
  n: u32,
  features: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = linear_index(wid, nwg, lid, WG);
  let F = params.features;
  if (f >= F) {
    return;
  }
  var mean = 0.0;
  for (var i = 0u; i < params.n; i++) {
    mean += x[i * F + f];
  }
  mean /= f32(params.n);
  for (var i = 0u; i < params.n; i++) {
    y[i * F + f] = x[i * F + f] - mean;
  }
}
