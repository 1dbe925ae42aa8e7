// The committed MNIST tasks must not change: today's imbalanceTask and noiseTask (now built on the
// generators of corruption.ts and generalised to every data set) against a frozen copy of the
// committed implementation (legacy_tasks.ts), on the real MNIST and on synthetic splits, for several
// seeds and settings: every array of every split, the description, the background class.
import { describe, expect, it } from 'vitest';
import { imbalanceTask, loadMnist, noiseTask, type Mnist, type Task } from '../../src/data';
import { taskTrainData } from '../../src/data/trainer_input';
import * as legacy from './legacy_tasks';

type AnyTask = Task | legacy.Task;

function fingerprint(t: AnyTask) {
  const split = (s: AnyTask['train']) => ({
    y: Array.from(s.y),
    n: s.n,
    sourceIndex: Array.from(s.sourceIndex),
    noisyMask: 'noisyMask' in s && s.noisyMask ? Array.from(s.noisyMask) : null,
    trueY: 'trueY' in s && s.trueY ? Array.from(s.trueY) : null,
  });
  return {
    name: t.name,
    numClasses: t.numClasses,
    inputShape: [...t.inputShape],
    description: t.description,
    classNames: t.classNames,
    backgroundClass: t.backgroundClass ?? null,
    train: split(t.train),
    clean: split(t.clean),
    test: split(t.test),
  };
}

function same(a: AnyTask, b: AnyTask): void {
  const fa = fingerprint(a);
  const fb = fingerprint(b);
  // Compare big arrays without building huge diffs first.
  for (const k of ['train', 'clean', 'test'] as const) {
    for (const f of ['y', 'sourceIndex', 'noisyMask', 'trueY'] as const) {
      const x = fa[k][f];
      const y = fb[k][f];
      expect(x === null, `${k}.${f} presence`).toBe(y === null);
      if (x && y) {
        expect(x.length, `${k}.${f} length`).toBe(y.length);
        expect(x.every((v, i) => v === y[i]), `${k}.${f} values`).toBe(true);
      }
    }
  }
  expect({ ...fa, train: null, clean: null, test: null }).toEqual({ ...fb, train: null, clean: null, test: null });
}

describe('MNIST tasks are bit-identical to the committed implementation', () => {
  let mnist: Mnist;

  it('imbalanceTask on the real MNIST, seeds 1-5, the Fig. 2 ratios', async () => {
    mnist = await loadMnist();
    for (const seed of [1, 2, 3, 4, 5]) {
      for (const ratio of [0.9, 0.995]) {
        const now = imbalanceTask(mnist, { ratio, seed });
        same(now, legacy.imbalanceTask(mnist, { ratio, seed }));
      }
    }
    same(imbalanceTask(mnist, { ratio: 0.95, trainSize: 300, clean: 20, seed: 17 }), legacy.imbalanceTask(mnist, { ratio: 0.95, trainSize: 300, clean: 20, seed: 17 }));
    // And the bytes the trainer receives.
    const a = taskTrainData(mnist, imbalanceTask(mnist, { ratio: 0.99, seed: 3 }));
    const b = taskTrainData(mnist, legacy.imbalanceTask(mnist, { ratio: 0.99, seed: 3 }) as unknown as Task);
    expect(Buffer.from(a.train.x.buffer).equals(Buffer.from(b.train.x.buffer))).toBe(true);
    expect(Buffer.from(a.clean.x.buffer).equals(Buffer.from(b.clean.x.buffer))).toBe(true);
  });

  it('noiseTask on the real MNIST, both flips, seeds 1-4, several levels and sizes', async () => {
    mnist ??= await loadMnist();
    for (const flip of ['uniform', 'background'] as const) {
      for (const seed of [1, 2, 3, 4]) {
        const o = { noise: [0.2, 0.4, 0.6, 0.8][seed - 1], flip, seed };
        same(noiseTask(mnist, o), legacy.noiseTask(mnist, o));
      }
      const small = { noise: 0.5, flip, cleanPerClass: 3, trainSize: 1000, seed: 99 };
      same(noiseTask(mnist, small), legacy.noiseTask(mnist, small));
      const none = { noise: 0, flip, cleanPerClass: 10, seed: 7 };
      same(noiseTask(mnist, none), legacy.noiseTask(mnist, none));
    }
  });

  it('and on bare synthetic splits (the demo builds its MNIST subset by hand)', () => {
    const split = (n: number, shift: number) => ({
      images: new Uint8Array(n * 784),
      labels: Uint8Array.from({ length: n }, (_, i) => (i * 7 + shift) % 10),
      n,
      rows: 28 as const,
      cols: 28 as const,
    });
    const m: Mnist = { train: split(2000, 1), test: split(300, 2), dir: '(synthetic)' };
    for (const seed of [0, 5, 123456]) {
      same(imbalanceTask(m, { ratio: 0.8, trainSize: 150, clean: 6, seed }), legacy.imbalanceTask(m, { ratio: 0.8, trainSize: 150, clean: 6, seed }));
      for (const flip of ['uniform', 'background'] as const) {
        same(noiseTask(m, { noise: 0.45, flip, cleanPerClass: 7, seed }), legacy.noiseTask(m, { noise: 0.45, flip, cleanPerClass: 7, seed }));
      }
    }
  });
});
