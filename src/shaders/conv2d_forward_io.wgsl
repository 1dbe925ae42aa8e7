// The interface of the convolution forward kernel: its bindings, override constants and the helpers
// both of its forms use. Appended (with conv2d_params.wgsl) by src/kernels/conv2d_forward.ts to the
// hand-written form (conv2d_forward.wgsl) and to the written-out one (registerBlockConv2dForward in
// src/kernels/wgsl_template.ts), so that the two share one text and one KernelDef's bindings.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WG: u32 = 64;
override EPILOGUE: u32 = 0;

// The row path applies exactly when the wrapper launched it (same test there: rowPath()).
fn row_path() -> bool {
  return params.stride == 1u;
}

// Column t of an input row run starting at column iw0 (zero outside the image; the index of a
// masked load is clamped to 0 so that it stays in bounds).
fn load_x(x_c: i32, iw0: i32, t: u32, row_ok: bool) -> f32 {
  let iw = iw0 + i32(t);
  let ok = row_ok && iw >= 0 && iw < i32(params.W);
  return select(0.0, x[select(0u, u32(x_c + i32(t)), ok)], ok);
}
