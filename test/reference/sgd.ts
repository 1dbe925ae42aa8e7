// float64 reference of one SGD-with-momentum step in the PyTorch convention (torch.optim.SGD,
// dampening 0, no Nesterov): d = g + wd * p;  v = mu * v + d;  p = p - lr * v.  Updates p and v in place.
export interface SgdRefHyperparams {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export function sgdMomentumRef(p: Float64Array, v: Float64Array, g: ArrayLike<number>, hp: SgdRefHyperparams): void {
  for (let i = 0; i < p.length; i++) {
    v[i] = hp.momentum * v[i] + (g[i] + hp.weightDecay * p[i]);
    p[i] -= hp.lr * v[i];
  }
}
