// The shape uniform of both pooling kernels (fields in maxpoolUniforms' order, see
// src/kernels/maxpool_forward.ts): input [N, C, H, W], output [N, C, P, Q]. Appended after a kernel's
// own source, so compile errors keep that file's line numbers.
struct Params {
  N: u32,
  C: u32,
  H: u32,
  W: u32,
  P: u32,
  Q: u32,
}
