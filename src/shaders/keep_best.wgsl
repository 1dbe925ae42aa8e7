// Early stopping on the GPU, without a readback: after an evaluation has left score = [errors, loss]
// of the current model, STAGE 0 copies `current` into `best` where that score beats best_score
// (fewer errors; on equal errors a lower loss; ties keep the earlier model), and STAGE 1 (dispatched
// after every copy of the same evaluation) records the better score. The copy runs once per tensor
// buffer (parameters, model state) before the single STAGE 1 dispatch.
struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> score: array<f32>;
@group(0) @binding(1) var<storage, read_write> best_score: array<f32>;
@group(0) @binding(2) var<storage, read> current: array<f32>;
@group(0) @binding(3) var<storage, read_write> best: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WG: u32 = 256;
override STAGE: u32 = 0u;

fn better() -> bool {
  return score[0] < best_score[0] || (score[0] == best_score[0] && score[1] < best_score[1]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = linear_index(wid, nwg, lid, WG);
  if (!better()) {
    return;
  }
  if (STAGE == 1u) {
    if (first == 0u) {
      best_score[0] = score[0];
      best_score[1] = score[1];
    }
    return;
  }
  for (var i = first; i < params.n; i += launch_size(nwg, WG)) {
    best[i] = current[i];
  }
}
