// Small models shared by the reference, engine and browser tests.
import { GraphBuilder, mlpSpec } from '../../src/train/models';
import { INPUT, type ModelSpec } from '../../src/train/spec';

/** dense 7 + relu, dense 3 + relu, dense 3 'logits' on [5]. */
export const tinyMlp: ModelSpec = mlpSpec(5, [7, 3], 3);

/** Padding, pooling, a strided convolution and dense layers in one small model (input [2, 9, 8]). */
export const tinyConv: ModelSpec = (() => {
  const g = new GraphBuilder('tiny-conv', [2, 9, 8]);
  let x = g.node('relu', g.node('conv2d', INPUT, { channels: 4, kernel: 3, stride: 1, pad: 1 })); // 4x9x8
  x = g.node('maxpool2', x); // 4x4x4
  x = g.node('conv2d', x, { channels: 3, kernel: 3, stride: 2 }); // 3x1x1
  x = g.node('relu', g.node('dense', g.node('flatten', x), { units: 5 }));
  g.node('dense', x, { units: 3 }, 'logits');
  return g.build();
})();

/**
 * input [2,7,7] → conv2d(3, k3, pad 1) → relu → A; A → conv2d(3, k3, pad 1) → B; add(A, B) → relu →
 * maxpool2 → flatten → dense 4. The tensor A has two consumers (B and the add). With `coupled`, A is
 * center(relu(conv)) instead: every example then depends on the whole batch (the test-only op
 * `center` must be registered first: test/train/ops/center.ts or test/reference/ops/center.ts).
 */
export function skipGraph(coupled: boolean): ModelSpec {
  const g = new GraphBuilder(coupled ? 'skip-center' : 'skip', [2, 7, 7]);
  const r1 = g.node('relu', g.node('conv2d', INPUT, { channels: 3, kernel: 3, pad: 1 }, 'convA'), {}, coupled ? 'r1' : 'A');
  const A = coupled ? g.node('center', r1, {}, 'A') : r1;
  const B = g.node('conv2d', A, { channels: 3, kernel: 3, pad: 1 }, 'B');
  const sum = g.node('add', [A, B], {}, 'sum');
  const x = g.node('flatten', g.node('maxpool2', g.node('relu', sum, {}, 'r2'), {}, 'pool'), {}, 'flat');
  g.node('dense', x, { units: 4 }, 'logits');
  return g.build();
}
