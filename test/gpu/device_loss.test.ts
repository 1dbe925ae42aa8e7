// A lost device while statistics are in flight: the pending readbacks must reject with the runtime's
// device-lost error (GpuLostError with its reason), not the bare AbortError of the failed mapAsync.
import { describe, expect, it } from 'vitest';
import { GpuLostError } from '../../src/gpu/errors';
import { Gpu } from '../../src/gpu/gpu';
import { STAT_COUNT } from '../../src/kernels/step_stats';
import { StatsReader } from '../../src/train/stats_reader';

describe('device loss', () => {
  it('pending statistics reject with the device-lost error, not a bare AbortError', async () => {
    // Its own device: this test destroys it.
    const gpu = await Gpu.create();
    const stats = gpu.buffer('stats', STAT_COUNT * 4);
    const reader = new StatsReader(gpu, stats);
    const slot = await reader.reserve();
    const encoder = gpu.device.createCommandEncoder();
    reader.record(encoder, slot);
    gpu.submit([encoder.finish()]);
    const pending = reader.collect(slot, 1);
    gpu.device.destroy();
    const err = await pending.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GpuLostError);
    expect((err as Error).message).toMatch(/device was destroyed/);
  });

  it('a readback after the loss names the loss', async () => {
    const gpu = await Gpu.create();
    const buf = gpu.upload('x', new Float32Array([1, 2, 3, 4]));
    const read = gpu.readF32(buf);
    gpu.device.destroy();
    const err = await read.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GpuLostError);
    expect((err as Error).message).toMatch(/device was destroyed/);
  });
});
