// Shared helpers, prepended once to every kernel by src/kernels/kernel.ts (loadKernel).
// Keep it small: it is compiled into every pipeline.

fn ceil_div(a: u32, b: u32) -> u32 {
  return (a + b - 1u) / b;
}

// Linear invocation index of a 1-D launch whose workgroups are folded over x and y when there are more
// than maxComputeWorkgroupsPerDimension of them (see workgroups1d in src/kernels/kernel.ts).
fn linear_index(wid: vec3u, nwg: vec3u, lid: u32, wg_size: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * wg_size + lid;
}

// Invocations in the whole launch: the stride of a grid-stride loop over a launch capped by
// workgroupsCapped (src/kernels/kernel.ts). Fewer, longer-lived workgroups pay off on CPU drivers,
// where every workgroup has a fixed cost of several microseconds.
fn launch_size(nwg: vec3u, wg_size: u32) -> u32 {
  return nwg.x * nwg.y * wg_size;
}

// A 32-bit hash (PCG's output permutation of one LCG step): counter-based random numbers, so a kernel
// draws the same values for the same (seed, step, index) on every device and in any order. The host
// twin is pcgHash in src/util/rng.ts.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Scratch for workgroup_sum. A module-scope workgroup variable is allocated only for the entry points
// that use it, so kernels that never reduce pay nothing for it.
var<workgroup> reduce_scratch: array<f32, 256>;

// Sum of `v` over the `wg_size` invocations of this workgroup (a power of two, at most 256), returned
// to every invocation: a tree reduction, so the rounding error grows with log2(wg_size), not wg_size.
// Call it from workgroup-uniform control flow (it contains barriers).
fn workgroup_sum(lid: u32, v: f32, wg_size: u32) -> f32 {
  reduce_scratch[lid] = v;
  workgroupBarrier();
  for (var stride = wg_size / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      reduce_scratch[lid] += reduce_scratch[lid + stride];
    }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  // A second call must not overwrite slot 0 before every invocation has read it.
  workgroupBarrier();
  return total;
}
