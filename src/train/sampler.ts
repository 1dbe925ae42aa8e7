// Seeded minibatch index streams, generated on the CPU and uploaded in bulk (many steps at a time).
import { Rng } from '../util/rng';

export type SamplingMode = 'shuffle' | 'balanced';

/** Where a stream stands: its generator's 32-bit state, the current epoch's permutation and the position in it. */
export interface IndexStreamState {
  rng: number;
  /** Position in `perm` (shuffle mode; 0 in balanced mode). */
  pos: number;
  /** The current epoch's permutation (empty before the first draw and in balanced mode). */
  perm: Uint32Array;
}

// Rng (src/util/rng.ts) keeps its mulberry32 state in a private field `state`; a stream's state is read
// and set through it here, checked, so a change there fails loudly (test/train/checkpoint.test.ts).
type RngInternals = { state: unknown };
function rngState(rng: Rng): number {
  const s = (rng as unknown as RngInternals).state;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new Error('IndexStream: cannot read the generator state (Rng changed?)');
  return s;
}

/**
 * 'shuffle': consecutive epochs, each a fresh permutation of the dataset, cut into batches (a batch
 *   larger than the dataset simply spans several epochs).
 * 'balanced': class-balanced resampling: each slot picks a class uniformly among the classes present,
 *   then an example of that class uniformly (with replacement).
 */
export class IndexStream {
  private readonly rng: Rng;
  private perm: Uint32Array = new Uint32Array(0);
  private pos = 0;
  private readonly byClass: Uint32Array[] = [];

  constructor(private readonly labels: Uint32Array, private readonly mode: SamplingMode, seed: number) {
    if (labels.length === 0) throw new Error('cannot sample minibatches from an empty dataset');
    this.rng = new Rng(seed);
    if (mode === 'balanced') {
      const groups = new Map<number, number[]>();
      labels.forEach((y, i) => {
        const g = groups.get(y) ?? [];
        g.push(i);
        groups.set(y, g);
      });
      for (const k of [...groups.keys()].sort((a, b) => a - b)) this.byClass.push(Uint32Array.from(groups.get(k)!));
    }
  }

  /** A copy of where the stream stands; loadState() on a stream over the same labels continues it exactly. */
  saveState(): IndexStreamState {
    return { rng: rngState(this.rng), pos: this.pos, perm: this.perm.slice() };
  }

  loadState(s: IndexStreamState): void {
    const n = this.labels.length;
    if (!Number.isInteger(s.rng) || s.rng < 0 || s.rng > 0xffffffff) throw new Error(`sampler state: bad generator state ${s.rng}`);
    if (this.mode === 'balanced' ? s.perm.length !== 0 || s.pos !== 0 : s.perm.length !== 0 && s.perm.length !== n) {
      throw new Error(`sampler state: a ${this.mode} stream over ${n} examples cannot hold a permutation of ${s.perm.length}`);
    }
    if (!Number.isInteger(s.pos) || s.pos < 0 || s.pos > s.perm.length) throw new Error(`sampler state: position ${s.pos} is outside its permutation of ${s.perm.length}`);
    const seen = new Uint8Array(n);
    for (const i of s.perm) {
      if (i >= n || seen[i]) throw new Error(`sampler state: the saved permutation is not a permutation of ${n} examples`);
      seen[i] = 1;
    }
    rngState(this.rng); // the field is where it is expected
    (this.rng as unknown as RngInternals).state = s.rng;
    this.perm = s.perm.slice();
    this.pos = s.pos;
  }

  /** The next `count` indices of the stream. */
  take(count: number): Uint32Array {
    const out = new Uint32Array(count);
    if (this.mode === 'balanced') {
      for (let i = 0; i < count; i++) {
        const cls = this.byClass[this.rng.int(this.byClass.length)];
        out[i] = cls[this.rng.int(cls.length)];
      }
      return out;
    }
    for (let i = 0; i < count; i++) {
      if (this.pos === this.perm.length) {
        this.perm = this.rng.shuffle(Uint32Array.from({ length: this.labels.length }, (_, j) => j)) as Uint32Array;
        this.pos = 0;
      }
      out[i] = this.perm[this.pos++];
    }
    return out;
  }
}
