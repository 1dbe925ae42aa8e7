// out[c] = Σ_r w[r] * x[r, c] (+= with ACCUMULATE), one invocation per column, so adjacent
// invocations read adjacent elements of each row. Without ROW_WEIGHTS every weight is 1 and `w` is
// never read (the wrapper binds x there as a placeholder).
struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;
override ROW_WEIGHTS: bool = false;
override ACCUMULATE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = linear_index(wid, nwg, lid, WG);
  if (c >= params.cols) {
    return;
  }
  var acc = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let v = x[r * params.cols + c];
    if (ROW_WEIGHTS) {
      acc += w[r] * v;
    } else {
      acc += v;
    }
  }
  if (ACCUMULATE) {
    out[c] += acc;
  } else {
    out[c] = acc;
  }
}
