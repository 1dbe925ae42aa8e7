// A kernel that comes in several forms (variants) whose speed depends on the adapter: one declaration
// says what the per-adapter choice (src/gpu/kernel_choices.ts) and its start-up measurement
// (src/kernels/tune.ts) need, so that every such kernel is chosen, cached and timed the same way.
import { isCpuAdapter, type Gpu } from '../gpu/gpu';
import type { Measurement } from '../gpu/kernel_choices';
import { kernelSource, type Dispatch, type KernelDef } from './kernel';
import { tuneVariants, TuneBuffers } from './tune';

/** Makes one operand buffer for the measurement: `floats` values, a fixed pattern when `fill`, else zeros. */
export type MakeTuneBuffer = (label: string, floats: number, fill: boolean) => GPUBuffer;

export interface KernelForms<V extends string, Shape, Op, Operands> {
  /** The kernel's name in the cache and in overrides (L2RW_KERNELS=<kernel>:<variant>). */
  kernel: string;
  /** Every form; the first is the default, kept when a later one fails to compile. */
  variants: readonly V[];
  /**
   * The pipelines a form compiles. Their sources, form by form in `variants` order, are part of the
   * cache key, so an edited kernel is measured again.
   */
  defs(variant: V, gpu: Gpu): readonly KernelDef[];
  /** The candidates on a CPU driver (default: every form); the rest are too slow there to be worth timing. */
  cpuCandidates?: readonly V[];
  /** Whether a form can run on this device (default: every form can); one that cannot is never a candidate. */
  available?(variant: V, gpu: Gpu): boolean;
  /** The shapes timed; their JSON is part of the cache key too. */
  tuneShapes: readonly Shape[];
  /** One shape, for the record. */
  describeShape(shape: Shape): string;
  /** The buffers one shape runs on. */
  operands(shape: Shape, make: MakeTuneBuffer): Operands;
  /** The op in the given form (its pipelines compiled). */
  create(gpu: Gpu, variant: V): Promise<Op>;
  /** The op's dispatch for one shape. */
  plan(op: Op, operands: Operands, shape: Shape, label: string): Dispatch;
}

// `any` for the parts these helpers only pass through, so that each declaration keeps its own types.
type AnyForms<V extends string> = KernelForms<V, any, any, any>;

/** Whether the form can run on this device (forms.available). */
export function formAvailable<V extends string>(gpu: Gpu, forms: AnyForms<V>, variant: V): boolean {
  return forms.available?.(variant, gpu) ?? true;
}

/** Throws a clear error when a form (forced by an option or an override) cannot run on this device. */
export function checkFormAvailable<V extends string>(gpu: Gpu, forms: AnyForms<V>, variant: V): void {
  if (formAvailable(gpu, forms, variant)) return;
  const usable = forms.variants.filter((v) => formAvailable(gpu, forms, v));
  throw new Error(`${forms.kernel}: the '${variant}' form is not available on this device (adapter "${gpu.name}"); use one of ${usable.join(', ')}`);
}

/** What the cached choice depends on: the sources of every form this device can run, and the measured shapes. */
export function formsSources(forms: AnyForms<string>, gpu: Gpu): string {
  const variants = forms.variants.filter((v) => formAvailable(gpu, forms, v));
  return [...variants.flatMap((v) => forms.defs(v, gpu).map(kernelSource)), JSON.stringify(forms.tuneShapes)].join('\n');
}

/** The forms measured on this adapter, the default first. */
export function formCandidates<V extends string>(gpu: Gpu, forms: AnyForms<V>): V[] {
  const all = forms.cpuCandidates && isCpuAdapter(gpu.adapter) ? forms.cpuCandidates : forms.variants;
  return all.filter((v) => formAvailable(gpu, forms, v));
}

/** The form this adapter runs: an override, the cached choice, or a measurement now (then cached). */
export function chooseForm<V extends string>(gpu: Gpu, forms: AnyForms<V>): Promise<V> {
  const candidates = formCandidates(gpu, forms);
  return gpu.kernelChoices.choose(forms.kernel, forms.variants, candidates, formsSources(forms, gpu), () => measureForms(gpu, forms, candidates)) as Promise<V>;
}

/** Times the candidates (default: every form this device can run, CPU driver or not) on the tune shapes and names the fastest. */
export async function measureForms<V extends string, Shape, Op, Operands>(
  gpu: Gpu,
  forms: KernelForms<V, Shape, Op, Operands>,
  candidates: readonly V[] = forms.variants.filter((v) => formAvailable(gpu, forms, v)),
): Promise<Measurement> {
  const buffers = new TuneBuffers(gpu);
  const shapes = forms.tuneShapes;
  const operands = shapes.map((s) => forms.operands(s, (label, floats, fill) => buffers.make(label, floats, fill)));
  const tuned = candidates.map((variant) => {
    let op: Op | null = null;
    return {
      variant,
      async compile() {
        op = await forms.create(gpu, variant);
      },
      plan: () => shapes.map((s, i) => forms.plan(op!, operands[i], s, `tune.${variant}`)),
    };
  });
  return tuneVariants(gpu, tuned, { shapes: shapes.map((s) => forms.describeShape(s)).join(' + ') }, () => buffers.release());
}
