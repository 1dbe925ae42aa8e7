// Accumulates one step's statistics on the GPU, so they can be read back every K steps instead of
// every step. stats (f32): [0] Σ mean training loss, [1] Σ mean validation loss, [2] Σ weighted
// training loss Σ_i w_i f_i, [3] Σ count of zero weights, [4] max weight, [5] steps, [6] non-finite
// losses or weights seen, [7] Σ weight on flagged examples (e.g. known-mislabelled ones), [8] the
// first step of the window with a non-finite value (1-based, 0: none), [9] what was non-finite at that
// step (bits: 1 training loss, 2 example weight, 4 validation loss).
struct Params {
  n: u32,
  m: u32,
}

@group(0) @binding(0) var<storage, read> train_loss: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> val_loss: array<f32>;
@group(0) @binding(3) var<storage, read> flag: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

const WG: u32 = 256u;
var<workgroup> red: array<vec4f, WG>;
var<workgroup> red2: array<vec4f, WG>;
var<workgroup> red3: array<vec4f, WG>;

fn finite(v: f32) -> bool {
  // Exponent bits all ones means inf or NaN (compilers may fold away `v != v`, never bit tests).
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  // a = (Σ f, Σ w f, zero count, max w); b = (Σ val f, non-finite count, Σ flagged w, 0)
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  // c = (non-finite training losses, non-finite weights, non-finite validation losses, 0)
  var c = vec4f(0.0);
  for (var i = lid; i < params.n; i += WG) {
    let f = train_loss[i];
    let wi = w[i];
    if (!finite(f) || !finite(wi)) {
      b.y += 1.0;
      c += vec4f(select(0.0, 1.0, !finite(f)), select(0.0, 1.0, !finite(wi)), 0.0, 0.0);
      continue;
    }
    a += vec4f(f, wi * f, select(0.0, 1.0, wi == 0.0), 0.0);
    a.w = max(a.w, wi);
    b.z += select(0.0, wi, flag[i] > 0.0);
  }
  for (var j = lid; j < params.m; j += WG) {
    let f = val_loss[j];
    if (finite(f)) {
      b.x += f;
    } else {
      b.y += 1.0;
      c.z += 1.0;
    }
  }
  red[lid] = a;
  red2[lid] = b;
  red3[lid] = c;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      let o = red[lid + stride];
      let s = red[lid];
      red[lid] = vec4f(s.xyz + o.xyz, max(s.w, o.w));
      red2[lid] += red2[lid + stride];
      red3[lid] += red3[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = red[0];
    let r2 = red2[0];
    stats[0] += r.x / f32(max(params.n, 1u));
    stats[1] += select(0.0, r2.x / f32(max(params.m, 1u)), params.m > 0u);
    stats[2] += r.y;
    stats[3] += r.z;
    stats[4] = max(stats[4], r.w);
    stats[5] += 1.0;
    stats[6] += r2.y;
    stats[7] += r2.z;
    let r3 = red3[0];
    if (r2.y > 0.0 && stats[8] == 0.0) {
      stats[8] = stats[5];
      stats[9] = select(0.0, 1.0, r3.x > 0.0) + select(0.0, 2.0, r3.y > 0.0) + select(0.0, 4.0, r3.z > 0.0);
    }
  }
}
