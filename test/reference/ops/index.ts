// The float64 reference ops, by op name. The graph interpreter (../graph.ts) looks every node up here.
// Test-only ops add themselves when their module is imported (./center.ts).
import { add } from './add';
import { avgpool2 } from './avgpool2';
import { batchnorm } from './batchnorm';
import { conv2d } from './conv2d';
import { dense } from './dense';
import { flatten } from './flatten';
import { globalAvgPool } from './global_avg_pool';
import { maxpool2 } from './maxpool2';
import { padChannels } from './pad_channels';
import type { RefOp } from './ref_op';
import { relu } from './relu';

export type { RefBackward, RefForward, RefNode, RefOp } from './ref_op';

export const REF_OPS: Record<string, RefOp> = { dense, conv2d, relu, maxpool2, flatten, add, global_avg_pool: globalAvgPool, avgpool2, pad_channels: padChannels, batchnorm };

export function refOp(name: string, where: string): RefOp {
  const op = REF_OPS[name];
  if (!op) throw new Error(`${where}: no float64 reference for op "${name}" (known: ${Object.keys(REF_OPS).join(', ')})`);
  return op;
}
