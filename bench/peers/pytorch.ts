// PyTorch as a peer (Node only): bench/peers/pytorch_steps.py trains the same LeNet and MLP (batch 100,
// softmax cross-entropy, SGD momentum 0.9; L2RW with 10 clean examples, by double backprop as PyTorch
// users write Algorithm 1) in a child process. The child runs in --serve mode: it answers one JSON
// line per block of steps, so that its blocks alternate with blocks of ours exactly like the other
// peers' (bench/peers/index.ts, sideBySide). 'pytorch-cpu' runs torch on 2 threads
// (torch.set_num_threads(2)); 'pytorch-cuda' runs where torch.cuda.is_available() says True. Where no
// python3 with torch is found the peers are skipped with a note, never an error.
import type { BlockTiming } from '../steps';
import type { StepRunner } from './tfjs';

export const PYTORCH_SCRIPT = 'bench/peers/pytorch_steps.py';
/** torch.set_num_threads for the CPU peer (ours on a CPU adapter shares the same 2-core budget). */
export const PYTORCH_CPU_THREADS = 2;
export const TORCH_MISSING_NOTE = 'python3-torch not installed (apt-get install python3-torch, or bash scripts/bench-setup.sh)';

type Device = 'cpu' | 'cuda';

export interface TorchProbe {
  python: string;
  torch: string;
  cuda: boolean;
}

/** A python3 with torch, or why there is none (a one-line note for the report). */
export type TorchFound = TorchProbe | { reason: string };

const PROBE = 'import json, torch; print(json.dumps({"torch": torch.__version__, "cuda": bool(torch.cuda.is_available())}))';

/**
 * Interpreters to try, in order: $L2RW_PYTHON, python3 on PATH, then Debian's /usr/bin/python3 (where
 * apt's python3-torch lands, which a pyenv or venv python3 earlier on PATH does not see).
 */
export function pythonCandidates(env: Record<string, string | undefined> = process.env): string[] {
  const c = [env.L2RW_PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  return [...new Set(c)];
}

/** The last line of `text` that parses as a JSON object, or null. */
export function lastJsonObject(text: string): Record<string, unknown> | null {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].startsWith('{')) continue;
    try {
      const v = JSON.parse(lines[i]);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON: keep looking
    }
  }
  return null;
}

/** One interpreter's answer to the probe: what it printed, or how it failed. */
export interface ProbeOutcome {
  python: string;
  stdout: string;
  stderr: string;
  /** 'ENOENT' when the interpreter does not exist; the exit code otherwise (0: ran). */
  code: number | string | null;
}

/** Picks the first interpreter that imported torch; else the reason for the note. */
export function decideTorch(outcomes: readonly ProbeOutcome[]): TorchFound {
  for (const o of outcomes) {
    if (o.code !== 0) continue;
    const v = lastJsonObject(o.stdout);
    if (v && typeof v.torch === 'string') return { python: o.python, torch: v.torch, cuda: v.cuda === true };
  }
  if (!outcomes.length || outcomes.every((o) => o.code === 'ENOENT')) return { reason: 'python3 not found' };
  const other = outcomes.find((o) => o.code !== 'ENOENT' && !/No module named '?torch/.test(o.stderr));
  if (other) {
    const line = other.stderr.trim().split('\n').pop() ?? '';
    return { reason: `${other.python} could not import torch (${line.slice(0, 200) || `exit ${other.code}`}); ${TORCH_MISSING_NOTE}` };
  }
  return { reason: TORCH_MISSING_NOTE };
}

async function probeOne(python: string, timeoutMs: number): Promise<ProbeOutcome> {
  const { execFile } = await import(/* @vite-ignore */ 'node:child_process');
  return new Promise((resolve) => {
    execFile(python, ['-c', PROBE], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      resolve({ python, stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), code: e ? (e.code ?? (e.killed ? 'timeout' : 1)) : 0 });
    });
  });
}

/** Finds a python3 that imports torch (torch's import takes seconds on a loaded machine). */
export async function findTorch(candidates = pythonCandidates(), timeoutMs = 120_000): Promise<TorchFound> {
  const outcomes: ProbeOutcome[] = [];
  for (const python of candidates) {
    const o = await probeOne(python, timeoutMs);
    outcomes.push(o);
    const found = decideTorch([o]);
    if ('python' in found) return found;
  }
  return decideTorch(outcomes);
}

/** The child's first line in --serve mode. */
export interface TorchHeader {
  torch: string;
  python: string;
  device: Device;
  device_name: string;
  threads: number;
  batch: number;
  clean: number;
  data: string;
}

export function parseHeader(line: string): TorchHeader {
  const v = lastJsonObject(line);
  if (!v || typeof v.torch !== 'string' || typeof v.device_name !== 'string' || typeof v.threads !== 'number') {
    throw new Error(`unexpected first line from ${PYTORCH_SCRIPT}: ${line.slice(0, 200)}`);
  }
  return v as unknown as TorchHeader;
}

