// A model settles the form of every multi-form kernel it uses before it compiles anything else
// (CompiledModel.chooseKernelForms, from the ops' `kernelForms` declarations): a start-up measurement
// timed while other pipelines compile on a 2-core machine picks the wrong form. If an op created such a
// kernel without declaring it, the trainer would choose it later, during its other compiles: here that
// shows up as a choice made after the pre-step.
import { describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/gpu';
import { GpuModel } from '../../src/train/model';
import { lenetSpec, mlpSpec, resnetSpec } from '../../src/train/models';
import { CompiledModel } from '../../src/train/network';
import { shapeSize, type ModelSpec } from '../../src/train/spec';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';

const MODELS: [string, ModelSpec, string[]][] = [
  ['LeNet', lenetSpec(2), ['row_dots', 'matmul', 'conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_filter']],
  ['MLP', mlpSpec(784, [32], 2), ['row_dots', 'matmul']],
  ['ResNet-8', resnetSpec(8, 3, [3, 8, 8]), ['row_dots', 'conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_filter', 'matmul']],
];

describe('kernel forms are chosen before a model compiles', () => {
  for (const [name, spec, kernels] of MODELS) {
    it(`${name}: the pre-step chooses ${kernels.length} kernels' forms and the trainer chooses none after it`, async () => {
      // A fresh choice store: every choice is made (measured) in this test, none read from a cache.
      const gpu = await Gpu.create({ kernelCache: false });
      try {
        const model = GpuModel.create(gpu, spec, { seed: 1 });
        await CompiledModel.chooseKernelForms(gpu, model.layout);
        const settled = gpu.kernelChoices.choices.map((c) => c.kernel);
        expect(new Set(settled)).toEqual(new Set(kernels));
        model.destroy();
        const rng = new Rng(3);
        const d = shapeSize(spec.input);
        const split = (n: number) => ({ x: Uint8Array.from({ length: n * d }, () => rng.int(256)), y: Uint32Array.from({ length: n }, () => rng.int(2)), n, dim: d });
        const config: TrainConfig = { method: 'l2rw', steps: 1, batch: 4, lr: 0.01, momentum: 0.9, weightDecay: 0, seed: 1, logEvery: 1 };
        const t = await Trainer.create(gpu, spec, { train: split(8), clean: split(4), test: split(4) }, config);
        expect(gpu.kernelChoices.choices.map((c) => c.kernel)).toEqual(settled);
        t.destroy();
      } finally {
        gpu.device.destroy();
      }
    });
  }
});
