// out[r] = Σ_c a[r, c] * b[r, c] (+= with ACCUMULATE), one invocation per row (the 'row' form of
// src/kernels/row_dots.ts; the workgroup-per-row form for GPUs is row_dots_workgroup.wgsl).
// A workgroup per row with a tree reduction was measured against this on lavapipe and lost at both
// shapes this kernel serves (rows=100 with cols=11520 and cols=500): workgroup barriers cost more there
// than the parallelism within a row gains. See src/kernels/row_dots.ts for the numbers.
// Bindings and `Params`: row_dots_io.wgsl, appended by the wrapper.

override WG: u32 = 32;
override ACCUMULATE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = linear_index(wid, nwg, lid, WG);
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var acc = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    acc += a[base + c] * b[base + c];
  }
  if (ACCUMULATE) {
    out[row] += acc;
  } else {
    out[row] = acc;
  }
}
