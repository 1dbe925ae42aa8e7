// `l2rw predict --model FILE [--dataset ...]`: a saved model (train --save-model) on a data set's
// examples: one CSV row per example (its label, the predicted class, the probabilities), and the
// accuracy and confusion matrix printed. Which examples: a split (default test) of own data
// (folder:DIR decoded at the model's input size; classes matched by name), or of the run's task when
// the model was trained on a built-in data set (rebuilt from the run's settings stored in the model),
// else the data set's own split.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { asImageDataset, isOwnDataSpec, parseOwnDataSpec, type DatasetSpec } from '../data/dataset';
import { isOwnDataset } from '../data/own_data';
import type { Gpu } from '../gpu/gpu';
import { UsageError, type RunConfig } from '../experiments/config';
import { buildTask, loadData, trainData, type RunData } from '../experiments/data';
import { csvField } from '../experiments/weights';
import type { HostDataset } from '../train/dataset';
import { Predictor, readModelFile, type ModelFile, type Predictions } from '../train/model_file';
import { parseDatasetOption } from './options';
import type { Streams } from './progress';

export const PREDICT_SPLITS = ['test', 'train', 'clean'] as const;
export type PredictSplit = (typeof PREDICT_SPLITS)[number];

export interface PredictCommandOptions {
  model: string;
  /** Default: the data set the model was trained on (its stored run settings). */
  dataset?: DatasetSpec;
  dataDir?: string;
  split: PredictSplit;
  /** The CSV file; default next to the model, `<model>.<split>-predictions.csv`. */
  out?: string;
  json: boolean;
}

/** The examples to predict: the model's input, labels as the model's class indices, and where each came from. */
export interface PredictionInput {
  data: HostDataset;
  sources: string[];
  /** "the test set of image folder pets": for messages. */
  what: string;
}

/**
 * A split of `data` as the model's input: own data's split with its classes mapped to the model's by
 * name; a built-in data set's split of the model's task (rebuilt from `run`, the settings stored in
 * the model) when the model was trained on it, else the data set's own split.
 */
export function predictionInput(m: ModelFile, data: RunData, split: PredictSplit, run: RunConfig | undefined): PredictionInput {
  const names = m.description.classNames;
  if (isOwnDataset(data)) {
    const s = data[split];
    const map = data.classNames.map((c) => names.indexOf(c));
    const y = new Uint32Array(s.n);
    for (let i = 0; i < s.n; i++) {
      const k = map[s.y[i]];
      if (k < 0) throw new UsageError(`class "${data.classNames[s.y[i]]}" of ${data.title} is not one of the model's classes (${names.join(', ')})`);
      y[i] = k;
    }
    const sources = Array.from({ length: s.n }, (_, i) => (s.files ? s.files[i] : String(s.rows[i])));
    return { data: { x: s.x, y, n: s.n, dim: s.dim }, sources, what: `the ${split} set of ${data.title}` };
  }
  const ds = asImageDataset(data);
  if (run && (run.dataset ?? 'mnist') === ds.name) {
    const task = buildTask(ds, run);
    const td = trainData(ds, task);
    const part = split === 'test' ? td.test! : td[split];
    if (task.classNames.length !== names.length) throw new UsageError(`the model has ${names.length} classes, its task ${task.name} ${task.classNames.length}`);
    return { data: part, sources: Array.from(task[split].sourceIndex, String), what: `the ${split} set of the model's task (${task.name})` };
  }
  if (split === 'clean') throw new UsageError(`--split clean needs the run the model was trained in; ${ds.title} has no clean set of its own`);
  if (ds.classes !== names.length) throw new UsageError(`the model has ${names.length} classes, ${ds.title} ${ds.classes}: predict on the data set it was trained on`);
  const s = ds[split];
  const dim = (s.channels ?? 1) * s.rows * s.cols;
  return {
    data: { x: s.images, y: Uint32Array.from(s.labels), n: s.n, dim },
    sources: Array.from({ length: s.n }, (_, i) => String(i)),
    what: `the ${split} split of ${ds.title}`,
  };
}

/** counts[label][predicted]. */
export function confusionMatrix(p: Predictions, labels: ArrayLike<number>): number[][] {
  const m = Array.from({ length: p.classes }, () => new Array<number>(p.classes).fill(0));
  for (let i = 0; i < p.n; i++) m[labels[i]][p.predicted[i]]++;
  return m;
}

/** The matrix as aligned text: a header row of predicted classes, one row per label. */
export function formatConfusion(m: number[][], names: readonly string[]): string {
  const width = Math.max(...names.map((n) => n.length), ...m.flat().map((v) => String(v).length), 4);
  const pad = (s: string) => s.padStart(width);
  const lines = [`${' '.repeat(width)}  ${names.map(pad).join('  ')}`, ...m.map((row, k) => `${pad(names[k])}  ${row.map((v) => pad(String(v))).join('  ')}`)];
  return lines.join('\n');
}

