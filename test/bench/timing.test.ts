// The benchmark timer's handling of coarse timestamps (bench/lib/timing.ts) with a fake clock: no GPU
// and no wall time. Dawn quantises timestamps to multiples of 2^15 ns; a kernel shorter than that must
// be timed by many executions per pass, and a time below what can be resolved must print as a bound.
import { describe, expect, it } from 'vitest';
import { fmtMs, fmtRate, MAX_REPS, ratio, TARGET_QUANTA, TimestampResolution, timeBatched, type PassSampler } from '../../bench/lib/timing';

const QUANTUM = 32768n;

/**
 * A fake GPU clock: each pass starts `gapNs` after the last one ended and lasts reps * kernelNs; the
 * stamps read are the true times rounded down to a multiple of `quantum` (1n: no quantisation).
 */
function fakeClock(kernelNs: number, quantum: bigint, gapNs = 1233) {
  let t = 10_000_019; // not a multiple of anything useful
  const calls: { reps: number; count: number }[] = [];
  const sample: PassSampler = async (reps, count) => {
    calls.push({ reps, count });
    const out: bigint[] = [];
    for (let i = 0; i < count; i++) {
      t += gapNs;
      const begin = BigInt(Math.floor(t));
      t += reps * kernelNs;
      const end = BigInt(Math.floor(t));
      out.push(begin - (begin % quantum), end - (end % quantum));
    }
    return out;
  };
  return { sample, calls };
}

describe('bench timer with quantised timestamps', () => {
  it('finds the quantum as the GCD of the differences between stamps', () => {
    const r = new TimestampResolution();
    expect(r.ns).toBe(0);
    const base = 590672194n * QUANTUM;
    r.observe([base, base, 0n]);
    expect(r.ns).toBe(0); // all equal: unknown
    r.observe([base + 4n * QUANTUM, base + 10n * QUANTUM, base + 7n * QUANTUM]);
    expect(r.ns).toBe(32768);
    r.observe([base + 123457n]);
    expect(r.ns).toBe(1);
  });

  it('grows the executions per pass until a pass lasts the target number of quanta', async () => {
    const kernelNs = 3000; // 3 us: about a tenth of a quantum
    const { sample, calls } = fakeClock(kernelNs, QUANTUM);
    const t = await timeBatched(sample, 40, new TimestampResolution());
    // R went up geometrically, pass by pass.
    const reps = calls.map((c) => c.reps);
    expect(reps[0]).toBe(1);
    for (let i = 1; i < reps.length; i++) expect(reps[i]).toBeGreaterThanOrEqual(2 * reps[i - 1]);
    expect(t.reps).toBe(reps[reps.length - 1]);
    expect(t.reps * kernelNs).toBeGreaterThanOrEqual(TARGET_QUANTA * 32768 * 0.9);
    expect(t.ms_bound).toBe(false);
    // Within one quantum per pass of the true 0.003 ms.
    expect(Math.abs(t.ms - kernelNs / 1e6)).toBeLessThanOrEqual(t.resolution_ms + 1e-12);
    expect(t.resolution_ms).toBeCloseTo(32768 / t.reps / 1e6, 12);
    expect(t.executions).toBe(calls.reduce((a, c) => a + c.reps * c.count, 0));
    expect(Number.isFinite(t.ms) && t.ms > 0).toBe(true);
  });

  it('keeps one execution per pass when the kernel spans many quanta', async () => {
    const kernelNs = 50 * 32768;
    const { sample, calls } = fakeClock(kernelNs, QUANTUM);
    const res = new TimestampResolution();
    res.observe([QUANTUM, 4n * QUANTUM, 11n * QUANTUM]); // calibrated, as GpuTimer does with empty passes
    const t = await timeBatched(sample, 7, res);
    expect(calls).toEqual([{ reps: 1, count: 7 }]);
    expect(t.reps).toBe(1);
    expect(t.ms_bound).toBe(false);
    expect(Math.abs(t.ms - kernelNs / 1e6)).toBeLessThanOrEqual(32768 / 1e6);
  });

  it('leaves an un-quantised timer alone', async () => {
    const { sample, calls } = fakeClock(5000, 1n);
    const res = new TimestampResolution();
    const t = await timeBatched(sample, 9, res);
    expect(res.ns).toBe(1);
    expect(calls).toEqual([{ reps: 1, count: 9 }]);
    expect(t.ms).toBeCloseTo(0.005, 6);
    expect(t.ms_bound).toBe(false);
  });

  it('reports an upper bound, not zero, when even MAX_REPS executions stay under one quantum', async () => {
    const { sample, calls } = fakeClock(0, QUANTUM, 0);
    const res = new TimestampResolution();
    res.observe([QUANTUM, 4n * QUANTUM, 11n * QUANTUM]); // calibrated, as GpuTimer does with empty passes
    const t = await timeBatched(sample, 3, res);
    expect(calls[calls.length - 1].reps).toBe(MAX_REPS);
    expect(t.ms_bound).toBe(true);
    expect(t.ms).toBeCloseTo(32768 / MAX_REPS / 1e6, 15);
    expect(Number.isFinite(1 / t.ms)).toBe(true);
  });

  it('prints bounds as "< X" / "> Y" and never Infinity or NaN', () => {
    expect(fmtMs(8e-6, true)).toBe('< 8.0e-6');
    expect(fmtMs(0.00042, true)).toBe('< 0.00042');
    expect(fmtMs(0.0328, true)).toBe('< 0.033');
    expect(fmtMs(1.23456)).toBe('1.235');
    expect(fmtMs(0.0004)).toBe('0.00040');
    expect(fmtRate(524.288, true)).toBe('> 524.29');
    for (const bad of [Infinity, -Infinity, NaN, null, undefined]) {
      expect(fmtMs(bad)).toBe('n/a');
      expect(fmtRate(bad, true)).toBe('n/a');
    }
    expect(ratio(2, false, 1, false)).toBe(2);
    expect(ratio(2, false, 1e-6, true)).toBeNull();
    expect(ratio(2, true, 1, false)).toBeNull();
    expect(ratio(2, false, 0, false)).toBeNull();
    const all = [fmtMs(1e-9, true), fmtRate(1e12, true), fmtMs(0), fmtRate(0)].join(' ');
    expect(all).not.toMatch(/Infinity|NaN/);
  });
});
