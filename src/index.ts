// Public API of l2rw-gpu: the entry point of the npm package (built by vite.lib.config.ts to
// dist/lib/index.js, declarations by tsconfig.build.json to dist/types/). Everything here is
// browser-safe: Node's built-ins and the `webgpu` package (Dawn) are only imported lazily, on paths
// that only Node takes (Gpu.create without navigator.gpu, the file readers of the data sets). Modules
// that import node:* statically (checkpoint files, the experiment runner and sweeps, the CLI) stay
// out of it; test/package/pack.test.ts checks that the built entry has no static node:* import.
// The declarations use WebGPU's global types (GPUDevice, GPUBuffer...): this keeps them visible to
// every program that imports the package.
/// <reference types="@webgpu/types" preserve="true" />

// The GPU runtime.
export { Gpu, adapterName, type AdapterSummary, type GpuCounters, type GpuOptions } from './gpu/gpu';
export { GpuLimitError, GpuLostError, GpuUnavailableError, ShaderCompileError } from './gpu/errors';

// Models: graphs, builders and the registry.
export { INPUT, numClasses, paramCount, resolveModel, type GraphNode, type ModelSpec, type ResolvedModel, type Shape } from './train/spec';
export {
  GraphBuilder,
  MODELS,
  MODEL_NAMES,
  buildModel,
  lenetSpec,
  mlpSpec,
  parseModel,
  resnetSpec,
  type LenetVariant,
  type ModelEntry,
  type ModelName,
  type ModelOptions,
  type ResnetOptions,
  type Shortcut,
} from './train/models';
export { registerOp, type OpDef } from './train/ops/op';

// Methods and the trainer.
export { METHODS, METHOD_DECLS, methodDecl, parseMethod, type Method, type MethodDecl, type PhaseDecl } from './train/methods';
export {
  Trainer,
  TrainingDivergedError,
  type BatchInspection,
  type PendingStats,
  type StepGroup,
  type TrainConfig,
  type TrainData,
  type TrainerState,
  type TrainerStateInfo,
} from './train/trainer';
export type { HostDataset } from './train/dataset';
export type { StepStatsSnapshot } from './train/stats_reader';
export { GpuModel } from './train/model';
export { SafetensorsError, decodeSafetensors, encodeSafetensors, type Dtype, type SafeTensor, type SafetensorsFile } from './train/safetensors';

// Saved models (train --save-model) and predictions (l2rw predict), and the per-example weights of a
// run (TrainConfig.tallyWeights, Trainer.weightTally; train --weights-out).
export {
  MODEL_FORMAT,
  ModelFileError,
  Predictor,
  decodeModelFile,
  encodeModelFile,
  readModelFile,
  trainedModel,
  writeModelFile,
  type ModelDescription,
  type ModelFile,
  type ModelInput,
  type Predictions,
} from './train/model_file';
export type { WeightTallyCounts } from './train/trainer';
export { AUTO_MODEL, autoModelName, type ModelChoice } from './train/models';
export { exampleWeights, exampleWeightsCsv, type ExampleWeight } from './experiments/weights';

// Data: the IDX (MNIST, Fashion-MNIST) and CIFAR readers, loadDataset, the task generators
// (imbalanceTask, noiseTask, longtailTask) and taskTrainData (a task as trainer input); own data:
// loadImageFolder (folder:DIR), loadNpyDataset and parseNpy (npy:DIR), givenTask.
export * from './data/index';

export { Rng } from './util/rng';
