// out[r] = the first c maximising x[r, c] (ties go to the lowest index), one invocation per row: rows
// are a batch and cols a handful of classes. NaNs never compare greater, so they are skipped unless
// they stand at column 0; a row with cols = 0 gets 0.
struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = linear_index(wid, nwg, lid, WG);
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var best = 0u;
  if (params.cols > 0u) {
    var best_v = x[base];
    for (var c = 1u; c < params.cols; c++) {
      let v = x[base + c];
      if (v > best_v) {
        best_v = v;
        best = c;
      }
    }
  }
  out[row] = best;
}
