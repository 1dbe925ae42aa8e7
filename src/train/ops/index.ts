// The built-in ops. Adding an op: its module in this folder, one line here, its kernels, its float64
// reference in test/reference/ops/, and its tests.
import { add } from './add';
import { avgpool2 } from './avgpool2';
import { batchnorm } from './batchnorm';
import { conv2d } from './conv2d';
import { dense } from './dense';
import { flatten } from './flatten';
import { globalAvgPool } from './global_avg_pool';
import { maxpool2 } from './maxpool2';
import { registerOp } from './op';
import { padChannels } from './pad_channels';
import { relu } from './relu';

registerOp(dense);
registerOp(conv2d);
registerOp(relu);
registerOp(maxpool2);
registerOp(flatten);
registerOp(add);
registerOp(globalAvgPool);
registerOp(avgpool2);
registerOp(padChannels);
registerOp(batchnorm);
