// What `train --save-model FILE` and `train --weights-out FILE` add to a run: the trainer is asked for
// its model and its per-example weight tally once training is over (RunHooks.onTrained, before it is
// freed), and the files are written after the run's own results.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isOwnDataset } from '../data/own_data';
import type { Task } from '../data/tasks';
import { UsageError, type RunConfig } from '../experiments/config';
import type { RunData } from '../experiments/data';
import type { RunHooks, RunResult } from '../experiments/run';
import { exampleWeights, exampleWeightsCsv, meanOfMeans, type ExampleWeight } from '../experiments/weights';
import { trainedModel, writeModelFile, type ModelFile } from '../train/model_file';
import type { WeightTallyCounts } from '../train/trainer';
import type { Progress } from './progress';

export interface TrainOutputs {
  hooks: Pick<RunHooks, 'tallyWeights' | 'onTrained'>;
  /** Writes the files of a finished run; returns the lines to print. */
  write(result: RunResult, progress: Progress): Promise<string[]>;
}

/** Makes the folders of the output files now, so a path that cannot be written fails before training. */
function prepare(flag: string, file: string): string {
  try {
    mkdirSync(dirname(resolve(file)), { recursive: true });
  } catch (e) {
    throw new UsageError(`${flag} ${file}: cannot create its folder (${(e as Error).message})`);
  }
  return file;
}

const fmt = (v: number | null) => (v === null ? '—' : v.toPrecision(3));

export function trainOutputs(o: { saveModel?: string; weightsOut?: string }, c: RunConfig, data: RunData): TrainOutputs {
  const modelFile = o.saveModel ? prepare('--save-model', o.saveModel) : null;
  const weightsFile = o.weightsOut ? prepare('--weights-out', o.weightsOut) : null;
  let model: ModelFile | null = null;
  let tally: { counts: WeightTallyCounts; task: Task } | null = null;
  return {
    hooks: {
      ...(weightsFile ? { tallyWeights: true } : {}),
      ...(modelFile || weightsFile
        ? {
            onTrained: async (trainer, task) => {
              if (modelFile) {
                const inputFormat = isOwnDataset(data) ? data.inputFormat : 'uint8';
                model = await trainedModel(trainer, { classNames: task.classNames, inputFormat, run: c });
              }
              const counts = weightsFile ? await trainer.weightTally() : null;
              if (counts) tally = { counts, task };
            },
          }
        : {}),
    },
    async write(result, progress) {
      if (result.status !== 'ok') return modelFile || weightsFile ? [`${[modelFile, weightsFile].filter(Boolean).join(' and ')} not written: the run did not finish (${result.status})`] : [];
      const lines: string[] = [];
      if (modelFile && model) {
        await writeModelFile(modelFile, model);
        progress.event('saved', { model: modelFile });
        lines.push(`wrote the model to ${modelFile} (l2rw predict --model ${modelFile})`);
      }
      const t = tally as { counts: WeightTallyCounts; task: Task } | null;
      if (weightsFile && t) {
        const rows = exampleWeights(t.counts, t.task, data);
        writeFileSync(weightsFile, exampleWeightsCsv(rows));
        progress.event('saved', { weights: weightsFile, examples: rows.length });
        lines.push(`wrote the weights of ${rows.length} training examples to ${weightsFile}; ${weightsSummary(rows)}`);
      }
      return lines;
    },
  };
}

/** "lowest mean weight: a.png 0.00012, ...; mean weight 0.0100 (corrupted labels 0.00120, others 0.0130)". */
export function weightsSummary(rows: readonly ExampleWeight[], k = 5): string {
  const low = rows.filter((r) => r.meanWeight !== null).slice(0, k);
  const parts = [`lowest mean weight: ${low.map((r) => `${r.source} (${r.label}) ${fmt(r.meanWeight)}`).join(', ')}`];
  if (rows.some((r) => r.corrupted !== undefined)) {
    parts.push(`mean weight of corrupted labels ${fmt(meanOfMeans(rows.filter((r) => r.corrupted)))}, of the others ${fmt(meanOfMeans(rows.filter((r) => !r.corrupted)))}`);
  }
  return parts.join('; ');
}
