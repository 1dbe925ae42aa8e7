// The training methods: Learning to Reweight and the baselines it is compared with, all run by the
// same engine. Each method is a weight rule for the minibatch plus a sampling mode and a data source.
import type { WeightRule } from '../kernels/example_weights';
import type { SamplingMode } from './sampler';

export const METHODS = ['l2rw', 'plain', 'proportion', 'resample', 'hardmining', 'random', 'clean-only', 'finetune'] as const;
export type Method = (typeof METHODS)[number];

export interface MethodPlan {
  rule: WeightRule;
  sampling: SamplingMode;
  /** Which set the (first phase of) training draws minibatches from. */
  source: 'train' | 'clean';
  /** Runs the clean validation batch every step (Algorithm 1 steps 3, 8–10). */
  usesValidation: boolean;
  description: string;
}

export const METHOD_PLANS: Record<Method, MethodPlan> = {
  l2rw: {
    rule: 'l2rw', sampling: 'shuffle', source: 'train', usesValidation: true,
    description: 'Learning to Reweight: weights from the alignment of each example gradient with the clean validation gradient',
  },
  plain: { rule: 'uniform', sampling: 'shuffle', source: 'train', usesValidation: false, description: 'plain SGD, uniform weights 1/n' },
  proportion: {
    rule: 'proportion', sampling: 'shuffle', source: 'train', usesValidation: false,
    description: 'per-class weights inversely proportional to class frequency in the training set, normalised per batch',
  },
  resample: { rule: 'uniform', sampling: 'balanced', source: 'train', usesValidation: false, description: 'class-balanced minibatch sampling, uniform weights' },
  hardmining: {
    rule: 'hardmining', sampling: 'shuffle', source: 'train', usesValidation: false,
    description: 'hard example mining: only the ceil(keep*n) highest-loss examples of each minibatch get weight, equally',
  },
  random: {
    rule: 'random', sampling: 'shuffle', source: 'train', usesValidation: false,
    description: 'random weights: rectified standard Gaussian per example, normalised like L2RW',
  },
  'clean-only': { rule: 'uniform', sampling: 'shuffle', source: 'clean', usesValidation: false, description: 'plain SGD on the clean set alone' },
  finetune: {
    rule: 'uniform', sampling: 'shuffle', source: 'train', usesValidation: false,
    description: 'plain SGD on the training set, then plain SGD on the clean set for the last finetune steps',
  },
};

export function parseMethod(name: string): Method {
  if ((METHODS as readonly string[]).includes(name)) return name as Method;
  throw new Error(`unknown method "${name}" (expected one of: ${METHODS.join(', ')})`);
}
