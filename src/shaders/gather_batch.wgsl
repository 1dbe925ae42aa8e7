// Copies the minibatch examples[indices[offset + i]] (or examples[offset + i] when SEQUENTIAL) out of a
// dataset resident on the GPU into the batch's float input and label buffers. Datasets are stored as
// bytes packed four to a u32 (pixels scaled by 1/255 here, so 60,000 MNIST images fit one binding)
// or as raw f32 bits; each example starts on a u32 boundary (words_per_example words).
struct Params {
  n: u32,
  dim: u32,
  offset: u32,
  words_per_example: u32,
}

@group(0) @binding(0) var<storage, read> examples: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;
@group(0) @binding(5) var<uniform> params: Params;

override WG: u32 = 256;
override U8: bool = true;
override SEQUENTIAL: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = linear_index(wid, nwg, lid, WG);
  if (t >= params.n * params.dim) {
    return;
  }
  let i = t / params.dim;
  let d = t % params.dim;
  var src = params.offset + i;
  if (!SEQUENTIAL) {
    src = indices[src];
  }
  let base = src * params.words_per_example;
  if (U8) {
    let word = examples[base + d / 4u];
    x[t] = f32((word >> (8u * (d % 4u))) & 0xffu) * (1.0 / 255.0);
  } else {
    x[t] = bitcast<f32>(examples[base + d]);
  }
  if (d == 0u) {
    y[i] = labels[src];
  }
}
