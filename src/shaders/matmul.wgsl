// C[m,n] = op(A)[m,k] · diag(s) · op(B)[k,n] (+ bias[n]) (then ReLU), fp32, register-blocked.
// A is [m,k] (or [k,m] when TRANS_A); B is [k,n] (or [n,k] when TRANS_B); s is kscale, length k.
//
// Each invocation owns a TM x TN block of C and keeps it in registers; there is no workgroup memory.
// On lavapipe every storage-buffer load is expanded into a per-lane loop with its own bounds check
// (seen in the JIT output: ~10 instructions and two branches per lane and element), so the cost is
// the number of loads per multiply-add: (TM + TN) loads feed TM*TN of them. vec4-typed bindings
// did not help there (each component is still loaded lane by lane) and cost alignment rules, so
// loads are scalar. Rows and columns past the edge are clamped to the last valid one, which keeps
// the k loop free of bounds tests; only the stores are guarded.
//
// Measured on "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" through Dawn/Node (2 cores, AMD EPYC Zen 4,
// machine shared with other jobs, so CPU time of the driver threads per product is the stable
// number; GFLOP/s is 2mnk over wall time, best of 3), workgroup 8x8, no transposes unless noted:
//   block    1024^3: GFLOP/s  cpu ms | 100x256x784 tB | 256x784x100 tA | 100x784x256 | 10x256x100 tA
//   4x4 (vec4-typed loads)    9.0   315  |       -        |       -        |      -      |      -
//   4x4                       6.8   410  |   5.8  8.0ms   |   5.8  7.6ms   |  7.2  7.4ms |  4.0  0.10ms
//   4x8                       9.1   315  |   8.0  5.8     |   7.1  7.0     |  8.5  6.0   |  5.0  0.10
//   8x8                      11.4   255  |   9.3  5.2     |   8.6  5.4     | 10.8  5.2   |  3.9  0.15
//   8x8 (vec4-typed loads)    9.6   305  |       -        |       -        |      -      |      -
//   16x4                      8.7   330  |   7.0  6.8     |   8.2  6.0     |  7.2  6.6   |  3.8  0.15
//   12x8                     16.6   205  |  12.1  3.6     |  13.0  4.0     | 11.4  4.0   |  7.3  0.10
//   16x8 (kept)              14.2   195  |  11.0  3.6     |  12.5  3.6     | 13.9  3.6   |  6.3  0.10
//   16x8, 8x8 workgroup with a 16x16-element shared-memory tile per k step: 5.0 GFLOP/s, 570 cpu ms.
// Workgroup shapes 4x4, 8x4, 4x8, 16x16 with 16x8 blocks were within the noise of 8x8.
struct Params {
  m: u32,
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> kscale: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

// Invocations per workgroup; the launch is 1-D over the blocks of C (see main).
override WG: u32 = 64;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
// 0: none, 1: + bias[col], 2: + bias[col] then ReLU.
override EPILOGUE: u32 = 0u;
override K_SCALE: bool = false;

// Block of C per invocation (src/kernels/matmul.ts reads these two lines). TN is a multiple of 4.
const TM = 16u;
const TN = 8u;
const TN4 = TN / 4u;

// Blocks are numbered row-major over C and handed out in that order, so no lane idles on a skinny
// product (n = 6 columns, or m = 10 rows) as it would in a 2-D grid of invocations.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let M = params.m;
  let N = params.n;
  let K = params.k;
  let block = linear_index(wid, nwg, lid, WG);
  let blocks_n = ceil_div(N, TN);
  let row0 = (block / blocks_n) * TM;
  let col0 = (block % blocks_n) * TN;
  if (row0 >= M) {
    return;
  }

  // Element (i, kk) of op(A) is a[a_base[i] + kk * a_step]; element (kk, j) of op(B) is
  // b[b_base[j] + kk * b_step].
  let a_step = select(1u, M, TRANS_A);
  let b_step = select(N, 1u, TRANS_B);
  var a_base: array<u32, TM>;
  for (var i = 0u; i < TM; i++) {
    let r = min(row0 + i, M - 1u);
    a_base[i] = select(r * K, r, TRANS_A);
  }
  var cols: array<u32, TN>;
  var b_base: array<u32, TN>;
  for (var j = 0u; j < TN; j++) {
    cols[j] = min(col0 + j, N - 1u);
    b_base[j] = select(cols[j], cols[j] * K, TRANS_B);
  }

  var acc: array<vec4f, TM * TN4>;
  for (var i = 0u; i < TM * TN4; i++) {
    acc[i] = vec4f(0.0);
  }
  for (var kk = 0u; kk < K; kk++) {
    let ao = kk * a_step;
    let bo = kk * b_step;
    var bv: array<vec4f, TN4>;
    for (var q = 0u; q < TN4; q++) {
      let j = 4u * q;
      bv[q] = vec4f(b[b_base[j] + bo], b[b_base[j + 1u] + bo], b[b_base[j + 2u] + bo], b[b_base[j + 3u] + bo]);
    }
    if (K_SCALE) {
      let s = kscale[kk];
      for (var q = 0u; q < TN4; q++) {
        bv[q] *= s;
      }
    }
    for (var i = 0u; i < TM; i++) {
      let av = a[a_base[i] + ao];
      for (var q = 0u; q < TN4; q++) {
        acc[i * TN4 + q] += av * bv[q];
      }
    }
  }

  var bias_v: array<vec4f, TN4>;
  for (var q = 0u; q < TN4; q++) {
    bias_v[q] = vec4f(0.0);
    if (EPILOGUE >= 1u) {
      let j = 4u * q;
      bias_v[q] = vec4f(bias[cols[j]], bias[cols[j + 1u]], bias[cols[j + 2u]], bias[cols[j + 3u]]);
    }
  }
  for (var i = 0u; i < TM; i++) {
    let r = row0 + i;
    if (r < M) {
      for (var q = 0u; q < TN4; q++) {
        var v = acc[i * TN4 + q] + bias_v[q];
        if (EPILOGUE == 2u) {
          v = max(v, vec4f(0.0));
        }
        for (var e = 0u; e < 4u; e++) {
          let col = col0 + 4u * q + e;
          if (col < N) {
            c[r * N + col] = v[e];
          }
        }
      }
    }
  }
}
