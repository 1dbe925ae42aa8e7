// Kernel variants per adapter. Some kernels come in several forms (src/kernels/matmul.ts: a
// loop-indexed register block, a written-out one, a workgroup-memory tiled one) whose speed depends on
// the adapter far more than on the shape: a CPU driver that unrolls loops, one that does not, a GPU.
// The first time a kernel is created on a Gpu, its wrapper asks choose() for a variant: an override
// when one is given, else the choice cached for this adapter, else a short measurement of every
// candidate (the wrapper's `measure`), whose winner is cached. Choices are printed by Gpu.describe().
//
// Overrides: Gpu.create({ kernels: 'matmul:scalar' }) or the environment variable
// L2RW_KERNELS=matmul:scalar,... (Node); `kernel:auto` measures even when a choice is cached.
// Cache: a JSON file under $XDG_CACHE_HOME/l2rw-gpu/ (default ~/.cache/l2rw-gpu/) in Node,
// localStorage in a browser. An entry is keyed by the adapter (vendor, architecture, device and the
// driver's description, which names its version), the runtime and a hash of every candidate's WGSL,
// so a new driver or an edited kernel is measured again. The first entry written for a key is kept:
// concurrent processes on one machine then agree on the variant (and so on the rounding of results).

/** One candidate's figures from a start-up measurement. */
export interface VariantTiming {
  variant: string;
  /**
   * Milliseconds until its pipelines were compiled (createComputePipelineAsync, the measured
   * configuration), counted from the start of the measurement's compiles, which run concurrently.
   */
  compileMs: number;
  /**
   * Milliseconds of its first run (one round of the shapes): lavapipe compiles the machine code there,
   * on first dispatch, so on a CPU driver this is part of the compile time.
   */
  firstMs?: number;
  /** Median milliseconds per round of the measured shapes; null when not timed (see note). */
  ms: number | null;
  note?: string;
}

/** What a wrapper's measurement returns. */
export interface Measurement {
  /** The fastest candidate. */
  variant: string;
  /** The shapes timed, for the record (e.g. "128x256x256, 100x64x500"). */
  shapes: string;
  candidates: VariantTiming[];
  /** Wall milliseconds of the whole measurement, compiles included. */
  totalMs: number;
}

export interface KernelChoice {
  kernel: string;
  variant: string;
  /** Where it came from: an override, this adapter's cache entry, a measurement now, or the only candidate. */
  how: 'override' | 'cached' | 'measured' | 'only';
  /** The measurement behind a cached or measured choice. */
  measurement?: Measurement;
  /** Who overrode it (option or environment). */
  overriddenBy?: string;
}

export interface StoredChoice {
  variant: string;
  measurement?: Measurement;
  /** ISO time of the measurement. */
  at: string;
}

/** Where choices persist between runs. Failures are swallowed: the cache is an optimisation. */
export interface ChoiceStore {
  readonly where: string;
  load(key: string): Promise<StoredChoice | null>;
  /** Stores `value` under `key` unless an entry is there already (first writer wins) or `replace`. */
  save(key: string, value: StoredChoice, replace?: boolean): Promise<void>;
}

/** `matmul:scalar, conv2d:auto` -> Map{matmul: scalar, conv2d: auto}; throws on a malformed item. */
export function parseKernelOverrides(text: string, source = 'L2RW_KERNELS'): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9_]+)\s*[:=]\s*([a-z0-9_-]+)$/i.exec(item);
    if (!m) throw new Error(`${source}: "${item}" is not kernel:variant (e.g. matmul:scalar)`);
    out.set(m[1], m[2]);
  }
  return out;
}

/** A store that forgets everything when the process ends (no cache, or no place to keep one). */
export function memoryChoiceStore(where = 'none (this process only)'): ChoiceStore {
  const entries = new Map<string, StoredChoice>();
  return {
    where,
    async load(key) {
      return entries.get(key) ?? null;
    },
    async save(key, value, replace = false) {
      if (replace || !entries.has(key)) entries.set(key, value);
    },
  };
}

type Entries = Record<string, StoredChoice>;

function parseEntries(text: string | null): Entries {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as { entries?: Entries };
    return v && typeof v === 'object' && v.entries && typeof v.entries === 'object' ? v.entries : {};
  } catch {
    return {};
  }
}

