// Every pipeline a trainer records, compiled up front (asynchronously, in parallel) so that no
// compilation ever happens inside a step. One instance per (device, model, weight rule).
import type { Gpu } from '../gpu/gpu';
import { ColumnSums } from '../kernels/column_sums';
import { Conv2dBackwardData } from '../kernels/conv2d_backward_data';
import { Conv2dBackwardFilter } from '../kernels/conv2d_backward_filter';
import { Conv2dBiasGrad } from '../kernels/conv2d_bias_grad';
import { Conv2dForward } from '../kernels/conv2d_forward';
import { CountErrors } from '../kernels/count_errors';
import { ExampleWeights, type WeightRule } from '../kernels/example_weights';
import { GatherBatch } from '../kernels/gather_batch';
import { Matmul } from '../kernels/matmul';
import { MaxPoolBackward } from '../kernels/maxpool_backward';
import { MaxPoolForward } from '../kernels/maxpool_forward';
import { ReluBackward } from '../kernels/relu_backward';
import { RowDots } from '../kernels/row_dots';
import { SgdMomentum } from '../kernels/sgd_momentum';
import { SoftmaxXent } from '../kernels/softmax_xent';
import { StepStats } from '../kernels/step_stats';
import type { ModelSpec } from './spec';

/** Awaits every promise of a record in parallel, keeping the names. */
async function awaitAll<T extends Record<string, Promise<unknown>>>(r: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const entries = await Promise.all(Object.entries(r).map(async ([name, p]) => [name, await p] as const));
  return Object.fromEntries(entries) as { [K in keyof T]: Awaited<T[K]> };
}

function programs(gpu: Gpu, spec: ModelSpec, rule: WeightRule) {
  const hasConv = spec.layers.some((l) => l.kind === 'conv');
  const hasPool = spec.layers.some((l) => l.kind === 'maxpool2');
  // Programs a model does not use are not compiled (null), so an MLP pays nothing for convolutions.
  const when = <T>(need: boolean, make: () => Promise<T>): Promise<T> => (need ? make() : Promise.resolve(null as T));
  return {
    // dense layers: y = x·Wᵀ + b with W stored [out, in]; alignment tangents run the same program with G as W.
    denseForward: Matmul.create(gpu, { transB: true, epilogue: 'bias' }),
    denseForwardRelu: Matmul.create(gpu, { transB: true, epilogue: 'bias_relu' }),
    denseBackwardData: Matmul.create(gpu, {}),
    gram: Matmul.create(gpu, { transB: true }),
    denseWeightGrad: Matmul.create(gpu, { transA: true }),
    denseWeightGradWeighted: Matmul.create(gpu, { transA: true, kScale: true }),
    columnSums: ColumnSums.create(gpu, {}),
    columnSumsWeighted: ColumnSums.create(gpu, { rowWeights: true }),
    // convolutions and pooling
    convForward: when(hasConv, () => Conv2dForward.create(gpu, { epilogue: 'bias' })),
    convForwardRelu: when(hasConv, () => Conv2dForward.create(gpu, { epilogue: 'bias_relu' })),
    convBackwardData: when(hasConv, () => Conv2dBackwardData.create(gpu)),
    convFilterGrad: when(hasConv, () => Conv2dBackwardFilter.create(gpu, {})),
    convFilterGradWeighted: when(hasConv, () => Conv2dBackwardFilter.create(gpu, { exWeights: true })),
    convBiasGrad: when(hasConv, () => Conv2dBiasGrad.create(gpu, {})),
    convBiasGradWeighted: when(hasConv, () => Conv2dBiasGrad.create(gpu, { exWeights: true })),
    poolForward: when(hasPool, () => MaxPoolForward.create(gpu)),
    poolBackward: when(hasPool, () => MaxPoolBackward.create(gpu)),
    reluBackward: ReluBackward.create(gpu),
    // loss, alignments, weights, optimiser, data, statistics
    xent: SoftmaxXent.create(gpu),
    rowDots: RowDots.create(gpu, {}),
    rowDotsAccumulate: RowDots.create(gpu, { accumulate: true }),
    weights: ExampleWeights.create(gpu, rule),
    sgd: SgdMomentum.create(gpu),
    gatherU8: GatherBatch.create(gpu, { format: 'u8' }),
    gatherF32: GatherBatch.create(gpu, { format: 'f32' }),
    gatherSequentialU8: GatherBatch.create(gpu, { format: 'u8', sequential: true }),
    gatherSequentialF32: GatherBatch.create(gpu, { format: 'f32', sequential: true }),
    stats: StepStats.create(gpu),
    countErrors: CountErrors.create(gpu),
  };
}

export type ModelKernels = Awaited<ReturnType<typeof loadModelKernels>>;

export async function loadModelKernels(gpu: Gpu, spec: ModelSpec, rule: WeightRule) {
  const k = await awaitAll(programs(gpu, spec, rule));
  return {
    ...k,
    gather: (format: 'u8' | 'f32'): GatherBatch => (format === 'u8' ? k.gatherU8 : k.gatherF32),
    gatherSequential: (format: 'u8' | 'f32'): GatherBatch => (format === 'u8' ? k.gatherSequentialU8 : k.gatherSequentialF32),
  };
}
