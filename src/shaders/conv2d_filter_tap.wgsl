// Where column col = (c, r, s) of a filter-gradient GEMM reads its input: the offset of channel c in
// one example, and the row and column offsets of tap (r, s) relative to an output position (padding
// included). Shared by both forms of the filter gradient (conv2d_backward_filter.wgsl and
// conv2d_backward_filter_reduce.wgsl), appended by their wrapper; `params` is theirs.
struct FilterTap {
  x_off: u32,
  dh: i32,
  dw: i32,
}

fn filter_tap(col: u32) -> FilterTap {
  let RS = params.R * params.S;
  let c = col / RS;
  let rs = col - c * RS;
  let r = rs / params.S;
  let pad = i32(params.pad);
  return FilterTap(c * params.H * params.W, i32(r) - pad, i32(rs - r * params.S) - pad);
}
