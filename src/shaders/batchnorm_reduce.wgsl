// Batch normalisation, the per-channel pass: one workgroup per channel c of a batch [n, channels, hw]
// (M = n·hw values per channel, visited grid-stride, so any M works), tree sums via workgroup_sum.
// It leaves per-channel coefficients that turn batchnorm_apply.wgsl into
//   out = A_c·src + B_c·x̂ + D_c,   x̂ = (x − mean_c)·invstd_c,
// the one form shared by the forward pass (A = 0, B = γ, D = β), the backward pass (src = dy) and the
// tangent (src = dx). The variant is chosen by override constants:
//   STATS 0: mean and invstd of x over the batch (training forward; with UPDATE_RUNNING also the
//            running statistics), written to `stats`;
//   STATS 1: mean and invstd from the running statistics (evaluation forward), written to `stats`;
//   STATS 2: read from `stats` (backward and tangent, after a training forward of the same batch).
//   HAS_SRC: S1 = Σ src, S2 = Σ src·x̂; then A = γ·invstd, B = −A·S2/M, D = −A·S1/M (the backward
//            formula dx = γ·invstd·(dy − S1/M − x̂·S2/M), and the tangent's input term); S1 and S2
//            are kept (the weight gradients dβ = S1, dγ = S2).
//   AFFINE:  B += a_c, D += b_c ((a, b) = (γ, β) in the forward pass, (G_γ, G_β) in the tangent).
// Layouts: stats = [mean | invstd], coef = [A | B | D | S1 | S2], sections `stride` floats apart
// (stride >= channels, a multiple of the storage-offset alignment, so each section can be bound alone).
struct Params {
  n: u32,
  channels: u32,
  hw: u32,
  stride: u32,
  mean_offset: u32,
  var_offset: u32,
  eps: f32,
  momentum: f32,
}

// dy (backward), dx (tangent); x itself for STATS 0 without HAS_SRC (never read otherwise).
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> affine_a: array<f32>;
@group(0) @binding(4) var<storage, read> affine_b: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
// running_mean at mean_offset and running_var at var_offset (one span of the state buffer).
@group(0) @binding(6) var<storage, read_write> running: array<f32>;
@group(0) @binding(7) var<storage, read_write> coef: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

override WG: u32 = 256;
override STATS: u32 = 0u;
override UPDATE_RUNNING: bool = false;
override HAS_SRC: bool = false;
override AFFINE: bool = false;

// Index of the j-th value (j < M) of channel c: example j / hw, position j % hw.
fn channel_index(c: u32, j: u32) -> u32 {
  let i = j / params.hw;
  return (i * params.channels + c) * params.hw + (j - i * params.hw);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let S = params.stride;
  let m = params.n * params.hw;
  let inv_m = 1.0 / f32(m);
  var mean: f32;
  var invstd: f32;
  if (STATS == 0u) {
    // Two passes (mean, then the mean square deviation): no cancellation of E[x²] − E[x]².
    var acc = 0.0;
    for (var j = lid; j < m; j += WG) {
      acc += x[channel_index(c, j)];
    }
    mean = workgroup_sum(lid, acc, WG) * inv_m;
    var acc2 = 0.0;
    for (var j = lid; j < m; j += WG) {
      let d = x[channel_index(c, j)] - mean;
      acc2 += d * d;
    }
    let variance = workgroup_sum(lid, acc2, WG) * inv_m;
    invstd = 1.0 / sqrt(variance + params.eps);
    if (lid == 0u) {
      stats[c] = mean;
      stats[S + c] = invstd;
      if (UPDATE_RUNNING) {
        // PyTorch: the running variance takes the unbiased estimate (M / (M − 1)), σ² itself when M = 1.
        let unbiased = select(variance, variance * (f32(m) / f32(m - 1u)), m > 1u);
        let keep = 1.0 - params.momentum;
        running[params.mean_offset + c] = keep * running[params.mean_offset + c] + params.momentum * mean;
        running[params.var_offset + c] = keep * running[params.var_offset + c] + params.momentum * unbiased;
      }
    }
  } else if (STATS == 1u) {
    mean = running[params.mean_offset + c];
    invstd = 1.0 / sqrt(running[params.var_offset + c] + params.eps);
    if (lid == 0u) {
      stats[c] = mean;
      stats[S + c] = invstd;
    }
  } else {
    mean = stats[c];
    invstd = stats[S + c];
  }
  var s1 = 0.0;
  var s2 = 0.0;
  if (HAS_SRC) {
    var a1 = 0.0;
    var a2 = 0.0;
    for (var j = lid; j < m; j += WG) {
      let e = channel_index(c, j);
      let g = src[e];
      a1 += g;
      a2 += g * (x[e] - mean);
    }
    s1 = workgroup_sum(lid, a1, WG);
    s2 = workgroup_sum(lid, a2, WG) * invstd;
  }
  if (lid == 0u) {
    var A = 0.0;
    var B = 0.0;
    var D = 0.0;
    if (HAS_SRC) {
      A = gamma[c] * invstd;
      B = -A * (s2 * inv_m);
      D = -A * (s1 * inv_m);
      coef[3u * S + c] = s1;
      coef[4u * S + c] = s2;
    }
    if (AFFINE) {
      B += affine_a[c];
      D += affine_b[c];
    }
    coef[c] = A;
    coef[S + c] = B;
    coef[2u * S + c] = D;
  }
}
