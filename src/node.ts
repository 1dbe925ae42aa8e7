// The Node-only part of l2rw-gpu's public API (`import ... from 'l2rw-gpu/node'`): what writes and
// reads files — whole experiment runs with checkpoints and resume, sweeps of the paper's presets,
// their results on disk, and the time estimate of a sweep. Built by vite.lib.config.ts to
// dist/lib/node.js beside the browser-safe main entry (src/index.ts), which it does not repeat.

// One run: a config (task, method, model, optimiser) trained with evaluations, checkpoints
// (hooks.checkpoint: every N steps and on stop; resume), divergence guards; a result record.
export {
  DEFAULT_CONFIG,
  TRAIN_DEFAULTS,
  UsageError,
  validateConfig,
  type RunConfig,
} from './experiments/config';
export { loadData, buildTask } from './experiments/data';
export {
  runExperiment,
  checkRunFits,
  type CurvePoint,
  type RunCheckpoints,
  type RunHooks,
  type RunResult,
  type RunStatus,
} from './experiments/run';
export { writeRunFiles } from './experiments/report';

// Checkpoints in the safetensors layout with a whole-file SHA-256, written atomically.
export { CheckpointError, checkpointMismatch, dataFingerprint, readCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointMeta } from './train/checkpoint';
export { writeFileAtomic } from './util/atomic_file';

// Sweeps of the paper's presets (fig2, noise, clean-size, imbalance-noise), shards and their merge.
export { PRESET_DECLS, PRESETS, type PresetName, type SweepPoint } from './experiments/presets';
export { planSweep, runSweep, sweepConfigs, type SweepOutcome, type SweepPlan } from './experiments/sweep';
export { mergeSweeps, readSweepRecord, writeMerged } from './experiments/shard';
export { estimateSweep, formatEstimate, type SweepEstimate } from './experiments/estimate';
