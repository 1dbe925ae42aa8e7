// A small WebGPU runtime: one device, labelled and counted buffers, cached pipelines with readable
// compile errors, per-dispatch uniform buffers, and a readback helper for use outside hot loops.
import { withoutDawnLimitNotices } from './dawn_stderr';
import { getNavigatorGpu, NO_ADAPTER_HELP, noAdapterHelp, runtimeName } from './device';
import { GpuLimitError, GpuLostError, GpuUnavailableError, ShaderCompileError } from './errors';
import { defaultChoiceStore, envKernelOverrides, KernelChoices, memoryChoiceStore, parseKernelOverrides, type ChoiceStore } from './kernel_choices';
import { packUniforms, uniformByteSize, type UniformSpec, type UniformValues } from './uniforms';

/** A storage binding: a whole buffer, or a byte range of one (offset a multiple of 256). */
export type BufferRef = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export type BindingKind = 'read' | 'rw' | 'uniform';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  runtime: 'node-dawn' | 'browser';
}

export interface GpuCounters {
  submits: number;
  readbacks: number;
  liveBuffers: number;
  /** Bytes held by the live buffers. */
  liveBytes: number;
  /** The most bytes live at once since the device was made (or since resetPeak()). */
  peakLiveBytes: number;
  /** The largest single buffer made (bytes): what the storage-binding limit must hold. */
  largestBuffer: number;
  buffersCreated: number;
  pipelinesCompiled: number;
  bindGroupsCreated: number;
}

export interface GpuOptions {
  /** Limits above the WebGPU defaults this program needs; checked against the adapter first. */
  requiredLimits?: Record<string, number>;
  /** Features requested only when the adapter offers them (e.g. 'timestamp-query'). */
  optionalFeatures?: GPUFeatureName[];
  powerPreference?: GPUPowerPreference;
  /**
   * Kernel variants to use instead of measuring (src/gpu/kernel_choices.ts): `'matmul:scalar,...'` or
   * `{ matmul: 'scalar' }`; 'auto' measures again. Default: the L2RW_KERNELS environment variable (Node).
   */
  kernels?: string | Record<string, string>;
  /**
   * Where measured kernel choices persist: true (default) for the user's cache (a file under
   * ~/.cache/l2rw-gpu in Node, localStorage in a browser), false for this process only, or a store.
   */
  kernelCache?: boolean | ChoiceStore;
}

/**
 * The cache key of an adapter: vendor, architecture, device, the driver's description (Mesa and
 * SwiftShader name their versions there) and the runtime.
 */
export function adapterKey(a: AdapterSummary): string {
  return [a.vendor, a.architecture, a.device, a.description, a.runtime].join('/');
}

function kernelChoicesFor(summary: AdapterSummary, options: GpuOptions): KernelChoices {
  const fromOption = options.kernels !== undefined;
  const text = typeof options.kernels === 'object' ? Object.entries(options.kernels).map(([k, v]) => `${k}:${v}`).join(',') : options.kernels ?? envKernelOverrides();
  const source = fromOption ? 'Gpu.create({ kernels })' : 'L2RW_KERNELS';
  const store = options.kernelCache === false ? memoryChoiceStore() : options.kernelCache === undefined || options.kernelCache === true ? defaultChoiceStore() : options.kernelCache;
  return new KernelChoices(adapterKey(summary), parseKernelOverrides(text, source), source, store);
}

export function refBuffer(ref: BufferRef): GPUBuffer {
  return isWholeBuffer(ref) ? ref : ref.buffer;
}

export function refOffset(ref: BufferRef): number {
  return isWholeBuffer(ref) ? 0 : ref.offset ?? 0;
}

function bindingResource(ref: BufferRef): GPUBufferBinding {
  if (isWholeBuffer(ref)) return { buffer: ref };
  return { buffer: ref.buffer, offset: ref.offset ?? 0, size: ref.size };
}

export function isWholeBuffer(ref: BufferRef): ref is GPUBuffer {
  return typeof (ref as GPUBuffer).mapAsync === 'function';
}

