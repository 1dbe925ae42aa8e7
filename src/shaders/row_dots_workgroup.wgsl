// out[r] = Σ_c a[r, c] * b[r, c] (+= with ACCUMULATE), one workgroup per row: the form for GPUs (the
// 'workgroup' form of src/kernels/row_dots.ts). Its WG invocations stride along the row (neighbours
// read neighbouring elements) and workgroup_sum (common.wgsl) adds their partial sums.
// Bindings and `Params`: row_dots_io.wgsl, appended by the wrapper.

// A power of two, at most 256 (workgroup_sum's scratch).
override WG: u32 = 256;
override ACCUMULATE: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // The row depends on the workgroup only: the return keeps workgroup_sum's barriers uniform.
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var acc = 0.0;
  for (var c = lid; c < params.cols; c += WG) {
    acc = fma(a[base + c], b[base + c], acc);
  }
  let total = workgroup_sum(lid, acc, WG);
  if (lid == 0u) {
    if (ACCUMULATE) {
      out[row] += total;
    } else {
      out[row] = total;
    }
  }
}
