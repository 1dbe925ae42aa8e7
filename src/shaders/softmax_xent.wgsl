// Per-example softmax cross-entropy and its weighted gradient, one invocation per row (k is a number
// of classes, so a row is short):
//   loss[i]       = -log softmax(z_i)[y_i]                      (unweighted)
//   dlogits[i, j] = ex_weight[i] * (softmax(z_i)_j - [j == y_i])
// Stable for any logit magnitude: with m = max_j z_j (first at column a) and r = Σ_{j≠a} exp(z_j - m),
// the softmax denominator is 1 + r, loss = (m - z_y) + log1p(r) (two non-negative terms), and when
// y = a the gradient's 1 - p_y is formed as r / (1 + r), so confidently right rows keep their tiny
// loss and gradient instead of rounding them to 0.
// BOOTSTRAP (Reed et al., 2015, the paper's noisy-label baseline) replaces the target by a mix of the
// label and the model's own prediction q = softmax(z), with weight beta on the label:
//   1 soft: loss = beta·CE(q, y) + (1 − beta)·H(q)        (H the entropy; the gradient flows through q)
//           dloss/dz_j = beta·(q_j − [j == y]) − (1 − beta)·q_j·(log q_j + H)
//   2 hard: loss = −beta·log q_y − (1 − beta)·log q_a    (a = argmax z, no gradient through the argmax)
//           dloss/dz_j = q_j − beta·[j == y] − (1 − beta)·[j == a]
// A label y_i >= k (a corrupted label buffer) is never used as an index: that row's loss and all of
// its dlogits become NaN, so the engine's NaN check stops the run instead of training on garbage
// (a NaN gradient is not hidden by a zero example weight, since 0 * NaN = NaN).
struct Params {
  n: u32,
  k: u32,
  beta: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> ex_weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

override WG: u32 = 64;
override BOOTSTRAP: u32 = 0u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= params.n) {
    return;
  }
  let k = params.k;
  let base = i * k;
  let y = labels[i];
  if (y >= k) {
    // Built from a runtime value: a NaN constant expression is a compile error in WGSL.
    let nan = bitcast<f32>(0x7fc00000u | (y & 0u));
    loss[i] = nan;
    for (var j = 0u; j < k; j++) {
      dlogits[base + j] = nan;
    }
    return;
  }
  var m = logits[base];
  var a = 0u;
  for (var j = 1u; j < k; j++) {
    let z = logits[base + j];
    if (z > m) {
      m = z;
      a = j;
    }
  }
  var r = 0.0;
  for (var j = 0u; j < k; j++) {
    if (j != a) {
      r += exp(logits[base + j] - m);
    }
  }
  let z_y = logits[base + y];
  let log_s = log1p_small_safe(r);
  let ce = (m - z_y) + log_s;
  let w = ex_weight[i];
  if (BOOTSTRAP != 0u) {
    let beta = params.beta;
    let inv_s = 1.0 / (1.0 + r);
    // log q_j = z_j − m − log_s; H = −Σ q_j log q_j.
    var h = 0.0;
    if (BOOTSTRAP == 1u) {
      for (var j = 0u; j < k; j++) {
        let lq = logits[base + j] - m - log_s;
        h -= exp(lq) * lq;
      }
      loss[i] = beta * ce + (1.0 - beta) * h;
    } else {
      // −log q_a = log_s (the maximum's log-probability is −log(1 + r)).
      loss[i] = beta * ce + (1.0 - beta) * log_s;
    }
    for (var j = 0u; j < k; j++) {
      let lq = logits[base + j] - m - log_s;
      let q = exp(logits[base + j] - m) * inv_s;
      var d = 0.0;
      if (BOOTSTRAP == 1u) {
        d = beta * (q - select(0.0, 1.0, j == y)) - (1.0 - beta) * q * (lq + h);
      } else {
        d = q - beta * select(0.0, 1.0, j == y) - (1.0 - beta) * select(0.0, 1.0, j == a);
      }
      dlogits[base + j] = w * d;
    }
    return;
  }
  loss[i] = ce;
  let w_over_s = w / (1.0 + r);
  for (var j = 0u; j < k; j++) {
    var d = w_over_s * exp(logits[base + j] - m);
    if (j == y) {
      if (y == a) {
        d = -w_over_s * r;
      } else {
        d -= w;
      }
    }
    dlogits[base + j] = d;
  }
}

// log(1 + x) for x >= 0, keeping full relative precision for small x, where 1 + x would round away
// most of x (a short series there; its truncation error is below x^5 / 5).
fn log1p_small_safe(x: f32) -> f32 {
  if (x < 1e-2) {
    return x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x)));
  }
  return log(1.0 + x);
}
