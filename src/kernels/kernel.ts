// The kernel descriptor shared by every wrapper in this folder: a kernel is its WGSL source, the
// kinds of its bindings (group 0, in binding order; a uniform struct, when present, comes last) and
// the fields of that uniform struct. Pipelines compile once per (kernel, override constants); bind
// groups and uniform buffers are made once per planned dispatch, never per training step.
import common from '../shaders/common.wgsl?raw';
import type { BindingKind, BufferRef, Gpu } from '../gpu/gpu';
import type { UniformSpec, UniformValues } from '../gpu/uniforms';

export interface KernelDef {
  name: string;
  /** WGSL of this kernel alone; the shared preamble (common.wgsl) is prepended by loadKernel. */
  source: string;
  bindings: readonly BindingKind[];
  /** Fields of the kernel's `Params` uniform struct, in declaration order ([] when it has none). */
  uniforms: UniformSpec;
  /** The source is generated (src/kernels/wgsl_template.ts) rather than a src/shaders/*.wgsl file. */
  generated?: boolean;
  /**
   * WGSL extensions the source uses (`enable <name>;`), each also a device feature of that name
   * ('subgroups'). kernelSource puts the directives first, on the preamble's first line.
   */
  enables?: readonly GPUFeatureName[];
}

/** One planned dispatch: everything needed to record it into a compute pass, made at plan time. */
export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
  /** Rewrites this dispatch's uniforms (takes effect at the next submit). */
  setUniforms(values: UniformValues): void;
  /** Frees the dispatch's uniform buffer; whoever planned the dispatch owns it (see GpuScope). */
  destroy(): void;
}

export const COMMON_WGSL = common;
const PREAMBLE_LINES = common.split('\n').length;

export function kernelSource(def: KernelDef): string {
  // On the preamble's first line (a comment), so that compile errors keep their line numbers.
  const enables = (def.enables ?? []).map((e) => `enable ${e}; `).join('');
  return `${enables}${common}\n${def.source}`;
}

export class Kernel {
  private constructor(
    private readonly gpu: Gpu,
    readonly def: KernelDef,
    readonly pipeline: GPUComputePipeline,
    readonly constants: Readonly<Record<string, number>>,
  ) {}

  static async load(gpu: Gpu, def: KernelDef, constants: Record<string, number> = {}): Promise<Kernel> {
    const hasUniform = def.bindings.includes('uniform');
    if (hasUniform !== def.uniforms.length > 0 || (hasUniform && def.bindings.at(-1) !== 'uniform')) {
      throw new Error(`kernel ${def.name}: the uniform struct must be the last binding, and only when it has fields`);
    }
    const missing = (def.enables ?? []).filter((f) => !gpu.features.has(f));
    if (missing.length) {
      throw new Error(`kernel ${def.name} needs the WebGPU feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which this device lacks (adapter "${gpu.name}"); use another form of the kernel`);
    }
    const pipeline = await gpu.pipeline(def.name, kernelSource(def), def.bindings, constants, PREAMBLE_LINES);
    return new Kernel(gpu, def, pipeline, constants);
  }

  /**
   * Plans a dispatch over `resources` (the storage bindings, in order) with these uniform values.
   * Creates the bind group and the uniform buffer now; recording it later costs nothing more.
   */
  plan(label: string, resources: readonly BufferRef[], uniforms: UniformValues, workgroups: readonly [number, number?, number?]): Dispatch {
    const { gpu, def } = this;
    const wg: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    const maxDim = gpu.limits.maxComputeWorkgroupsPerDimension;
    for (const n of wg) {
      if (!Number.isInteger(n) || n < 0 || n > maxDim) {
        throw new Error(`${def.name} (${label}): workgroup count ${n} outside [0, ${maxDim}]; shapes too large for this device`);
      }
    }
    const storageKinds = def.bindings.filter((k) => k !== 'uniform');
    if (resources.length !== storageKinds.length) {
      throw new Error(`${def.name} (${label}): expected ${storageKinds.length} buffers, got ${resources.length}`);
    }
    const params = def.uniforms.length ? gpu.uniforms(`${label}.params`, def.uniforms, uniforms) : null;
    const bindGroup = gpu.bindGroup(label, def.bindings, params ? [...resources, params] : resources);
    return {
      label,
      pipeline: this.pipeline,
      bindGroup,
      workgroups: wg,
      setUniforms(values: UniformValues) {
        if (!params) throw new Error(`${def.name} has no uniforms`);
        gpu.writeUniforms(params, def.uniforms, values);
      },
      destroy() {
        if (params) gpu.destroy(params);
      },
    };
  }
}

/** Workgroup counts for a 1-D launch of `count` invocations, folded over y past the device limit. */
export function workgroups1d(gpu: Gpu, count: number, wgSize: number): [number, number, number] {
  const groups = Math.ceil(count / wgSize);
  const maxDim = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxDim);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * Workgroups for a grid-stride kernel (one that loops with `launch_size`): enough to fill a large GPU
 * (`cap` workgroups), no more, since each workgroup has a fixed cost on CPU drivers.
 */
export function workgroupsCapped(gpu: Gpu, count: number, wgSize: number, cap = 256): [number, number, number] {
  return [Math.max(1, Math.min(cap, Math.ceil(count / wgSize), gpu.limits.maxComputeWorkgroupsPerDimension)), 1, 1];
}

/** Records dispatches, in order, into one compute pass. */
export function encodeDispatches(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[], label = 'compute'): void {
  const pass = encoder.beginComputePass({ label });
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    if (d.workgroups[0] && d.workgroups[1] && d.workgroups[2]) pass.dispatchWorkgroups(...d.workgroups);
  }
  pass.end();
}

/** Encodes and submits dispatches at once (tests, one-off work). One submit. */
export function runDispatches(gpu: Gpu, dispatches: readonly Dispatch[], label = 'run'): void {
  gpu.run(label, (enc) => encodeDispatches(enc, dispatches, label));
}
