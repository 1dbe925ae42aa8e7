// Gradient of a 2-D convolution with respect to its input (NCHW), gather form (no atomics):
//   dx[n,c,h,w] = sum over (k,r,s) with h + pad - r = p*stride, w + pad - s = q*stride,
//                 0 <= p < P, 0 <= q < Q, of dy[n,k,p,q] * w[k,c,r,s].
// Each invocation owns BC input channels x BM consecutive (n,h,w) positions in registers: a dy value
// is reused BC times and a w value BM times. The (r,s) taps are the outer loops so the stride and
// bounds tests run once per tap and position; the inner loop over k is pure loads and multiply-adds.
// BC and BM are consts appended by the TS wrapper (src/kernels/conv2d_backward_data.ts).
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

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  let HW = params.H * params.W;
  let M = params.N * HW;
  let m_blocks = ceil_div(M, BM);
  if (t >= m_blocks * ceil_div(params.C, BC)) {
    return;
  }
  let m0 = (t % m_blocks) * BM;
  let c0 = (t / m_blocks) * BC;
  let PQ = params.P * params.Q;
  let KPQ = params.K * PQ;
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let stride = i32(params.stride);
  let P = i32(params.P);
  let Q = i32(params.Q);

  // Positions past M are computed on a clamped position and never stored.
  var dy_base: array<u32, BM>;
  var hp: array<i32, BM>;
  var wp: array<i32, BM>;
  var dx_base: array<u32, BM>;
  for (var j = 0u; j < BM; j++) {
    let m = min(m0 + j, M - 1u);
    let n = m / HW;
    let hw = m - n * HW;
    let h = hw / params.W;
    dy_base[j] = n * KPQ;
    hp[j] = i32(h) + i32(params.pad);
    wp[j] = i32(hw - h * params.W) + i32(params.pad);
    dx_base[j] = n * params.C * HW + hw;
  }
  var w_base: array<u32, BC>;
  for (var i = 0u; i < BC; i++) {
    w_base[i] = min(c0 + i, params.C - 1u) * RS;
  }

  // Only taps within reach of some position in the block can hit: r <= h + pad (else p < 0) and
  // r >= h + pad - (P-1)*stride (else p >= P); likewise for s. Bounding the loops by the block's
  // extremes skips most of the zero-padding a full-convolution gather would otherwise multiply through.
  var h_lo = hp[0];
  var h_hi = hp[0];
  var w_lo = wp[0];
  var w_hi = wp[0];
  for (var j = 1u; j < BM; j++) {
    h_lo = min(h_lo, hp[j]);
    h_hi = max(h_hi, hp[j]);
    w_lo = min(w_lo, wp[j]);
    w_hi = max(w_hi, wp[j]);
  }
  let r_begin = u32(max(0, h_lo - (P - 1) * stride));
  let r_end = min(params.R, u32(h_hi) + 1u);
  let s_begin = u32(max(0, w_lo - (Q - 1) * stride));
  let s_end = min(params.S, u32(w_hi) + 1u);

  var acc: array<f32, BC * BM>;
  for (var r = r_begin; r < r_end; r++) {
    for (var s = s_begin; s < s_end; s++) {
      var dy_off: array<u32, BM>;
      var hit: array<bool, BM>;
      var any_hit = false;
      for (var j = 0u; j < BM; j++) {
        // th, tw >= 0 is tested before the remainder so % never sees a negative operand.
        let th = hp[j] - i32(r);
        let tw = wp[j] - i32(s);
        var ok = th >= 0 && tw >= 0;
        let p = th / stride;
        let q = tw / stride;
        ok = ok && th - p * stride == 0 && tw - q * stride == 0 && p < P && q < Q;
        hit[j] = ok;
        any_hit = any_hit || ok;
        dy_off[j] = select(0u, dy_base[j] + u32(p) * params.Q + u32(q), ok);
      }
      if (!any_hit) {
        continue;
      }
      let tap = r * params.S + s;
      for (var k = 0u; k < params.K; k++) {
        var g: array<f32, BM>;
        for (var j = 0u; j < BM; j++) {
          g[j] = select(0.0, dy[dy_off[j] + k * PQ], hit[j]);
        }
        for (var i = 0u; i < BC; i++) {
          let wv = w[k * CRS + w_base[i] + tap];
          for (var j = 0u; j < BM; j++) {
            acc[i * BM + j] = fma(wv, g[j], acc[i * BM + j]);
          }
        }
      }
    }
  }

  for (var i = 0u; i < BC; i++) {
    let c = c0 + i;
    if (c >= params.C) {
      break;
    }
    for (var j = 0u; j < BM; j++) {
      if (m0 + j < M) {
        dx[dx_base[j] + c * HW] = acc[i * BM + j];
      }
    }
  }
}
