// A model on the GPU: its graph, its parameters, gradients and momentum in flat buffers sharing one
// padded layout (see param_layout.ts), and its state (running statistics) in a buffer of its own.
import type { Gpu } from '../gpu/gpu';
import { GpuScope } from '../gpu/scope';
import { initParams, initState } from './init';
import { ParamLayout, type ParamLayoutOptions } from './param_layout';
import type { ModelSpec } from './spec';

export class GpuModel {
  readonly layout: ParamLayout;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly velocity: GPUBuffer;
  /** The model state (none for models without stateful ops: then a 16-byte placeholder). */
  readonly state: GPUBuffer;
  private readonly scope: GpuScope;

  private constructor(private readonly gpu: Gpu, readonly spec: ModelSpec, layout: ParamLayout, initial: Float32Array) {
    this.layout = layout;
    this.scope = new GpuScope(gpu, spec.name);
    const bytes = layout.paddedSize * 4;
    this.params = this.scope.upload(`${spec.name}.params`, layout.pack(initial));
    this.grads = this.scope.buffer(`${spec.name}.grads`, bytes);
    this.velocity = this.scope.buffer(`${spec.name}.velocity`, bytes);
    this.state = this.scope.upload(`${spec.name}.state`, layout.state.pack(initState(layout)));
  }

  /** A model with seeded initial parameters, or the given dense parameter vector. */
  static create(gpu: Gpu, spec: ModelSpec, init: { seed: number } | { params: ArrayLike<number> }, options: ParamLayoutOptions = {}): GpuModel {
    const layout = new ParamLayout(spec, gpu.limits.minStorageBufferOffsetAlignment, options);
    const dense = 'seed' in init ? initParams(layout, init.seed) : Float32Array.from(init.params);
    return new GpuModel(gpu, spec, layout, dense);
  }

  /** Dense parameter vector (reference order). A readback: not for use inside a training loop. */
  async readParams(): Promise<Float32Array> {
    return this.layout.unpack(await this.gpu.readF32(this.params));
  }

  async readVelocity(): Promise<Float32Array> {
    return this.layout.unpack(await this.gpu.readF32(this.velocity));
  }

  async readGrads(): Promise<Float32Array> {
    return this.layout.unpack(await this.gpu.readF32(this.grads));
  }

  async readState(): Promise<Float32Array> {
    return this.layout.state.unpack(await this.gpu.readF32(this.state));
  }

  writeParams(dense: ArrayLike<number>): void {
    this.gpu.write(this.params, this.layout.pack(dense));
  }

  /** Replaces the model state (dense, node order: e.g. running statistics from a saved model). */
  writeState(dense: ArrayLike<number>): void {
    this.gpu.write(this.state, this.layout.state.pack(dense));
  }

  /** Zeroes the momentum (e.g. when fine-tuning starts a new phase). */
  resetVelocity(): void {
    this.gpu.write(this.velocity, new Float32Array(this.layout.paddedSize));
  }

  destroy(): void {
    this.scope.destroy();
  }
}
