// Each source element spread over a KH x KW window, scaled, with the channels shifted, NCHW:
//   out[n,k,h,w] = scale · src[n, k − shift, h / KH, w / KW]   where 0 <= k − shift < C_in, else 0,
// out [N, C_out, H, W], src [N, C_in, H/KH, W/KW] (the wrapper requires KH | H and KW | W). Every
// output element is written (no accumulation). Its uses:
//   - the adjoint of window_mean.wgsl (shift 0, C_in = C_out, scale 1/(KH·KW)): the backward of
//     avgpool2 (2x2) and of global_avg_pool (H x W);
//   - pad_channels (1x1 window, scale 1): shift = before puts the input at channels
//     [before, before + C) and zeros elsewhere (forward and tangent); shift = −before reads those
//     channels back (backward: the slice of the signal for the original channels).
//
// One work item is an output row (n, k, h), walked along w without divisions, in a grid-stride loop
// over a capped launch.
struct Params {
  N: u32,
  C_in: u32,
  C_out: u32,
  H: u32,
  W: u32,
  KH: u32,
  KW: u32,
  shift: i32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let H = params.H;
  let P = H / params.KH;
  let Q = params.W / params.KW;
  let rows = params.N * params.C_out * H;
  let stride = launch_size(nwg, WG);
  for (var row = linear_index(wid, nwg, lid, WG); row < rows; row += stride) {
    let plane = row / H;
    let h = row - plane * H;
    let n = plane / params.C_out;
    let c = i32(plane - n * params.C_out) - params.shift;
    let inside = c >= 0 && c < i32(params.C_in);
    // Row h / KH of source plane (n, c); clamped to 0 for a zero channel, whose loads are masked.
    let src_row = select(0u, ((n * params.C_in + u32(c)) * P + h / params.KH) * Q, inside);
    var o = row * params.W;
    for (var q = 0u; q < Q; q++) {
      let v = select(0.0, params.scale * src[src_row + q], inside);
      for (var s = 0u; s < params.KW; s++) {
        out[o] = v;
        o++;
      }
    }
  }
}
