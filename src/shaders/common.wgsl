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
