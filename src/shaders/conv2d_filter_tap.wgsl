// Indexing shared by every form of the filter gradient (conv2d_backward_filter.wgsl,
// conv2d_backward_filter_reduce.wgsl and the generated one), appended by their wrapper; `params` is
// theirs. filter_tap(col): where column col = (c, r, s) of the filter-gradient GEMM reads its input:
// the offset of channel c in one example, and the row and column offsets of tap (r, s) relative to an
// output position (padding included).
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

// Where example n starts in x and in dy.
fn x_example(n: u32) -> u32 {
  return n * params.C * params.H * params.W;
}

fn dy_example(n: u32) -> u32 {
  return n * params.K * params.P * params.Q;
}

// Where filter k's channel starts in one example of dy, clamped to the last filter (the blocks'
// filters past K are computed and never stored).
fn dy_channel(k: u32) -> u32 {
  return min(k, params.K - 1u) * params.P * params.Q;
}
