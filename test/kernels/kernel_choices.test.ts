// The per-adapter kernel-variant cache in Node (src/gpu/kernel_choices.ts): where the file lives, that
// it survives concurrent writers and bad contents, and the two override routes (Gpu.create({ kernels })
// and L2RW_KERNELS) as a Matmul sees them. The choice logic itself is in the shared kernel-check table
// (test/kernels/checks/matmul.ts), which runs in the browser too.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/gpu';
import { fileChoiceStore, KernelChoices, memoryChoiceStore, nodeCacheDir, type Measurement, type StoredChoice } from '../../src/gpu/kernel_choices';
import { Matmul } from '../../src/kernels/matmul';
import { pickVariant, tuneVariants, TUNE_MARGIN } from '../../src/kernels/tune';

const dir = mkdtempSync(path.join(tmpdir(), 'l2rw-choices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (variant: string): StoredChoice => ({ variant, at: '2026-01-01T00:00:00.000Z' });

describe('kernel choice cache (Node)', () => {
  it('lives under $XDG_CACHE_HOME/l2rw-gpu, else ~/.cache/l2rw-gpu (a relative XDG_CACHE_HOME is ignored, as the spec says)', () => {
    expect(nodeCacheDir({ XDG_CACHE_HOME: '/var/cache/me' }, '/home/me')).toBe('/var/cache/me/l2rw-gpu');
    expect(nodeCacheDir({}, '/home/me')).toBe('/home/me/.cache/l2rw-gpu');
    expect(nodeCacheDir({ XDG_CACHE_HOME: 'rel' }, '/home/me')).toBe('/home/me/.cache/l2rw-gpu');
  });

  it('stores entries in a JSON file, keeps the first entry for a key unless told to replace it', async () => {
    const file = path.join(dir, 'sub', 'kernel-choices.json');
    const store = fileChoiceStore(file);
    expect(await store.load('k')).toBeNull();
    await store.save('k', entry('scalar'));
    await store.save('k', entry('blocked'));
    await store.save('other', entry('tiled'));
    expect((await fileChoiceStore(file).load('k'))?.variant).toBe('scalar');
    await store.save('k', entry('blocked'), true);
    expect((await store.load('k'))?.variant).toBe('blocked');
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).entries).sort()).toEqual(['k', 'other']);
  });

  it('treats an unreadable file as empty and never throws on an unwritable place', async () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, '{ not json');
    const store = fileChoiceStore(file);
    expect(await store.load('k')).toBeNull();
    await store.save('k', entry('scalar'));
    expect((await store.load('k'))?.variant).toBe('scalar');
    const nowhere = fileChoiceStore('/proc/l2rw-gpu/kernel-choices.json');
    await expect(nowhere.save('k', entry('scalar'))).resolves.toBeUndefined();
    expect(await nowhere.load('k')).toBeNull();
  });
});

describe('choosing the matmul variant on a Gpu', () => {
  const gpus: Gpu[] = [];
  const create = async (options: Parameters<typeof Gpu.create>[0]) => {
    const gpu = await Gpu.create(options);
    gpus.push(gpu);
    return gpu;
  };
  afterAll(() => gpus.forEach((g) => g.device.destroy()));

  it('Gpu.create({ kernels }) forces a variant, also one that is not measured on this adapter, and describe() says so', async () => {
    const gpu = await create({ kernels: { matmul: 'tiled' }, kernelCache: false });
    expect((await Matmul.create(gpu, { transB: true })).variant).toBe('tiled');
    expect(gpu.describe()).toMatch(/matmul: tiled \[override \(Gpu\.create\(\{ kernels \}\)\)\]/);
    // MatmulOptions.variant still wins for one Matmul.
    expect((await Matmul.create(gpu, { variant: 'blocked' })).variant).toBe('blocked');
  });

  it('L2RW_KERNELS forces a variant; an unknown one is refused by name', async () => {
    const saved = process.env.L2RW_KERNELS;
    try {
      process.env.L2RW_KERNELS = 'matmul:scalar';
      const gpu = await create({ kernelCache: false });
      expect((await Matmul.create(gpu)).variant).toBe('scalar');
      expect(gpu.describe()).toMatch(/overrides from L2RW_KERNELS: matmul:scalar/);
      process.env.L2RW_KERNELS = 'matmul:fastest';
      const bad = await create({ kernelCache: false });
      await expect(Matmul.create(bad)).rejects.toThrow(/L2RW_KERNELS: "matmul:fastest" names no variant of matmul \(variants: blocked, scalar, tiled, subgroup, or auto\)/);
    } finally {
      if (saved === undefined) delete process.env.L2RW_KERNELS;
      else process.env.L2RW_KERNELS = saved;
    }
  });

  it('measures once per adapter: the next Gpu reads the cached choice and its figures', async () => {
    const store = fileChoiceStore(path.join(dir, 'gpu', 'kernel-choices.json'));
    const first = await create({ kernelCache: store, kernels: '' });
    const chosen = (await Matmul.create(first)).variant;
    expect(first.describe()).toMatch(new RegExp(`matmul: ${chosen} \\[measured now; 100x256x320 \\+ 256x320x100 in \\d`));
    expect(first.counters.liveBuffers).toBe(1); // the placeholder: the measurement freed its buffers
    const second = await create({ kernelCache: store, kernels: '' });
    expect((await Matmul.create(second, { transA: true })).variant).toBe(chosen);
    expect(second.describe()).toMatch(new RegExp(`matmul: ${chosen} \\[cached for this adapter; .*compile \\d`));
  });
});

