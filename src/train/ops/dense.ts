// dense: y = W a + b per example, W [units, D] row-major, on a vector input [D] (flatten images first).
// Batched, every pass is a matmul over the [n, D] activations: forward y = a·Wᵀ (+ b, ReLU fused),
// input signal da = dy·W, weight gradient dW = dyᵀ·diag(w)·a, bias gradient db = Σ_i w_i dy_i, tangent
// dy = a·G_Wᵀ + G_b + da·Wᵀ.
import { ColumnSums } from '../../kernels/column_sums';
import { Elementwise } from '../../kernels/elementwise';
import { Matmul, MATMUL_FORMS } from '../../kernels/matmul';
import { RowDots, ROW_DOTS_FORMS } from '../../kernels/row_dots';
import { intAttr, noAttrs, type OpDef } from './op';

type DenseAttrs = { units: number };

/** The Gram form of the alignment costs m·(in + out) per example, the tangent form in·out. */
export function useGramForm(fanIn: number, fanOut: number, m: number): boolean {
  return m * (fanIn + fanOut + 1) < fanIn * fanOut;
}

export const dense: OpDef<DenseAttrs> = {
  name: 'dense',
  arity: 1,
  couplesExamples: false,
  fusesRelu: true,
  kernelForms: [MATMUL_FORMS, ROW_DOTS_FORMS],
  checkAttrs(raw, where) {
    noAttrs(raw, where, ['units']);
    return { units: intAttr(raw, 'units', where) };
  },
  outShape([x], a, where) {
    if (x.length !== 1) throw new Error(`${where}: dense takes a vector [D], got [${x}]; add a flatten node before it`);
    return [a.units];
  },
  params([x], a) {
    return [
      { name: 'weight', shape: [a.units, x[0]], init: 'fan_in', decay: true },
      { name: 'bias', shape: [a.units], init: 'zeros', decay: true },
    ];
  },
  async load(gpu, node) {
    const fanIn = node.inShapes[0][0];
    const units = node.attrs.units;
    const [forward, linear, backwardData, weightGrad, weightGradWeighted, biasGrad, biasGradWeighted, accumulate, gram, rowDots, rowDotsAcc] = await Promise.all([
      Matmul.create(gpu, { transB: true, epilogue: node.fusedRelu ? 'bias_relu' : 'bias' }),
      Matmul.create(gpu, { transB: true, epilogue: 'bias' }),
      Matmul.create(gpu, {}),
      Matmul.create(gpu, { transA: true }),
      Matmul.create(gpu, { transA: true, kScale: true }),
      ColumnSums.create(gpu, {}),
      ColumnSums.create(gpu, { rowWeights: true }),
      Elementwise.create(gpu, { accumulate: true }),
      Matmul.create(gpu, { transB: true }),
      RowDots.create(gpu, {}),
      RowDots.create(gpu, { accumulate: true }),
    ]);
    const shape = (n: number) => ({ m: n, n: units, k: fanIn });
    return {
      forward: (c) => [forward.plan(c.inputs[0], c.params.weight, c.output, shape(c.n), { bias: c.params.bias }, c.label)],
      backward: (c) => (c.inSignals[0] ? [backwardData.plan(c.outSignal, c.params.weight, c.inSignals[0], { m: c.n, n: fanIn, k: units }, {}, c.label)] : []),
      weightGrads(c) {
        const wShape = { m: units, n: fanIn, k: c.n };
        return c.exWeight
          ? [
              weightGradWeighted.plan(c.outSignal, c.inputs[0], c.grads.weight, wShape, { kscale: c.exWeight }, `${c.label}.w`),
              biasGradWeighted.plan(c.outSignal, c.grads.bias, c.n, units, c.exWeight, `${c.label}.b`),
            ]
          : [weightGrad.plan(c.outSignal, c.inputs[0], c.grads.weight, wShape, {}, `${c.label}.w`), biasGrad.plan(c.outSignal, c.grads.bias, c.n, units, undefined, `${c.label}.b`)];
      },
      tangent(c) {
        const out = [];
        const [da] = c.inTangents;
        if (c.direction) out.push(linear.plan(c.inputs[0], c.direction.weight, c.outTangent, shape(c.n), { bias: c.direction.bias }, `${c.label}.param`));
        if (da) {
          if (!c.direction) return [gram.plan(da, c.params.weight, c.outTangent, shape(c.n), {}, `${c.label}.input`)];
          const scratch = c.scratch();
          out.push(gram.plan(da, c.params.weight, scratch, shape(c.n), {}, `${c.label}.input`));
          out.push(accumulate.plan(scratch, null, c.outTangent, c.n * units, `${c.label}.sum`));
        }
        return out;
      },
      // G_W = Σ_j δ^v_j a^v_jᵀ and G_b = Σ_j δ^v_j (the validation signals carry their 1/m), so this
      // node's share of s_i is Σ_j (δ_i·δ^v_j)(a_i·a^v_j + 1): two n×m Gram matrices instead of an
      // n×in×out product, where that is cheaper. Otherwise the interpreter's tangent form.
      alignment(c) {
        const m = c.val.n;
        if (!useGramForm(fanIn, units, m)) return null;
        const signals = c.aux('gramSignals', c.n * m);
        const inputs = c.aux('gramInputs', c.n * m);
        const ones = c.constant('ones', new Float32Array(m).fill(1));
        return [
          gram.plan(c.outSignal, c.val.outSignal, signals, { m: c.n, n: m, k: units }, {}, `${c.label}.gramSignals`),
          linear.plan(c.inputs[0], c.val.inputs[0], inputs, { m: c.n, n: m, k: fanIn }, { bias: ones }, `${c.label}.gramInputs`),
          (c.accumulate ? rowDotsAcc : rowDots).plan(signals, inputs, c.s, c.n, m, `${c.label}.dot`),
        ];
      },
    };
  },
};
