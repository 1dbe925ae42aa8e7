// The shape uniform of every convolution kernel (fields in conv2dUniforms' order, see
// src/kernels/conv2d_forward.ts). Appended after a kernel's own source, so compile errors keep that
// file's line numbers; WGSL declarations may come in any order.
struct Params {
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  K: u32,
  R: u32,
  S: u32,
  P: u32,
  Q: u32,
  stride: u32,
  pad: u32,
}
