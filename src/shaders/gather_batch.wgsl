// Copies the minibatch examples[indices[offset + i]] (or examples[offset + i] when SEQUENTIAL) out of a
// dataset resident on the GPU into the batch's float input and label buffers. Datasets are stored as
// bytes packed four to a u32 (pixels scaled by 1/255 here, so 60,000 MNIST images fit one binding)
// or as raw f32 bits; each example starts on a u32 boundary (words_per_example words).
//
// Optional transforms of image examples [channels, height, width]:
// - AUGMENT: a random crop of the image padded with `pad` zero pixels on every side, then a random
//   horizontal flip: output (r, col) reads source (r + oy, w − 1 − col + ox) when flipped, (r + oy,
//   col + ox) otherwise, zero outside, with oy, ox uniform in [−pad, pad] and the flip a fair coin,
//   drawn per example from pcg(pcg(pcg(seed) ^ step) ^ i) (bits 0-7 % span, 8-15 % span, bit 16).
//   The host twin is augmentSource in src/kernels/gather_batch.ts.
// - NORMALIZE: (x − mean[c]) · inv_std[c] per channel, norm = [mean_0..C−1, inv_std_0..C−1] (padding
//   pixels are zeros before it, as when an image library pads the image).
struct Params {
  n: u32,
  dim: u32,
  offset: u32,
  words_per_example: u32,
  channels: u32,
  height: u32,
  width: u32,
  pad: u32,
  seed: u32,
  step: u32,
}

@group(0) @binding(0) var<storage, read> examples: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
// Read only when NORMALIZE.
@group(0) @binding(3) var<storage, read> norm: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<u32>;
@group(0) @binding(6) var<uniform> params: Params;

override WG: u32 = 256;
override U8: bool = true;
override SEQUENTIAL: bool = false;
override AUGMENT: bool = false;
override NORMALIZE: bool = false;

fn load(base: u32, d: u32) -> f32 {
  if (U8) {
    let word = examples[base + d / 4u];
    return f32((word >> (8u * (d % 4u))) & 0xffu) * (1.0 / 255.0);
  }
  return bitcast<f32>(examples[base + d]);
}

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
  let plane = params.height * params.width;
  var v = 0.0;
  if (AUGMENT) {
    let c = d / plane;
    let r = (d % plane) / params.width;
    let col = (d % plane) % params.width;
    let h = pcg(pcg(pcg(params.seed) ^ params.step) ^ i);
    let span = 2u * params.pad + 1u;
    let sr = i32(r) + i32(h & 0xffu) % i32(span) - i32(params.pad);
    var sc = i32(col);
    if (((h >> 16u) & 1u) == 1u) {
      sc = i32(params.width) - 1 - sc;
    }
    sc += i32((h >> 8u) & 0xffu) % i32(span) - i32(params.pad);
    if (sr >= 0 && sr < i32(params.height) && sc >= 0 && sc < i32(params.width)) {
      v = load(base, c * plane + u32(sr) * params.width + u32(sc));
    }
  } else {
    v = load(base, d);
  }
  if (NORMALIZE) {
    let c = d / plane;
    v = (v - norm[c]) * norm[params.channels + c];
  }
  x[t] = v;
  if (d == 0u) {
    y[i] = labels[src];
  }
}