const FILE_NAME = 'kernel-choices.json';
const STORAGE_KEY = 'l2rw-gpu.kernel-choices';

/** The cache directory in Node: $XDG_CACHE_HOME/l2rw-gpu, else ~/.cache/l2rw-gpu. */
export function nodeCacheDir(env: Record<string, string | undefined>, home: string): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : `${home}/.cache`;
  return `${base}/l2rw-gpu`;
}

/**
 * mkdir -p, one level at a time: Node's own recursive mkdir loops forever under /proc (where every
 * mkdir fails with ENOENT), and a cache must never hang a run.
 */
async function makeDirs(fs: typeof import('node:fs/promises'), dir: string): Promise<void> {
  const parts = dir.split('/');
  for (let i = 2; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (!prefix) continue;
    try {
      await fs.mkdir(prefix);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
  }
}

/** A JSON file of entries (Node). Written through a temporary file and a rename, so never half-written. */
export function fileChoiceStore(path: string): ChoiceStore {
  const read = async (): Promise<Entries> => {
    const fs = await import('node:fs/promises');
    return parseEntries(await fs.readFile(path, 'utf8').catch(() => null));
  };
  return {
    where: path,
    async load(key) {
      return (await read())[key] ?? null;
    },
    async save(key, value, replace = false) {
      try {
        const fs = await import('node:fs/promises');
        const entries = await read();
        if (entries[key] && !replace) return;
        entries[key] = value;
        await makeDirs(fs, path.slice(0, path.lastIndexOf('/')));
        const tmp = `${path}.${(globalThis as { process?: { pid?: number } }).process?.pid ?? 0}.${Date.now()}.tmp`;
        await fs.writeFile(tmp, JSON.stringify({ about: 'l2rw-gpu kernel variants chosen per adapter (src/gpu/kernel_choices.ts); delete to measure again', entries }, null, 1));
        await fs.rename(tmp, path);
      } catch {
        // A read-only or missing home: the choice is simply measured again next time.
      }
    },
  };
}

/** localStorage (browser). */
export function localStorageChoiceStore(storage: Storage): ChoiceStore {
  return {
    where: `localStorage["${STORAGE_KEY}"]`,
    async load(key) {
      return parseEntries(storage.getItem(STORAGE_KEY))[key] ?? null;
    },
    async save(key, value, replace = false) {
      try {
        const entries = parseEntries(storage.getItem(STORAGE_KEY));
        if (entries[key] && !replace) return;
        entries[key] = value;
        storage.setItem(STORAGE_KEY, JSON.stringify({ entries }));
      } catch {
        // Storage full or disabled.
      }
    },
  };
}

function nodeProcess(): { env: Record<string, string | undefined> } | null {
  const p = (globalThis as { process?: { versions?: { node?: string }; env: Record<string, string | undefined> } }).process;
  return typeof p?.versions?.node === 'string' ? p : null;
}

/** The environment's store: the cache file in Node, localStorage in a page, else memory only. */
export function defaultChoiceStore(): ChoiceStore {
  const proc = nodeProcess();
  if (proc) {
    const home = proc.env.HOME || proc.env.USERPROFILE;
    if (!home && !proc.env.XDG_CACHE_HOME) return memoryChoiceStore('none (no HOME or XDG_CACHE_HOME)');
    return fileChoiceStore(`${nodeCacheDir(proc.env, home ?? '/')}/${FILE_NAME}`);
  }
  try {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    if (storage) return localStorageChoiceStore(storage);
  } catch {
    // localStorage throws in some sandboxed pages.
  }
  return memoryChoiceStore();
}

/** L2RW_KERNELS from the environment (Node), or '' (browser, or unset). */
export function envKernelOverrides(): string {
  return nodeProcess()?.env.L2RW_KERNELS ?? '';
}

/** FNV-1a of a string, as 8 hex digits: the sources part of a cache key. */
export function sourceHash(...texts: string[]): string {
  let h = 2166136261;
  for (const s of texts) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    h = Math.imul(h ^ 0x1f, 16777619);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** One line per kernel: the variant, how it was chosen, and the figures behind it. */
export function describeChoice(c: KernelChoice): string {
  const how = c.how === 'override' ? `override (${c.overriddenBy})` : c.how === 'cached' ? 'cached for this adapter' : c.how === 'measured' ? 'measured now' : 'the only variant';
  const m = c.measurement;
  if (!m) return `${c.kernel}: ${c.variant} [${how}]`;
  const each = m.candidates
    .map((t) => {
      const first = t.firstMs === undefined ? '' : `, first run ${fmtMs(t.firstMs)} ms`;
      return `${t.variant} ${t.ms === null ? 'not timed' : `${fmtMs(t.ms)} ms`} (compile ${fmtMs(t.compileMs)} ms${first}${t.note ? `; ${t.note}` : ''})`;
    })
    .join(', ');
  return `${c.kernel}: ${c.variant} [${how}; ${m.shapes} in ${fmtMs(m.totalMs)} ms: ${each}]`;
}

export class KernelChoices {
  private readonly pending = new Map<string, Promise<KernelChoice>>();
  private readonly made: KernelChoice[] = [];

  /**
   * @param adapterKey identifies the adapter and driver (see adapterKey in gpu.ts)
   * @param overrides kernel -> variant (or 'auto'), with the name of where they came from
   */
  constructor(
    readonly adapterKey: string,
    private readonly overrides: ReadonlyMap<string, string>,
    readonly overrideSource: string,
    readonly store: ChoiceStore,
  ) {}

  /** The last measurement started: the next one waits for it (see decide). */
  private measuring: Promise<unknown> = Promise.resolve();

  /** The choices made so far, in order. */
  get choices(): readonly KernelChoice[] {
    return this.made;
  }

  /**
   * The variant of `kernel` to use on this adapter (once per Gpu: later calls get the same answer).
   * @param variants every variant (what an override may name)
   * @param candidates the variants worth measuring on this adapter, the fallback first
   * @param sources text that changes whenever a candidate's code does (hashed into the cache key)
   * @param measure times the candidates and names the fastest; called only on a cache miss
   */
  choose(kernel: string, variants: readonly string[], candidates: readonly string[], sources: string, measure: () => Promise<Measurement>): Promise<string> {
    let p = this.pending.get(kernel);
    if (!p) {
      p = this.decide(kernel, variants, candidates, sources, measure).then((c) => {
        this.made.push(c);
        return c;
      });
      this.pending.set(kernel, p);
    }
    return p.then((c) => c.variant);
  }

  private async decide(kernel: string, variants: readonly string[], candidates: readonly string[], sources: string, measure: () => Promise<Measurement>): Promise<KernelChoice> {
    const wanted = this.overrides.get(kernel);
    if (wanted !== undefined && wanted !== 'auto') {
      if (!variants.includes(wanted)) {
        throw new Error(`${this.overrideSource}: "${kernel}:${wanted}" names no variant of ${kernel} (variants: ${variants.join(', ')}, or auto)`);
      }
      return { kernel, variant: wanted, how: 'override', overriddenBy: this.overrideSource };
    }
    if (candidates.length === 1) return { kernel, variant: candidates[0], how: 'only' };
    const store = this.store;
    const key = `${this.adapterKey}|${kernel}|${sourceHash(sources, candidates.join(','))}`;
    if (wanted !== 'auto') {
      const hit = await store.load(key);
      if (hit && candidates.includes(hit.variant)) return { kernel, variant: hit.variant, how: 'cached', measurement: hit.measurement };
    }
    // One measurement at a time on a Gpu: a model creates its ops at once, and two kernels measured
    // together would time each other's batches (each waits for the whole queue) and compiles.
    const turn = this.measuring.then(measure);
    this.measuring = turn.catch(() => undefined);
    const measurement = await turn;
    if (!candidates.includes(measurement.variant)) throw new Error(`${kernel}: the measurement chose "${measurement.variant}", not a candidate`);
    await store.save(key, { variant: measurement.variant, measurement, at: new Date().toISOString() }, wanted === 'auto');
    return { kernel, variant: measurement.variant, how: 'measured', measurement };
  }

  /** Printable lines: the cache's place, the overrides, and every choice made on this Gpu so far. */
  describe(): string[] {
    const over = this.overrides.size ? `; overrides from ${this.overrideSource}: ${[...this.overrides].map(([k, v]) => `${k}:${v}`).join(',')}` : '';
    const lines = [`kernel variants (cache: ${this.store.where}${over}):`];
    if (!this.made.length) lines.push('  (no kernel with variants created yet)');
    for (const c of this.made) lines.push(`  ${describeChoice(c)}`);
    return lines;
  }
}