/** A block's answer: wall and process-CPU ms per step, or the child's error. */
export function parseBlock(line: string): BlockTiming {
  const v = lastJsonObject(line);
  if (!v) throw new Error(`unexpected line from ${PYTORCH_SCRIPT}: ${line.slice(0, 200)}`);
  if (typeof v.error === 'string') throw new Error(`pytorch: ${v.error}`);
  if (typeof v.ms !== 'number' || !Number.isFinite(v.ms)) throw new Error(`pytorch block without ms: ${line.slice(0, 200)}`);
  return { ms: v.ms, cpu_ms: typeof v.cpu_ms === 'number' && Number.isFinite(v.cpu_ms) ? v.cpu_ms : null };
}

/** A running `pytorch_steps.py --serve` child: one request line, one answer line. */
export class TorchServer {
  private queue: ((line: string | Error) => void)[] = [];
  private stderr = '';
  private closed = false;

  private constructor(
    private child: import('node:child_process').ChildProcessWithoutNullStreams,
    readonly header: TorchHeader,
    private pending: string[],
  ) {}

  /** Starts the child and waits for its header line (torch imported, device ready). */
  static async start(python: string, device: Device, o: { threads?: number; timeoutMs?: number; script?: string } = {}): Promise<TorchServer> {
    const { spawn } = await import(/* @vite-ignore */ 'node:child_process');
    const args = [o.script ?? PYTORCH_SCRIPT, '--serve', '--device', device, '--threads', String(o.threads ?? PYTORCH_CPU_THREADS)];
    const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const lines: string[] = [];
    let waiter: ((l: string | Error) => void) | null = null;
    let buf = '';
    let err = '';
    let server: TorchServer | null = null;
    const deliver = (l: string | Error) => {
      if (server) return server.deliver(l);
      if (waiter) {
        const w = waiter;
        waiter = null;
        w(l);
      } else if (typeof l === 'string') lines.push(l);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) deliver(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      err = (err + d).slice(-4000);
      if (server) server.stderr = err;
    });
    const exited = (why: string) => deliver(new Error(`${PYTORCH_SCRIPT} ${why}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}`));
    child.on('error', (e) => exited(`could not start (${e.message})`));
    child.on('exit', (code, sig) => exited(`exited (${sig ?? code})`));
    const first = await withTimeout(
      new Promise<string | Error>((resolve) => (lines.length ? resolve(lines.shift()!) : (waiter = resolve))),
      o.timeoutMs ?? 120_000,
      () => child.kill('SIGKILL'),
      'start',
    );
    if (first instanceof Error) throw first;
    server = new TorchServer(child, parseHeader(first), lines);
    server.stderr = err;
    return server;
  }

  private deliver(l: string | Error): void {
    const w = this.queue.shift();
    if (w) w(l);
    else if (typeof l === 'string') this.pending.push(l);
    else this.closed = true;
  }

  /** Sends one command and returns the answer line. */
  async request(cmd: Record<string, unknown>, timeoutMs = 600_000): Promise<string> {
    if (this.closed) throw new Error(`${PYTORCH_SCRIPT} is not running${this.stderr.trim() ? ` (${this.stderr.trim().split('\n').pop()})` : ''}`);
    const answer = new Promise<string | Error>((resolve) => (this.pending.length ? resolve(this.pending.shift()!) : this.queue.push(resolve)));
    this.child.stdin.write(JSON.stringify(cmd) + '\n');
    const line = await withTimeout(answer, timeoutMs, () => this.close(), String(cmd.cmd));
    if (line instanceof Error) {
      this.closed = true;
      throw line;
    }
    return line;
  }

  /** A StepRunner over blocks of the child's plain or L2RW steps (the child builds the model on first use). */
  async runner(model: 'lenet' | 'mlp', method: 'plain' | 'l2rw', timeoutMs?: number): Promise<StepRunner> {
    const ok = lastJsonObject(await this.request({ cmd: 'init', model }, timeoutMs));
    if (ok?.error) throw new Error(`pytorch: ${String(ok.error)}`);
    return {
      block: async (steps) => parseBlock(await this.request({ cmd: 'block', model, method, steps }, timeoutMs)),
      dispose: () => {},
    };
  }

  close(): void {
    if (this.closed && this.child.exitCode !== null) return;
    this.closed = true;
    try {
      this.child.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
    } catch {
      // already gone
    }
    const c = this.child;
    setTimeout(() => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, 5000).unref();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${PYTORCH_SCRIPT}: no answer to "${what}" within ${(ms / 1000).toFixed(0)} s`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** One line for the report's notes describing a pytorch peer's setup. */
export function describeTorch(name: string, h: TorchHeader): string {
  const where = h.device === 'cpu' ? `${h.device_name}, torch.set_num_threads(${h.threads})` : h.device_name;
  return `${name}: torch ${h.torch} (python ${h.python}) on ${where}; same LeNet/MLP, batch ${h.batch}, L2RW by double backprop with ${h.clean} clean examples; ${h.data} pixels`;
}
