// A seeded L2RW test problem on the GPU and its float64 twin: parameters θ (fp32), training rows, clean
// rows (and optionally test rows), a Trainer over them starting at θ, and the training rows in the
// order the trainer's minibatch took them, for the references in test/reference/l2rw.ts.
import type { Gpu } from '../../src/gpu/gpu';
import { numClasses, shapeSize, type ModelSpec } from '../../src/train/spec';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectClose, type Tolerance } from './compare';
import { initParams, l2rwStep, type SgdOptions } from '../reference/l2rw';
import { stateAfter } from '../reference/model_state';

export interface Problem {
  spec: ModelSpec;
  theta: Float32Array;
  Xf: Float32Array;
  yf: Uint32Array;
  Xg: Float32Array;
  yg: Uint32Array;
  /** Test rows (when asked for). */
  Xt?: Float32Array;
  yt?: Uint32Array;
}

export interface ProblemOptions {
  /** Classes the training labels are drawn from (default all). */
  trainClasses?: readonly number[];
  /** Added to every input (a non-zero mean, so that batch means matter). */
  inputOffset?: number;
  /** Test rows to draw after the clean ones. */
  test?: number;
}

/**
 * Draws, in this order: θ (He-normal weights, N(0, 0.1²) biases), n training rows and labels, m clean
 * rows and labels, then the test rows and labels; inputs N(0, 1) (+ inputOffset), labels uniform.
 */
export function randomProblem(spec: ModelSpec, seed: number, n: number, m: number, o: ProblemOptions = {}): Problem {
  const rng = new Rng(seed);
  const d = shapeSize(spec.input);
  const K = numClasses(spec);
  const classes = o.trainClasses ?? Array.from({ length: K }, (_, k) => k);
  const inputs = (rows: number) => (o.inputOffset ? rng.normals(rows * d).map((v) => v + o.inputOffset!) : rng.normals(rows * d));
  const theta = Float32Array.from(initParams(spec, rng, { biasStd: 0.1 }));
  const Xf = inputs(n);
  const yf = Uint32Array.from({ length: n }, () => classes[rng.int(classes.length)]);
  const Xg = inputs(m);
  const yg = Uint32Array.from({ length: m }, () => rng.int(K));
  if (!o.test) return { spec, theta, Xf, yf, Xg, yg };
  const Xt = inputs(o.test);
  const yt = Uint32Array.from({ length: o.test }, () => rng.int(K));
  return { spec, theta, Xf, yf, Xg, yg, Xt, yt };
}

/** An L2RW trainer over the problem (the whole training set per batch, every clean row per step), starting at θ. */
export function problemTrainer(gpu: Gpu, p: Problem, config: Partial<TrainConfig> & Pick<TrainConfig, 'lr' | 'momentum' | 'weightDecay'>): Promise<Trainer> {
  const d = shapeSize(p.spec.input);
  const split = (x: Float32Array, y: Uint32Array) => ({ x, y, n: y.length, dim: d });
  return Trainer.create(
    gpu,
    p.spec,
    { train: split(p.Xf, p.yf), clean: split(p.Xg, p.yg), ...(p.Xt && p.yt ? { test: split(p.Xt, p.yt) } : {}) },
    { method: 'l2rw', steps: 100, batch: p.yf.length, valBatch: p.yg.length, seed: 5, logEvery: 1000, ...config },
    { params: p.theta },
  );
}

/** The problem's training rows in the order the GPU's minibatch took them. */
export function permuted(p: Problem, idx: Uint32Array): { X: Float32Array; y: Uint32Array } {
  const d = shapeSize(p.spec.input);
  const X = new Float32Array(idx.length * d);
  idx.forEach((j, i) => X.set(p.Xf.subarray(j * d, (j + 1) * d), i * d));
  return { X, y: Uint32Array.from(idx, (j) => p.yf[j]) };
}

export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

export interface StepTolerances {
  /** Δθ and velocity (and the alignments, when compared): a tolerance from the reference values. */
  update: (ref: ArrayLike<number>) => Tolerance;
  /** The weights, compared where no alignment is within 1e-3·max|s| of the clip at 0. */
  weights: Tolerance;
  /** Also compare the alignments every step. */
  alignments?: boolean;
  /** Also compare the model state (running statistics) with this tolerance. */
  state?: (ref: ArrayLike<number>) => Tolerance;
}

/**
 * Runs `steps` training steps of an L2RW trainer and checks each against the literal float64 step
 * (test/reference/l2rw.ts l2rwStep) taken from the GPU's own previous parameters, velocity and state,
 * so that fp32 rounding does not compound. Returns where the GPU ended.
 */
export async function expectStepsMatchReference(
  t: Trainer,
  p: Problem,
  sgd: SgdOptions,
  steps: number,
  tol: StepTolerances,
  label: string,
): Promise<{ theta: ArrayLike<number>; velocity: ArrayLike<number>; state: ArrayLike<number> }> {
  let theta: ArrayLike<number> = p.theta;
  let velocity: ArrayLike<number> = new Float64Array(p.theta.length);
  let state: ArrayLike<number> = await t.model.readState();
  for (let step = 0; step < steps; step++) {
    await t.trainStep();
    const b = await t.inspectLastBatch();
    const { X, y } = permuted(p, b.indices);
    const ref = l2rwStep(p.spec, theta, velocity, X, y, p.Xg, p.yg, sgd);
    const at = `${label}, step ${step}`;
    if (tol.alignments) expectClose(b.alignments!, ref.s, tol.update(ref.s), `s, ${at}`);
    if (Array.from(ref.s).every((s) => Math.abs(s) > 1e-3 * maxAbs(ref.s))) expectClose(b.weights, ref.w, tol.weights, `w, ${at}`);
    const next = await t.model.readParams();
    const dRef = ref.theta.map((v, i) => v - theta[i]);
    expectClose(next.map((v, i) => v - theta[i]), dRef, tol.update(dRef), `Δθ, ${at}`);
    const v = await t.model.readVelocity();
    expectClose(v, ref.velocity, tol.update(ref.velocity), `velocity, ${at}`);
    if (tol.state) {
      // Updated by the training batch only (the clean batch uses its own statistics, leaving them alone).
      const refState = stateAfter(p.spec, theta, state, X);
      const gpuState = await t.model.readState();
      expectClose(gpuState, refState, tol.state(refState), `running statistics, ${at}`);
      state = gpuState;
    }
    theta = next;
    velocity = v;
  }
  return { theta, velocity, state };
}