export function adapterName(a: AdapterSummary): string {
  return [a.description || a.device, a.vendor && `(${a.vendor}${a.architecture ? ' ' + a.architecture : ''})`, a.runtime]
    .filter(Boolean)
    .join(' ');
}

/**
 * Whether an adapter is a CPU driver (lavapipe/llvmpipe, SwiftShader): there workgroup memory and
 * barriers are emulated, so the forms of a kernel built on them are slow, and SwiftShader takes
 * seconds of CPU to compile them (src/kernels/forms.ts: cpuCandidates).
 */
export function isCpuAdapter(a: AdapterSummary): boolean {
  return a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software/i.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
}

/**
 * The subgroup size every compute dispatch gets, when the adapter reports one fixed size
 * (subgroupMinSize = subgroupMaxSize) and the device has 'subgroups'; else null.
 */
export function fixedSubgroupSize(info: GPUAdapterInfo | undefined, features: ReadonlySet<string>): number | null {
  const sizes = info as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
  const min = sizes?.subgroupMinSize;
  if (!features.has('subgroups') || !min || min !== sizes?.subgroupMaxSize || !Number.isInteger(min)) return null;
  return min;
}

/** Whether an adapter is SwiftShader (Chromium's and Dawn's software Vulkan). */
export function isSwiftShader(a: AdapterSummary): boolean {
  return /swiftshader/i.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
}

