// Public API of l2rw-gpu.
export { Gpu, adapterName, type AdapterSummary, type GpuCounters, type GpuOptions } from './gpu/gpu';
export { GpuLimitError, GpuLostError, GpuUnavailableError, ShaderCompileError } from './gpu/errors';
export { lenetSpec, mlpSpec, numClasses, paramCount, resolveModel, type LayerSpec, type ModelSpec } from './train/spec';
export { METHODS, METHOD_PLANS, parseMethod, type Method } from './train/methods';
export { Trainer, TrainingDivergedError, type BatchInspection, type PendingStats, type TrainConfig, type TrainData } from './train/trainer';
export type { HostDataset } from './train/dataset';
export type { StepStatsSnapshot } from './train/stats_reader';
export { GpuModel } from './train/model';
