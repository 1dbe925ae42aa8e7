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
// Measured on "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" through Dawn in Node, 2 cores (AMD EPYC, Zen 4),
// with other jobs on the machine: GFLOP/s = 2mnk / wall time (best of 3), and in brackets the CPU
// ms the driver's threads spent per product at 1024^3, the number that stays put under load.
// 1-D launch, 64 invocations per workgroup, no transposes unless marked:
//   block  1024^3        100x256x784 tB  256x784x100 tA  100x784x256  78400x6x25 tB  10000x16x150 tB
//   4x4     7.9 (400)     6.1             5.8             5.8          4.0            5.3
//   4x8     9.7 (310)     8.3             7.3             8.5          4.6            7.6
//   8x8    11.3 (260)     8.4             8.6             8.6          5.2            8.8
//   16x4   10.6 (290)     7.7             7.7             7.3          4.7            8.4
//   8x16    7.9 (355)     6.5             6.4             6.0          2.1            6.0
//   12x8   13.4 (225)    10.3            11.2             9.6          5.9            7.9
//   24x8   14.2 (185)    12.0            13.8            12.6          6.2           12.9
//   16x8   15.2 (190)    12.1            13.7            12.5          7.5           10.1   <- kept
// (24x8 ties with 16x8; 16x8 pads m = 100 to 112 rows rather than 120.)
// Also tried: a 2-D 8x8 grid of invocations (same speed at 1024^3, but 1.8 and 4.6 GFLOP/s on the
// two skinny products, where most lanes of a row of invocations fall past n); vec4-typed bindings
// (4x4: 9.0 (315), 8x8: 9.6 (305)); k unrolled by 2 (16x8: 8.4 (345)); and a
// workgroup-memory tile of 16 k-steps shared by 8x4 invocations of 16x8 blocks: 5.0 (570).
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
// The block is held in loop-indexed arrays, which lavapipe unrolls into registers. SwiftShader does
// not unroll the loops, so there the arrays stay in memory: this is the 'blocked' variant, and
// adapters like SwiftShader get the written-out 'scalar' variant instead (registerBlockMatmul in
// src/kernels/wgsl_template.ts), chosen per adapter by src/kernels/matmul.ts.
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