/** One CSV row per example: index, source, label, predicted, probability (of it), then p_<class> for up to 20 classes. */
export function predictionsCsv(p: Predictions, input: PredictionInput, names: readonly string[]): string {
  const all = p.classes <= 20;
  const head = ['index', 'source', 'label', 'predicted', 'probability', ...(all ? names.map((n) => `p_${n}`) : [])];
  const lines = [head.map(csvField).join(',')];
  for (let i = 0; i < p.n; i++) {
    const k = p.predicted[i];
    const row = [i, input.sources[i], names[input.data.y[i]], names[k], p.probs[i * p.classes + k].toFixed(6)];
    if (all) for (let c = 0; c < p.classes; c++) row.push(p.probs[i * p.classes + c].toFixed(6));
    lines.push(row.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function defaultPredictionsFile(model: string, split: PredictSplit): string {
  return join(dirname(model), `${basename(model).replace(/\.safetensors$/, '')}.${split}-predictions.csv`);
}

/** Returns the exit code (0). Argument errors throw UsageError (exit 2). */
export async function predictCommand(o: PredictCommandOptions, s: Streams, gpuFactory: () => Promise<Gpu>): Promise<number> {
  const m = await readModelFile(o.model).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const d = m.description;
  const run = (d.run ?? undefined) as RunConfig | undefined;
  const dataset = o.dataset ?? run?.dataset ?? (run ? 'mnist' : undefined);
  if (!dataset) throw new UsageError(`${o.model} does not say what it was trained on: give --dataset`);
  const own = parseOwnDataSpec(dataset);
  // Images are decoded at the model's input size and channels.
  const image =
    own?.kind === 'folder' && d.inputShape.length === 3 ? { size: [d.inputShape[1], d.inputShape[2]] as [number, number], channels: d.inputShape[0] === 1 ? (1 as const) : (3 as const) } : {};
  if (own?.kind === 'folder' && d.inputShape.length !== 3) throw new UsageError(`the model takes vectors of ${d.inputShape[0]} values, not images: predict on npy:DIR data`);
  const dataDir = isOwnDataSpec(dataset) ? null : (o.dataDir ?? (run && (run.dataset ?? 'mnist') === dataset ? run.dataDir : null));
  const data = await loadData(dataDir, dataset, image);
  const input = predictionInput(m, data, o.split, run);
  const gpu = await gpuFactory();
  const predictor = await Predictor.create(gpu, m);
  let p: Predictions;
  try {
    p = await predictor.predict(input.data).catch((e: Error) => {
      throw new UsageError(e.message);
    });
  } finally {
    predictor.destroy();
  }
  const out = o.out ?? defaultPredictionsFile(o.model, o.split);
  writeFileSync(out, predictionsCsv(p, input, d.classNames));
  const errors = Math.round((p.error ?? 0) * p.n);
  const matrix = confusionMatrix(p, input.data.y);
  if (o.json) {
    s.stdout.write(
      `${JSON.stringify({ event: 'done', command: 'predict', model: o.model, examples: p.n, what: input.what, accuracy: 1 - (p.error ?? 0), errors, loss: p.loss, classes: d.classNames, confusion: matrix, file: out })}\n`,
    );
    return 0;
  }
  s.stdout.write(`predicted ${p.n} examples (${input.what}) with ${d.spec.name} from ${o.model} on ${gpu.name}\n`);
  s.stdout.write(`accuracy ${(100 * (1 - (p.error ?? 0))).toFixed(2)}% (${p.n - errors}/${p.n}), mean loss ${(p.loss ?? NaN).toFixed(4)}\n`);
  if (p.classes <= 20) s.stdout.write(`confusion matrix (rows: label, columns: predicted):\n${formatConfusion(matrix, d.classNames)}\n`);
  s.stdout.write(`wrote ${out}\n`);
  return 0;
}

function parseSplit(raw: string): PredictSplit {
  if ((PREDICT_SPLITS as readonly string[]).includes(raw)) return raw as PredictSplit;
  throw new InvalidArgumentError(`Allowed choices are ${PREDICT_SPLITS.join(', ')}.`);
}

/** Registers `l2rw predict` on the program. */
export function addPredictCommand(program: Command, s: Streams, setCode: (code: number) => void, gpuFactory: () => Promise<Gpu>, version: string): void {
  program
    .command('predict')
    .version(version)
    .description("predict with a saved model (train --save-model FILE): one CSV row per example, and the accuracy and confusion matrix")
    .requiredOption('--model <file>', 'the model file (train --save-model)')
    .addOption(new Option('--dataset <name>', "the data to predict: folder:DIR, npy:DIR or a built-in data set (default: the model's own)").argParser(parseDatasetOption))
    .option('--data-dir <dir>', "folder of a built-in data set's files (default: the model's run's)")
    .addOption(new Option('--split <name>', 'which examples: test, train or clean').argParser(parseSplit).default('test'))
    .option('--out <file>', 'the predictions CSV (default: next to the model, <model>.<split>-predictions.csv)')
    .option('--json', 'one JSON line on stdout instead of the text summary')
    .action(async (o: { model: string; dataset?: DatasetSpec; dataDir?: string; split: PredictSplit; out?: string; json?: boolean }) => {
      setCode(await predictCommand({ ...o, json: Boolean(o.json) }, s, gpuFactory));
    });
}
