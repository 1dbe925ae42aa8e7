// A model on the GPU: its architecture, and its parameters, gradients and momentum in flat buffers
// sharing one padded layout (see param_layout.ts).
import type { Gpu } from '../gpu/gpu';
import { initParams } from './init';
import { ParamLayout } from './param_layout';
import type { ModelSpec } from './spec';

export class GpuModel {
  readonly layout: ParamLayout;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly velocity: GPUBuffer;

  private constructor(private readonly gpu: Gpu, readonly spec: ModelSpec, initial: Float32Array) {
    this.layout = new ParamLayout(spec, gpu.limits.minStorageBufferOffsetAlignment);
    const bytes = this.layout.paddedSize * 4;
    this.params = gpu.upload(`${spec.name}.params`, this.layout.pack(initial));
    this.grads = gpu.buffer(`${spec.name}.grads`, bytes);
    this.velocity = gpu.buffer(`${spec.name}.velocity`, bytes);
  }

  /** A model with seeded initial parameters, or the given dense parameter vector. */
  static create(gpu: Gpu, spec: ModelSpec, init: { seed: number } | { params: ArrayLike<number> }): GpuModel {
    const layout = new ParamLayout(spec, gpu.limits.minStorageBufferOffsetAlignment);
    const dense = 'seed' in init ? initParams(layout, init.seed) : Float32Array.from(init.params);
    return new GpuModel(gpu, spec, dense);
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

  writeParams(dense: ArrayLike<number>): void {
    this.gpu.write(this.params, this.layout.pack(dense));
  }

  /** Zeroes the momentum (e.g. when fine-tuning starts a new phase). */
  resetVelocity(): void {
    this.gpu.write(this.velocity, new Float32Array(this.layout.paddedSize));
  }

  destroy(): void {
    for (const b of [this.params, this.grads, this.velocity]) this.gpu.destroy(b);
  }
}
