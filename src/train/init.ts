// Seeded, deterministic initialisation: He-normal weights (std sqrt(2 / fan_in)) for layers followed by
// a ReLU, LeCun-normal (std sqrt(1 / fan_in)) otherwise; zero biases.
import { Rng } from '../util/rng';
import type { ParamLayout } from './param_layout';

export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const rng = new Rng(seed);
  const dense = new Float32Array(layout.denseSize);
  for (const { layer, weight } of layout.paramLayers) {
    const fanIn = weight.size / weight.shape[0];
    const relu = layer.spec.kind !== 'maxpool2' && layer.spec.relu;
    const std = Math.sqrt((relu ? 2 : 1) / fanIn);
    for (let i = 0; i < weight.size; i++) dense[weight.denseOffset + i] = rng.normal() * std;
  }
  return dense;
}
