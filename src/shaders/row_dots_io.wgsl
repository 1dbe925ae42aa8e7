// The bindings and shape uniform of both row-dot forms (row_dots.wgsl, row_dots_workgroup.wgsl),
// appended by their wrapper (src/kernels/row_dots.ts).
struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
