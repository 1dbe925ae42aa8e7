// An owner of GPU objects: everything an engine object makes (buffers, planned dispatches with their
// uniform buffers, child scopes) is made through or handed to its scope, and freed with it.
import type { Gpu } from './gpu';

interface Owned {
  destroy(): void;
}

export class GpuScope {
  private readonly owned: Owned[] = [];
  private destroyed = false;

  constructor(readonly gpu: Gpu, readonly label: string) {}

  /** A storage buffer owned by this scope. */
  buffer(label: string, byteSize: number, usage?: number): GPUBuffer {
    return this.track(this.gpu.buffer(label, byteSize, usage));
  }

  /** A storage buffer holding `data`, owned by this scope. */
  upload(label: string, data: Float32Array | Uint32Array | Int32Array, extraUsage = 0): GPUBuffer {
    return this.track(this.gpu.upload(label, data, extraUsage));
  }

  /** Takes ownership of a buffer the runtime made. */
  track(buffer: GPUBuffer): GPUBuffer {
    this.check();
    this.owned.push({ destroy: () => this.gpu.destroy(buffer) });
    return buffer;
  }

  /** Takes ownership of anything with destroy() (planned dispatches, child scopes, datasets). */
  own<T extends Owned>(x: T): T {
    this.check();
    this.owned.push(x);
    return x;
  }

  ownAll<T extends Owned>(xs: T[]): T[] {
    for (const x of xs) this.own(x);
    return xs;
  }

  /** A scope freed with this one. */
  child(label: string): GpuScope {
    return this.own(new GpuScope(this.gpu, `${this.label}.${label}`));
  }

  private check(): void {
    if (this.destroyed) throw new Error(`${this.label}: used after destroy()`);
  }

  /** Frees everything, newest first. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (let i = this.owned.length - 1; i >= 0; i--) this.owned[i].destroy();
    this.owned.length = 0;
  }
}
