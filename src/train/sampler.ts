// Seeded minibatch index streams, generated on the CPU and uploaded in bulk (many steps at a time).
import { Rng } from '../util/rng';

export type SamplingMode = 'shuffle' | 'balanced';

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
