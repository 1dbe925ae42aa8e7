// Small models shared by the reference, engine and browser tests.
import { mlpSpec, type ModelSpec } from '../../src/train/spec';

export const tinyMlp = mlpSpec(5, [7, 3], 3);

/** Padding, pooling, a strided convolution and dense layers in one small model. */
export const tinyConv: ModelSpec = {
  name: 'tiny-conv',
  input: [2, 9, 8],
  layers: [
    { kind: 'conv', outChannels: 4, kernel: 3, stride: 1, pad: 1, relu: true },
    { kind: 'maxpool2' },
    { kind: 'conv', outChannels: 3, kernel: 3, stride: 2, relu: false },
    { kind: 'dense', out: 5, relu: true },
    { kind: 'dense', out: 3, relu: false },
  ],
};
