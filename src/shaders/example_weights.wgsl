// Per-example weights of one minibatch, for every method, in one workgroup:
//   w̃_i = a rule-specific non-negative score, then w = w̃ / (Σ w̃ + δ(Σ w̃)), δ(x) = 1 iff x = 0,
// so weights sum to 1, or are all exactly 0 when no example earns weight (Algorithm 1, step 11).
// The RULE_* constants are generated from WEIGHT_RULES in src/kernels/example_weights.ts and appended.
// uniform:     w̃ = 1.
// l2rw:        w̃ = max(−∂L_val/∂ε_i, 0) = max(α s_i, 0), s_i = <∇f_i, ∇L_val>, α = `scale`
//                       (the lookahead step size; α > 0 cancels in the normalisation).
// proportion:  w̃ = class_weight[y_i] (inverse class frequency of the training set).
// hardmining:  w̃ = 1 for the `k` highest-loss examples of the batch (ties: lower index first), else 0.
// random:      w̃ = max(z_i, 0), z_i ~ N(0, 1) from a counter-based hash of (seed, step, i).
struct Params {
  n: u32,
  k: u32,
  seed: u32,
  step: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> score: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> class_weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override RULE: u32 = RULE_UNIFORM;
const WG: u32 = 256u;

var<workgroup> partial: array<f32, WG>;

fn unit_float(h: u32) -> f32 {
  // 24 random bits to (0, 1]: never 0, so log() below is finite.
  return (f32(h >> 8u) + 1.0) * (1.0 / 16777216.0);
}

fn raw_weight(i: u32) -> f32 {
  switch RULE {
    case RULE_L2RW: {
      return max(params.scale * score[i], 0.0);
    }
    case RULE_PROPORTION: {
      return class_weight[labels[i]];
    }
    case RULE_HARDMINING: {
      let li = score[i];
      var rank = 0u;
      for (var j = 0u; j < params.n; j++) {
        let lj = score[j];
        if (lj > li || (lj == li && j < i)) {
          rank++;
        }
      }
      return select(0.0, 1.0, rank < params.k);
    }
    case RULE_RANDOM: {
      let h1 = pcg(pcg(pcg(params.seed) ^ params.step) ^ (2u * i));
      let h2 = pcg(h1 ^ 0x9e3779b9u);
      let z = sqrt(-2.0 * log(unit_float(h1))) * cos(6.2831853 * unit_float(h2));
      return max(z, 0.0);
    }
    default: {
      return 1.0;
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < params.n; i += WG) {
    let v = raw_weight(i);
    w[i] = v;
    sum += v;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  let denom = total + select(0.0, 1.0, total == 0.0);
  for (var i = lid; i < params.n; i += WG) {
    w[i] = w[i] / denom;
  }
}
