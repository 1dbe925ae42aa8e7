// Per-example weights for every training method (Algorithm 1 step 11 for L2RW), normalised on the GPU.
import source from '../shaders/example_weights.wgsl?raw';
import type { BufferRef, Gpu } from '../gpu/gpu';
import { Kernel, type Dispatch, type KernelDef } from './kernel';

/**
 * The rules of step 11, the one definition both the shader (its RULE_* constants, generated from this
 * table) and the engine read. `score`: what the rule reads per example from the `score` binding (the
 * L2RW alignments s, which make the engine run the clean validation batch; the per-example losses; or
 * nothing). `perStep`: the rule draws new random numbers every step (its `step` uniform changes).
 */
export const WEIGHT_RULES = {
  uniform: { id: 0, score: 'none', perStep: false },
  l2rw: { id: 1, score: 'alignment', perStep: false },
  proportion: { id: 2, score: 'none', perStep: false },
  hardmining: { id: 3, score: 'loss', perStep: false },
  random: { id: 4, score: 'none', perStep: true },
} as const satisfies Record<string, { id: number; score: 'alignment' | 'loss' | 'none'; perStep: boolean }>;
export type WeightRule = keyof typeof WEIGHT_RULES;

/** `const RULE_L2RW: u32 = 1u;` and so on, appended to the shader (so its own line numbers stay). */
export const ruleConstantsWgsl = Object.entries(WEIGHT_RULES)
  .map(([name, r]) => `const RULE_${name.toUpperCase()}: u32 = ${r.id}u;`)
  .join('\n');

export const exampleWeightsDef: KernelDef = {
  name: 'example_weights',
  source: `${source}\n${ruleConstantsWgsl}`,
  bindings: ['read', 'read', 'read', 'rw', 'uniform'],
  uniforms: [
    ['n', 'u32'],
    ['k', 'u32'],
    ['seed', 'u32'],
    ['step', 'u32'],
    ['scale', 'f32'],
  ],
};

export interface ExampleWeightsInputs {
  /** Alignments s (l2rw) or per-example losses (hardmining); unused by the other rules. */
  score: BufferRef;
  labels: BufferRef;
  /** Per-class weights (proportion); unused by the other rules. */
  classWeight: BufferRef;
  w: BufferRef;
}

export class ExampleWeights {
  private constructor(private readonly kernel: Kernel, readonly rule: WeightRule) {}

  static async create(gpu: Gpu, rule: WeightRule): Promise<ExampleWeights> {
    return new ExampleWeights(await Kernel.load(gpu, exampleWeightsDef, { RULE: WEIGHT_RULES[rule].id }), rule);
  }

  /**
   * `k`: how many examples hard mining keeps; `seed`/`step` drive the random rule (step changes per
   * step); `scale`: L2RW's lookahead step size α (> 0), which multiplies s and cancels out of w.
   */
  plan(io: ExampleWeightsInputs, n: number, opts: WeightOptions = {}, label = `weights.${this.rule}`): Dispatch {
    return this.kernel.plan(label, [io.score, io.labels, io.classWeight, io.w], weightUniforms(n, opts, label), [1]);
  }
}

export interface WeightOptions {
  k?: number;
  seed?: number;
  step?: number;
  scale?: number;
}

/** Uniform values of the weights kernel (also for Dispatch.setUniforms when `step` changes). */
export function weightUniforms(n: number, opts: WeightOptions, label = 'weights'): Record<string, number> {
  const k = opts.k ?? n;
  const scale = opts.scale ?? 1;
  if (!(k >= 1 && k <= n)) throw new Error(`${label}: k must be in [1, ${n}], got ${k}`);
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`${label}: the lookahead step size must be a positive number, got ${scale}`);
  return { n, k, seed: (opts.seed ?? 0) >>> 0, step: opts.step ?? 0, scale };
}
