// The training methods: Learning to Reweight and the baselines it is compared with, all run by the
// same engine. A method is a declaration: its phases in order, each with the set its minibatches come
// from, how they are sampled, and step 11's weight rule (which says what it scores examples by, see
// WEIGHT_RULES). A second phase takes the last `finetuneSteps` steps of the run.
import { WEIGHT_RULES, type WeightRule } from '../kernels/example_weights';
import type { LossSpec } from '../kernels/softmax_xent';
import type { SamplingMode } from './sampler';

export interface PhaseDecl {
  /** The set minibatches are drawn from. */
  source: 'train' | 'clean';
  sampling: SamplingMode;
  rule: WeightRule;
  /** The training loss (default cross-entropy). */
  loss?: LossSpec;
}

export interface MethodDecl {
  description: string;
  phases: readonly PhaseDecl[];
  /**
   * 'clean': early stopping: at each evaluation point the trainer keeps (on the GPU) the model with
   * the best clean-set accuracy, and the run ends with that model.
   */
  select?: 'clean';
}

const phase = (rule: WeightRule, source: PhaseDecl['source'] = 'train', sampling: SamplingMode = 'shuffle'): PhaseDecl => ({ source, sampling, rule });

export const METHOD_DECLS = {
  l2rw: {
    description: 'Learning to Reweight: weights from the alignment of each example gradient with the clean validation gradient',
    phases: [phase('l2rw')],
  },
  plain: { description: 'plain SGD, uniform weights 1/n', phases: [phase('uniform')] },
  proportion: {
    description: 'per-class weights inversely proportional to class frequency in the training set, normalised per batch',
    phases: [phase('proportion')],
  },
  resample: { description: 'class-balanced minibatch sampling, uniform weights', phases: [phase('uniform', 'train', 'balanced')] },
  hardmining: {
    description: 'hard example mining: only the ceil(keep*n) highest-loss examples of each minibatch get weight, equally',
    phases: [phase('hardmining')],
  },
  random: { description: 'random weights: rectified standard Gaussian per example, normalised like L2RW', phases: [phase('random')] },
  'clean-only': { description: 'plain SGD on the clean set alone', phases: [phase('uniform', 'clean')] },
  finetune: {
    description: 'plain SGD on the training set, then plain SGD on the clean set for the last finetune steps',
    phases: [phase('uniform'), phase('uniform', 'clean')],
  },
  'l2rw-finetune': {
    description: 'Learning to Reweight, then plain SGD on the clean set for the last finetune steps',
    phases: [phase('l2rw'), phase('uniform', 'clean')],
  },
  // Reed et al. (2015), with their β: the target mixes the label with the model's own prediction.
  'bootstrap-soft': {
    description: 'soft bootstrapping (Reed et al.): target 0.95·label + 0.05·prediction (an entropy term)',
    phases: [{ ...phase('uniform'), loss: { kind: 'bootstrap-soft', beta: 0.95 } }],
  },
  'bootstrap-hard': {
    description: 'hard bootstrapping (Reed et al.): target 0.8·label + 0.2·one-hot of the predicted class',
    phases: [{ ...phase('uniform'), loss: { kind: 'bootstrap-hard', beta: 0.8 } }],
  },
  'early-stop': {
    description: 'plain SGD; the model with the best clean-set accuracy at any evaluation point is kept (early stopping)',
    phases: [phase('uniform')],
    select: 'clean',
  },
} satisfies Record<string, MethodDecl>;

export type Method = keyof typeof METHOD_DECLS;
export const METHODS = Object.keys(METHOD_DECLS) as Method[];

export function methodDecl(method: Method): MethodDecl {
  return METHOD_DECLS[method];
}

/** Whether any phase of the method runs the clean validation batch every step (Algorithm 1, steps 3, 7–10). */
export function usesValidation(method: Method): boolean {
  return METHOD_DECLS[method].phases.some((p) => WEIGHT_RULES[p.rule].score === 'alignment');
}

/** Whether the method trains on the clean set in some phase (so it must hold at least one example). */
export function usesCleanSet(method: Method): boolean {
  return usesValidation(method) || METHOD_DECLS[method].phases.some((p) => p.source === 'clean');
}

/** Whether the method keeps the best model on the clean set (early stopping). */
export function selectsOnClean(method: Method): boolean {
  return (METHOD_DECLS[method] as MethodDecl).select === 'clean';
}

export function parseMethod(name: string): Method {
  if (name in METHOD_DECLS) return name as Method;
  throw new Error(`unknown method "${name}" (expected one of: ${METHODS.join(', ')})`);
}
