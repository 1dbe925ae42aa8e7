// Progress reporting in three modes: a cli-progress bar with ETA and live loss when stderr is a
// terminal; plain timestamped lines when it is not (logs, CI); JSON lines on stdout with --json.
import cliProgress from 'cli-progress';

export type ProgressMode = 'bar' | 'lines' | 'json';

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export function processStreams(): Streams {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export function progressMode(json: boolean, s: Streams): ProgressMode {
  if (json) return 'json';
  return s.stderr.isTTY && s.env.TERM !== 'dumb' ? 'bar' : 'lines';
}

/** Colour only on a terminal and only when NO_COLOR (https://no-color.org) is unset or empty. */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

export interface ProgressInfo {
  /** What is running now, e.g. "l2rw r=0.995 seed 1". */
  label?: string;
  loss?: number;
}

/** Lines in 'lines' mode at most this often, so a long quiet run still shows it is alive. */
const LINE_INTERVAL_MS = 30_000;

export class Progress {
  private bar: cliProgress.MultiBar | null = null;
  private single: cliProgress.SingleBar | null = null;
  private total = 0;
  private done = 0;
  private label = '';
  private loss: number | undefined;
  private lastLine = 0;
  private readonly t0 = Date.now();

  constructor(readonly mode: ProgressMode, private readonly s: Streams, private readonly unit = 'steps') {}

  start(total: number, info: ProgressInfo = {}): void {
    this.total = total;
    this.label = info.label ?? '';
    if (this.mode !== 'bar') return;
    const color = useColor(this.s.stderr, this.s.env);
    const barText = color ? '\u001b[36m{bar}\u001b[0m' : '{bar}';
    this.bar = new cliProgress.MultiBar(
      {
        stream: this.s.stderr as NodeJS.WriteStream,
        format: `{label} |${barText}| {percentage}% {value}/{total} ${this.unit} | ETA {eta_formatted} | loss {loss}`,
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        clearOnComplete: false,
        // Evaluations and per-run setup make the rate uneven; average the ETA over more updates.
        etaBuffer: 40,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    this.single = this.bar.create(total, 0, { label: this.label, loss: '-' });
  }

  update(done: number, info: ProgressInfo = {}): void {
    this.done = done;
    if (info.label !== undefined) this.label = info.label;
    if (info.loss !== undefined) this.loss = info.loss;
    if (this.mode === 'bar') {
      this.single?.update(done, { label: this.label, loss: this.loss === undefined ? '-' : this.loss.toFixed(4) });
    } else if (this.mode === 'lines' && Date.now() - this.lastLine >= LINE_INTERVAL_MS) {
      this.line(`${this.label} ${done}/${this.total} ${this.unit}${this.loss === undefined ? '' : `, loss ${this.loss.toFixed(4)}`}`);
    }
  }

  /** A message: above the bar, as a plain line on stderr, or (json mode) dropped in favour of event(). */
  log(message: string): void {
    if (this.mode === 'bar') {
      if (this.bar) this.bar.log(`${message}\n`);
      else this.s.stderr.write(`${message}\n`);
    } else if (this.mode === 'lines') this.line(message);
  }

  /** A machine-readable event line on stdout (json mode only). */
  event(kind: string, data: Record<string, unknown>): void {
    if (this.mode === 'json') this.s.stdout.write(`${JSON.stringify({ event: kind, ...data })}\n`);
  }

  stop(): void {
    if (this.bar) {
      this.single?.update(this.done);
      this.bar.stop();
      this.bar = null;
      this.single = null;
    }
  }

  private line(message: string): void {
    this.lastLine = Date.now();
    const t = ((Date.now() - this.t0) / 1000).toFixed(0).padStart(5);
    this.s.stderr.write(`[${t} s] ${message}\n`);
  }
}
