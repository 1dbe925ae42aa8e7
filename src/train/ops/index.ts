// The built-in ops. Adding an op: its module in this folder, one line here, its kernels, its float64
// reference in test/reference/ops/, and its tests.
import { add } from './add';
import { conv2d } from './conv2d';
import { dense } from './dense';
import { flatten } from './flatten';
import { maxpool2 } from './maxpool2';
import { registerOp } from './op';
import { relu } from './relu';

registerOp(dense);
registerOp(conv2d);
registerOp(relu);
registerOp(maxpool2);
registerOp(flatten);
registerOp(add);
