// Public API of l2rw-gpu.
export { Gpu, adapterName, type AdapterSummary, type GpuCounters, type GpuOptions } from './gpu/gpu';
export { GpuLimitError, GpuLostError, GpuUnavailableError, ShaderCompileError } from './gpu/errors';
export { INPUT, numClasses, paramCount, resolveModel, type GraphNode, type ModelSpec, type ResolvedModel, type Shape } from './train/spec';
export { GraphBuilder, MODELS, MODEL_NAMES, buildModel, lenetSpec, mlpSpec, parseModel, type ModelName } from './train/models';
export { registerOp, type OpDef } from './train/ops/op';
export { METHODS, METHOD_DECLS, methodDecl, parseMethod, type Method, type MethodDecl, type PhaseDecl } from './train/methods';
export { Trainer, TrainingDivergedError, type BatchInspection, type PendingStats, type StepGroup, type TrainConfig, type TrainData } from './train/trainer';
export type { HostDataset } from './train/dataset';
export type { StepStatsSnapshot } from './train/stats_reader';
export { GpuModel } from './train/model';
