// What a method made of each training example over a run: for every example of the step's minibatch
// (indices[offset + i], weight w[i]), adds to tally[3 * example] its weight, one draw, and one zero
// draw when the weight is exactly 0. A minibatch may hold an example twice (resampling, an epoch
// boundary): the invocation of its first occurrence adds every occurrence, so no two invocations
// write the same entry and no atomics are needed (O(n²) comparisons over a batch, a few thousand).
struct Params {
  n: u32,
  offset: u32,
}

@group(0) @binding(0) var<storage, read> indices: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> tally: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid, WG);
  if (i >= params.n) {
    return;
  }
  let example = indices[params.offset + i];
  for (var j = 0u; j < i; j++) {
    if (indices[params.offset + j] == example) {
      return;
    }
  }
  var sum = 0.0;
  var draws = 0.0;
  var zeros = 0.0;
  for (var j = i; j < params.n; j++) {
    if (indices[params.offset + j] == example) {
      sum += w[j];
      draws += 1.0;
      zeros += select(0.0, 1.0, w[j] == 0.0);
    }
  }
  let at = 3u * example;
  tally[at] += sum;
  tally[at + 1u] += draws;
  tally[at + 2u] += zeros;
}
