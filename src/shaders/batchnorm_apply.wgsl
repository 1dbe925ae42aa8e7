// Batch normalisation, the elementwise pass over a batch [n, channels, hw] (total = n·channels·hw):
//   out = A_c·src + B_c·x̂ + D_c (then max(·, 0) with RELU),   x̂ = (x − mean_c)·invstd_c,
// with the per-channel coefficients batchnorm_reduce.wgsl left in `coef` = [A | B | D | ...] and the
// statistics in `stats` = [mean | invstd] (sections `stride` floats apart). Without HAS_SRC (forward
// pass; tangent along the parameters alone) A is not read and neither is `src` (the wrapper binds x).
struct Params {
  total: u32,
  channels: u32,
  hw: u32,
  stride: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

override WG: u32 = 256;
override HAS_SRC: bool = false;
override RELU: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let S = params.stride;
  let step = launch_size(nwg, WG);
  for (var i = linear_index(wid, nwg, lid, WG); i < params.total; i += step) {
    let c = (i / params.hw) % params.channels;
    let xhat = (x[i] - stats[c]) * stats[S + c];
    var v = coef[S + c] * xhat + coef[2u * S + c];
    if (HAS_SRC) {
      v += coef[c] * src[i];
    }
    if (RELU) {
      v = max(v, 0.0);
    }
    out[i] = v;
  }
}
