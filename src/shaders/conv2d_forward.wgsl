// Direct convolution as an implicit GEMM (no im2col buffer), NCHW:
//   y[n,k,p,q] = epilogue(sum_{c,r,s} x[n,c,p*stride+r-pad, q*stride+s-pad] * w[k,c,r,s])
// GEMM view: rows m = (n,p,q) of length N*P*Q, columns k, reduction (c,r,s). Each invocation owns a
// BK x BM register block (BK output channels x BM consecutive rows), so every x value loaded is reused
// BK times and every w value BM times. On lavapipe this is 6-8x faster than one output per invocation
// (numbers in the wrapper) and avoids workgroup-memory tiling, whose barriers a CPU driver emulates.
// BK and BM are module-scope consts appended by the TS wrapper (src/kernels/conv2d_forward.ts), so the
// dispatch arithmetic there and the block shape here cannot drift apart.
// EPILOGUE: 0 = none, 1 = + bias[k], 2 = max(0, . + bias[k]).
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

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WG: u32 = 64;
override EPILOGUE: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  let PQ = params.P * params.Q;
  let M = params.N * PQ;
  let m_blocks = ceil_div(M, BM);
  if (t >= m_blocks * ceil_div(params.K, BK)) {
    return;
  }
  // Neighbouring invocations share a channel block and walk along m, so their x reads are adjacent.
  let m0 = (t % m_blocks) * BM;
  let k0 = (t / m_blocks) * BK;
  let HW = params.H * params.W;
  let RS = params.R * params.S;
  let CRS = params.C * RS;
  let pad = i32(params.pad);

  // Rows past M are computed on a clamped row and never stored.
  var x_base: array<u32, BM>;
  var ih0: array<i32, BM>;
  var iw0: array<i32, BM>;
  var y_base: array<u32, BM>;
  for (var j = 0u; j < BM; j++) {
    let m = min(m0 + j, M - 1u);
    let n = m / PQ;
    let pq = m - n * PQ;
    let p = pq / params.Q;
    let q = pq - p * params.Q;
    x_base[j] = n * params.C * HW;
    ih0[j] = i32(p * params.stride) - pad;
    iw0[j] = i32(q * params.stride) - pad;
    y_base[j] = n * params.K * PQ + pq;
  }
  // Channels past K read the last real filter and are never stored.
  var w_base: array<u32, BK>;
  for (var i = 0u; i < BK; i++) {
    w_base[i] = min(k0 + i, params.K - 1u) * CRS;
  }

  var acc: array<f32, BK * BM>;
  // (r, s) outermost so the padding test is paid once per tap, not once per multiply-add.
  for (var r = 0u; r < params.R; r++) {
    for (var s = 0u; s < params.S; s++) {
      var x_off: array<u32, BM>;
      var inside: array<bool, BM>;
      for (var j = 0u; j < BM; j++) {
        let ih = ih0[j] + i32(r);
        let iw = iw0[j] + i32(s);
        inside[j] = ih >= 0 && ih < i32(params.H) && iw >= 0 && iw < i32(params.W);
        x_off[j] = select(0u, x_base[j] + u32(ih) * params.W + u32(iw), inside[j]);
      }
      let tap = r * params.S + s;
      for (var c = 0u; c < params.C; c++) {
        var xv: array<f32, BM>;
        for (var j = 0u; j < BM; j++) {
          xv[j] = select(0.0, x[x_off[j] + c * HW], inside[j]);
        }
        for (var i = 0u; i < BK; i++) {
          let wv = w[w_base[i] + c * RS + tap];
          for (var j = 0u; j < BM; j++) {
            acc[i * BM + j] = fma(wv, xv[j], acc[i * BM + j]);
          }
        }
      }
    }
  }

  for (var i = 0u; i < BK; i++) {
    let k = k0 + i;
    if (k >= params.K) {
      break;
    }
    var b = 0.0;
    if (EPILOGUE >= 1u) {
      b = bias[k];
    }
    for (var j = 0u; j < BM; j++) {
      if (m0 + j < M) {
        var v = acc[i * BM + j] + b;
        if (EPILOGUE == 2u) {
          v = max(v, 0.0);
        }
        y[y_base[j] + k * PQ] = v;
      }
    }
  }
}
