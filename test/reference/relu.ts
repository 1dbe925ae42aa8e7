// float64 reference for the ReLU gradient from the ReLU output y: dx = dy where y > 0, else 0.

export function reluRef(z: ArrayLike<number>): Float64Array {
  return Float64Array.from(z as ArrayLike<number>, (v) => Math.max(0, v));
}

export function reluBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
  return dx;
}
