// The bindings of every form of the filter gradient (src/kernels/conv2d_backward_filter.ts), appended
// by its wrapper. ex_weight is read only when EX_WEIGHTS (the wrapper binds a placeholder otherwise).
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> ex_weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override EX_WEIGHTS: bool = false;

// Example n's weight: ex_weight[n] when EX_WEIGHTS, else 1. Every form skips an example whose weight
// is exactly 0 (it costs nothing and cannot bring in non-finite values).
fn example_weight(n: u32) -> f32 {
  if (EX_WEIGHTS) {
    return ex_weight[n];
  }
  return 1.0;
}
