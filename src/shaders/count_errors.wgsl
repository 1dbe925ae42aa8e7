// Evaluation: for n rows of logits, adds the number of wrong argmax predictions to out[0] and the sum
// of cross-entropy losses to out[1]. One workgroup, so consecutive chunks can accumulate into the
// same `out` without atomics (dispatches in a pass run in order).
struct Params {
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 256u;
var<workgroup> red: array<vec2f, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2f(0.0);
  for (var i = lid; i < params.n; i += WG) {
    let row = i * params.k;
    var best = 0u;
    var mx = logits[row];
    for (var c = 1u; c < params.k; c++) {
      let v = logits[row + c];
      if (v > mx) {
        mx = v;
        best = c;
      }
    }
    var z = 0.0;
    for (var c = 0u; c < params.k; c++) {
      z += exp(logits[row + c] - mx);
    }
    let y = labels[i];
    let ly = select(mx, logits[row + min(y, params.k - 1u)], y < params.k);
    acc += vec2f(select(1.0, 0.0, best == y), log(z) + mx - ly);
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      red[lid] += red[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[0] += red[0].x;
    out[1] += red[0].y;
  }
}
