// Comparison of GPU float32 results with float64 references, in the llm.c style:
// |actual - expected| <= atol + rtol * |expected| elementwise, reporting the worst element.
import { expect } from 'vitest';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface CloseReport {
  maxAbs: number;
  maxRel: number;
  worst: number;
}

export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CloseReport & { ok: boolean; message: string } {
  if (actual.length !== expected.length) {
    return { ok: false, maxAbs: Infinity, maxRel: Infinity, worst: -1, message: `length ${actual.length} != ${expected.length}` };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!Number.isFinite(a) && Number.isFinite(e)) {
      return { ok: false, maxAbs: Infinity, maxRel: Infinity, worst: i, message: `non-finite at ${i}: got ${a}, expected ${e}` };
    }
    maxAbs = Math.max(maxAbs, d);
    if (e !== 0) maxRel = Math.max(maxRel, d / Math.abs(e));
    const excess = d - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  const ok = worst < 0;
  const message = ok
    ? `ok (max abs ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)})`
    : `element ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
      `(|diff| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)} > ${tol.atol} + ${tol.rtol}*|expected|); ` +
      `max abs ${maxAbs.toExponential(2)}`;
  return { ok, maxAbs, maxRel, worst, message };
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = ''): CloseReport {
  const r = compareClose(actual, expected, tol);
  expect(r.ok, `${label}: ${r.message}`).toBe(true);
  return r;
}
