// The interface of the convolution data-gradient kernel: its bindings, override constant and the
// helpers both of its forms use. Appended (with conv2d_params.wgsl) by
// src/kernels/conv2d_backward_data.ts to the hand-written form (conv2d_backward_data.wgsl) and to the
// written-out one (registerBlockConv2dBackwardData in src/kernels/wgsl_template.ts).
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

fn row_path() -> bool {
  return params.stride == 1u;
}

// Column q of dy row `row_off` (an element offset, or < 0 / row_ok false outside), zero outside.
fn load_dy(row_off: i32, q: i32, row_ok: bool) -> f32 {
  let ok = row_ok && q >= 0 && q < i32(params.Q);
  return select(0.0, dy[select(0u, u32(row_off + q), ok)], ok);
}