export class Gpu {
  readonly counters: GpuCounters = {
    submits: 0,
    readbacks: 0,
    liveBuffers: 0,
    liveBytes: 0,
    peakLiveBytes: 0,
    largestBuffer: 0,
    buffersCreated: 0,
    pipelinesCompiled: 0,
    bindGroupsCreated: 0,
  };
  /** Set once the device is lost; every later call throws a GpuLostError carrying it. */
  lostReason: string | null = null;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly live = new Set<GPUBuffer>();
  /**
   * Bound in binding slots a kernel variant never reads (a binding cannot be left empty). One per
   * device, made with it, so kernel wrappers own no buffers.
   */
  readonly placeholder: GPUBuffer;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    readonly limits: GPUSupportedLimits,
    readonly features: ReadonlySet<string>,
    /** Which variant of each multi-form kernel runs here (measured once per adapter and cached). */
    readonly kernelChoices: KernelChoices = new KernelChoices(adapterKey(adapter), new Map(), 'none', memoryChoiceStore()),
    /**
     * Invocations per subgroup when the device runs subgroups (feature 'subgroups') of one fixed size,
     * as lavapipe (8 lanes on AVX2) and SwiftShader do; null otherwise. The subgroup forms of the
     * kernels are generated for this size and offered only where it is known.
     */
    readonly subgroupSize: number | null = null,
  ) {
    this.placeholder = this.buffer('placeholder', 16, GPUBufferUsage.STORAGE);
    // Reported through GpuLostError (checkAlive, failure()), never printed here: a command line's
    // error stays the one line it writes itself.
    device.lost.then((info) => {
      const message = (info.message ?? '').trim().replace(/\.$/, '');
      this.lostReason =
        info.reason === 'destroyed'
          ? `the device was destroyed by this program (runtime: ${message || 'destroyed'})`
          : `the WebGPU device was lost (${info.reason}${message ? `: ${message}` : ''}); frequent losses usually mean the driver crashed or ran out of memory: try a smaller batch`;
    });
  }

  static async create(options: GpuOptions = {}): Promise<Gpu> {
    // Dawn prints two notices about clamped limits while it initialises the adapter (dawn_stderr.ts).
    const { entry, adapter } = await withoutDawnLimitNotices(async () => {
      const entry = await getNavigatorGpu();
      return { entry, adapter: entry ? await entry.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' }) : null };
    });
    if (!entry) throw new GpuUnavailableError(`WebGPU is not available in this environment. ${NO_ADAPTER_HELP}`);
    if (!adapter) throw new GpuUnavailableError(await noAdapterHelp());
    const info = adapter.info;
    const summary: AdapterSummary = {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean })?.isFallbackAdapter),
      runtime: runtimeName(),
    };
    const requiredLimits: Record<string, number> = {};
    for (const [name, wanted] of Object.entries(options.requiredLimits ?? {})) {
      const offered = (adapter.limits as unknown as Record<string, number>)[name];
      if (offered === undefined) throw new GpuLimitError(`unknown WebGPU limit "${name}"`);
      const isAlignment = name.endsWith('Alignment');
      const ok = isAlignment ? offered <= wanted : offered >= wanted;
      if (!ok) {
        throw new GpuLimitError(
          `this run needs ${name} ${isAlignment ? '<=' : '>='} ${wanted}, but the adapter "${adapterName(summary)}" ` +
            `offers ${offered}. Use smaller shapes (batch, model width) or a GPU with larger limits.`,
        );
      }
      requiredLimits[name] = wanted;
    }
    // 'subgroups' is always asked for where offered: the kernels' subgroup forms need it (see
    // fixedSubgroupSize) and it costs nothing where unused.
    const wanted = new Set<string>([...(options.optionalFeatures ?? []), 'subgroups']);
    const requiredFeatures = [...wanted].filter((f) => adapter.features.has(f)) as GPUFeatureName[];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'l2rw-gpu' });
    const features = new Set(device.features as unknown as Iterable<string>);
    return new Gpu(device, summary, device.limits, features, kernelChoicesFor(summary, options), fixedSubgroupSize(info, features));
  }

  get name(): string {
    return adapterName(this.adapter);
  }

  /**
   * Whether this device gets the kernels' subgroup forms (generated in src/kernels/wgsl_template.ts):
   * it runs subgroups of one fixed size, and is not SwiftShader, whose compiler took 66 s for one
   * test's three subgroup pipelines (Chromium 156) against about a second on lavapipe.
   */
  get subgroupForms(): boolean {
    return this.subgroupSize !== null && !isSwiftShader(this.adapter);
  }

  /** Starts a new peak-memory window at the bytes live now. */
  resetPeak(): void {
    this.counters.peakLiveBytes = this.counters.liveBytes;
    this.counters.largestBuffer = 0;
  }

  /** Throws when the device is gone, so a run stops with a clear message instead of hanging. */
  checkAlive(): void {
    if (this.lostReason) throw new GpuLostError(`l2rw-gpu: ${this.lostReason}`);
  }

  /**
   * The error to report for a failed asynchronous GPU operation (mapAsync, onSubmittedWorkDone): when
   * the device is lost, a GpuLostError carrying the runtime's reason, else `e` itself. A loss rejects
   * pending maps with a bare AbortError (empty message) before device.lost settles, so this waits for
   * device.lost a moment (at most `waitMs`) before deciding.
   */
  async failure(e: unknown, waitMs = 500): Promise<unknown> {
    if (!this.lostReason) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, waitMs)));
      // The constructor's device.lost handler runs before this await resumes: it was registered first.
      await Promise.race([this.device.lost.then(() => undefined), timeout]);
      clearTimeout(timer);
    }
    return this.lostReason ? new GpuLostError(`l2rw-gpu: ${this.lostReason}`, { cause: e }) : e;
  }

  // ---- buffers ----------------------------------------------------------------------------------

  buffer(label: string, byteSize: number, usage: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
    this.checkAlive();
    if (!(byteSize >= 0) || !Number.isFinite(byteSize)) throw new Error(`buffer "${label}": bad size ${byteSize}`);
    const size = Math.max(16, Math.ceil(byteSize / 16) * 16);
    const maxBuf = this.limits.maxBufferSize;
    if (size > maxBuf) {
      throw new GpuLimitError(`buffer "${label}" needs ${size} bytes but the device allows ${maxBuf} (maxBufferSize)`);
    }
    if (usage & GPUBufferUsage.STORAGE && size > this.limits.maxStorageBufferBindingSize) {
      throw new GpuLimitError(
        `storage buffer "${label}" needs ${size} bytes but the device binds at most ` +
          `${this.limits.maxStorageBufferBindingSize} (maxStorageBufferBindingSize); use smaller shapes`,
      );
    }
    const buf = this.device.createBuffer({ label, size, usage });
    this.live.add(buf);
    this.counters.liveBuffers = this.live.size;
    this.counters.liveBytes += size;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
    this.counters.largestBuffer = Math.max(this.counters.largestBuffer, size);
    this.counters.buffersCreated++;
    return buf;
  }

  /** A storage buffer holding `data` (f32 unless given another typed array). */
  upload(label: string, data: Float32Array | Uint32Array | Int32Array, extraUsage = 0): GPUBuffer {
    const buf = this.buffer(label, data.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage);
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return buf;
  }

  write(ref: BufferRef, data: ArrayBufferView | ArrayBuffer, byteOffset = 0): void {
    this.checkAlive();
    const buffer = isWholeBuffer(ref) ? ref : ref.buffer;
    const base = isWholeBuffer(ref) ? 0 : ref.offset ?? 0;
    if (data instanceof ArrayBuffer) this.device.queue.writeBuffer(buffer, base + byteOffset, data);
    else this.device.queue.writeBuffer(buffer, base + byteOffset, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  destroy(buf: GPUBuffer): void {
    if (this.live.delete(buf)) {
      this.counters.liveBytes -= buf.size;
      buf.destroy();
    }
    this.counters.liveBuffers = this.live.size;
  }

  /** A uniform buffer for one dispatch, filled now; update it with writeUniforms before a submit. */
  uniforms(label: string, spec: UniformSpec, values: UniformValues): GPUBuffer {
    const buf = this.buffer(label, uniformByteSize(spec), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buf, 0, packUniforms(spec, values, label));
    return buf;
  }

  writeUniforms(buf: GPUBuffer, spec: UniformSpec, values: UniformValues): void {
    this.device.queue.writeBuffer(buf, 0, packUniforms(spec, values, buf.label));
  }

  // ---- pipelines --------------------------------------------------------------------------------

  bindGroupLayout(kinds: readonly BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: kinds.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /**
   * Compiles (once, cached by name, source and constants) a compute pipeline. Compile errors name the
   * kernel and point at the line of its own .wgsl file (the shared preamble's lines are subtracted).
   */
  pipeline(
    name: string,
    source: string,
    bindings: readonly BindingKind[],
    constants: Record<string, number> = {},
    preambleLines = 0,
    entryPoint = 'main',
  ): Promise<GPUComputePipeline> {
    this.checkAlive();
    const key = `${name}|${entryPoint}|${JSON.stringify(constants)}|${source.length}:${hash(source)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.compile(name, source, bindings, constants, preambleLines, entryPoint);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  private async compile(
    name: string,
    source: string,
    bindings: readonly BindingKind[],
    constants: Record<string, number>,
    preambleLines: number,
    entryPoint: string,
  ): Promise<GPUComputePipeline> {
    let module = this.modules.get(source);
    if (!module) {
      module = this.device.createShaderModule({ label: name, code: source });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length) {
        const lines = source.split('\n');
        const text = errors
          .map((m) => {
            const own = m.lineNum - preambleLines;
            const where = own > 0 ? `${name}.wgsl:${own}:${m.linePos}` : `common.wgsl:${m.lineNum}:${m.linePos}`;
            return `  ${where}: ${m.message}\n    | ${(lines[m.lineNum - 1] ?? '').trim()}`;
          })
          .join('\n');
        throw new ShaderCompileError(`WGSL compile error in kernel "${name}":\n${text}`);
      }
      this.modules.set(source, module);
    }
    const layout = this.device.createPipelineLayout({ label: name, bindGroupLayouts: [this.bindGroupLayout(bindings)] });
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        label: name,
        layout,
        compute: { module, entryPoint, constants },
      });
      this.counters.pipelinesCompiled++;
      return pipeline;
    } catch (e) {
      throw new ShaderCompileError(`pipeline creation failed for kernel "${name}" (constants ${JSON.stringify(constants)}): ${(e as Error).message}`);
    }
  }

  bindGroup(label: string, kinds: readonly BindingKind[], resources: readonly BufferRef[]): GPUBindGroup {
    if (resources.length !== kinds.length) {
      throw new Error(`${label}: expected ${kinds.length} bindings (${kinds.join(', ')}), got ${resources.length}`);
    }
    this.counters.bindGroupsCreated++;
    return this.device.createBindGroup({
      label,
      layout: this.bindGroupLayout(kinds),
      entries: resources.map((r, binding) => ({ binding, resource: bindingResource(r) })),
    });
  }

  // ---- submission and readback ------------------------------------------------------------------

  submit(commandBuffers: GPUCommandBuffer[]): void {
    this.checkAlive();
    this.device.queue.submit(commandBuffers);
    this.counters.submits++;
  }

  /** Encodes with `record`, then submits once. */
  run(label: string, record: (encoder: GPUCommandEncoder) => void): void {
    const encoder = this.device.createCommandEncoder({ label });
    record(encoder);
    this.submit([encoder.finish()]);
  }

  /**
   * Copies a buffer range to a staging buffer and maps it. One submit and one readback each call:
   * meant for tests, logging points and end-of-run results, never inside a training step.
   */
  async read(ref: BufferRef, byteSize?: number): Promise<ArrayBuffer> {
    this.checkAlive();
    const src = isWholeBuffer(ref) ? ref : ref.buffer;
    const offset = isWholeBuffer(ref) ? 0 : ref.offset ?? 0;
    const size = byteSize ?? (isWholeBuffer(ref) ? ref.size : ref.size ?? ref.buffer.size - offset);
    const padded = Math.ceil(size / 4) * 4;
    const staging = this.device.createBuffer({ label: `readback(${src.label})`, size: padded, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder({ label: 'readback' });
    encoder.copyBufferToBuffer(src, offset, staging, 0, padded);
    this.submit([encoder.finish()]);
    this.counters.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      throw await this.failure(e);
    }
    const out = staging.getMappedRange().slice(0, size);
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readF32(ref: BufferRef, count?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(ref, count === undefined ? undefined : count * 4));
  }

  async readU32(ref: BufferRef, count?: number): Promise<Uint32Array> {
    return new Uint32Array(await this.read(ref, count === undefined ? undefined : count * 4));
  }

  /** Waits for all submitted work (wall-clock timing in benchmarks). */
  async idle(): Promise<void> {
    try {
      await this.device.queue.onSubmittedWorkDone();
    } catch (e) {
      throw await this.failure(e);
    }
    this.checkAlive();
  }

  /** Printable adapter summary and the limits this project cares about. */
  describe(): string {
    const l = this.limits;
    return [
      `adapter: ${this.name}${this.adapter.isFallbackAdapter ? ' [fallback adapter]' : ''}`,
      `limits: maxComputeInvocationsPerWorkgroup=${l.maxComputeInvocationsPerWorkgroup} ` +
        `maxComputeWorkgroupStorageSize=${l.maxComputeWorkgroupStorageSize} ` +
        `maxStorageBuffersPerShaderStage=${l.maxStorageBuffersPerShaderStage} ` +
        `maxStorageBufferBindingSize=${l.maxStorageBufferBindingSize} ` +
        `maxComputeWorkgroupsPerDimension=${l.maxComputeWorkgroupsPerDimension}`,
      `features: ${[...this.features].sort().join(', ') || '(none)'}`,
      `subgroups: ${this.subgroupSize === null ? 'no fixed size' : `${this.subgroupSize} invocations`}; subgroup kernel forms ${this.subgroupForms ? 'on' : 'off'}`,
      ...this.kernelChoices.describe(),
    ].join('\n');
  }

  destroyAll(): void {
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.counters.liveBuffers = 0;
    this.counters.liveBytes = 0;
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
