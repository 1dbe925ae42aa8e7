// Seeded, deterministic initialisation from the ops' declarations: 'fan_in' tensors are normal with std
// sqrt(gain / fan_in), gain 2 (He) when a ReLU reads the node's output and 1 (LeCun) otherwise; 'zeros'
// and 'ones' are constants. Random draws happen in θ order, 'fan_in' tensors only.
import { Rng } from '../util/rng';
import type { ParamLayout } from './param_layout';

export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const rng = new Rng(seed);
  const dense = new Float32Array(layout.denseSize);
  for (const node of layout.model.nodes) {
    const feedsRelu = node.consumers.some((id) => layout.model.node(id).op.name === 'relu');
    for (const p of node.params) {
      const slot = layout.slots(node.id)[p.name];
      if (p.init === 'ones') dense.fill(1, slot.denseOffset, slot.denseOffset + slot.size);
      if (p.init !== 'fan_in') continue;
      const std = Math.sqrt((feedsRelu ? 2 : 1) / (p.size / p.shape[0]));
      for (let i = 0; i < p.size; i++) dense[slot.denseOffset + i] = rng.normal() * std;
    }
  }
  return dense;
}

/** Initial model state ('zeros' / 'ones' per declaration), dense in node order. */
export function initState(layout: ParamLayout): Float32Array {
  const dense = new Float32Array(layout.state.denseSize);
  for (const node of layout.model.nodes) {
    for (const s of node.state) {
      const slot = layout.state.slots(node.id)[s.name];
      if (s.init === 'ones') dense.fill(1, slot.denseOffset, slot.denseOffset + slot.size);
    }
  }
  return dense;
}