describe('measuring several kernels at once', () => {
  it('runs one measurement at a time, also when one fails, and each kernel still gets its own answer', async () => {
    const choices = new KernelChoices('test-adapter', new Map(), 'none', memoryChoiceStore());
    const spans: [string, number, number][] = [];
    const measure = (kernel: string, variant: string, fail = false) => async (): Promise<Measurement> => {
      const start = performance.now();
      await new Promise((r) => setTimeout(r, 30));
      spans.push([kernel, start, performance.now()]);
      if (fail) throw new Error(`${kernel} failed`);
      return { variant, shapes: 'test', totalMs: 30, candidates: [{ variant, compileMs: 1, ms: 1 }] };
    };
    const all = ['a', 'b'];
    const results = await Promise.allSettled([
      choices.choose('k1', all, all, 'src1', measure('k1', 'b')),
      choices.choose('k2', all, all, 'src2', measure('k2', 'a', true)),
      choices.choose('k3', all, all, 'src3', measure('k3', 'a')),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual(['b', 'rejected', 'a']);
    expect(spans.map((s) => s[0])).toEqual(['k1', 'k2', 'k3']);
    // Each starts after the previous one ended.
    for (let i = 1; i < spans.length; i++) expect(spans[i][1]).toBeGreaterThanOrEqual(spans[i - 1][2]);
  });
});

describe('naming the measured variant (pickVariant)', () => {
  const t = (variant: string, ms: number | null) => ({ variant, compileMs: 1, ms });

  it('keeps the default when another form is less than TUNE_MARGIN faster, and switches when it is more', () => {
    expect(TUNE_MARGIN).toBe(0.1);
    expect(pickVariant([t('blocked', 22.3), t('scalar', 21.0)])).toBe('blocked');
    expect(pickVariant([t('blocked', 22.3), t('scalar', 19.9)])).toBe('scalar');
    expect(pickVariant([t('blocked', 217), t('scalar', 48)])).toBe('scalar');
    // The fastest of several, measured against the default, not against the runner-up.
    expect(pickVariant([t('blocked', 10), t('scalar', 8.5), t('tiled', 8.8)])).toBe('scalar');
    expect(pickVariant([t('blocked', 10), t('scalar', 9.5), t('tiled', 8.8)])).toBe('tiled');
    expect(pickVariant([t('blocked', 10), t('scalar', 20)], 0)).toBe('blocked');
    expect(pickVariant([t('blocked', 10), t('scalar', 9.99)], 0)).toBe('scalar');
  });

  it('takes the first timed candidate as the default when the first was not timed', () => {
    expect(pickVariant([t('blocked', null), t('scalar', 10), t('tiled', 9.5)])).toBe('scalar');
    expect(pickVariant([t('blocked', null), t('scalar', 10), t('tiled', 8)])).toBe('tiled');
    expect(() => pickVariant([t('blocked', null)])).toThrow(/no candidate was timed/);
  });
});

describe('the test suite and the user cache', () => {
  it("measures into test-results/cache (vitest.config.ts), not the user's cache", async () => {
    expect(process.env.XDG_CACHE_HOME).toMatch(/\/test-results\/cache$/);
    const gpu = await Gpu.create();
    try {
      expect(gpu.kernelChoices.describe().join('\n')).toContain('/test-results/cache/l2rw-gpu/');
    } finally {
      gpu.device.destroy();
    }
  });
});

describe('the start-up measurement (tuneVariants)', () => {
  it('compiles the candidates at once, keeps one that fails to compile out with a note, and releases its buffers', async () => {
    const gpu = await Gpu.create({ kernelCache: false });
    try {
      const shape = { m: 8, n: 8, k: 8 };
      const a = gpu.upload('a', new Float32Array(64).fill(1));
      const b = gpu.upload('b', new Float32Array(64).fill(1));
      const c = gpu.buffer('c', 64 * 4);
      let op: Matmul | null = null;
      let brokenStarted!: () => void;
      const started = new Promise<void>((resolve) => (brokenStarted = resolve));
      let overlapped = false;
      let released = false;
      const m = await tuneVariants(
        gpu,
        [
          {
            variant: 'blocked',
            async compile() {
              // Resolves only if the second candidate's compile starts before this one ends.
              overlapped = await Promise.race([started.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
              op = await Matmul.create(gpu, { variant: 'blocked' });
            },
            plan: () => [op!.plan(a, b, c, shape, {}, 'tune.blocked')],
          },
          {
            variant: 'broken',
            async compile() {
              brokenStarted();
              throw new Error('no such form\nsecond line');
            },
            plan: () => [],
          },
        ],
        { shapes: '8x8x8' },
        () => {
          released = true;
        },
      );
      expect(overlapped).toBe(true);
      expect(released).toBe(true);
      expect(m.variant).toBe('blocked');
      expect(m.candidates.map((t) => t.variant)).toEqual(['blocked', 'broken']);
      expect(m.candidates[1]).toMatchObject({ ms: null, note: 'failed to compile: no such form' });
      expect(m.candidates[0].ms).toBeGreaterThan(0);
      for (const t of m.candidates) expect(t.compileMs).toBeGreaterThanOrEqual(0);
      for (const buf of [a, b, c]) gpu.destroy(buf);
    } finally {
      gpu.device.destroy();
    }
  });
});
