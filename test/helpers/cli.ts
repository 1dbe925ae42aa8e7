// Runs the real `l2rw` bin (and so the vite build of src/cli) as a user would, for the CLI tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'l2rw.mjs');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `l2rw ...args` in `cwd` (default the repository), colours off; resolves when it exits. */
export function l2rw(args: string[], cwd = ROOT): Promise<Ran> {
  return collect(spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } }));
}

/** A child's stdout, stderr and exit code, once it exits. */
function collect(p: ChildProcess): Promise<Ran> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** stderr without Dawn's own start-up notices (printed by the native module on every adapter). */
export const ourLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l && !l.startsWith('Warning: '));

/**
 * `l2rw ...args` with its stderr through a shell pipe, as in a terminal or `2>&1 | tee` (Dawn's
 * start-up notices are filtered there; a Node-spawned socket cannot be).
 */
export function l2rwPiped(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Ran> {
  const argv = [process.execPath, BIN, ...args];
  return collect(spawn('bash', ['-c', 'set -o pipefail; { "$@" 2>&1 1>&3 3>&- | cat >&2; } 3>&1', 'bash', ...argv], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } }));
}

/**
 * `l2rw ...args --json`, calling `onEvent` with each JSON event as it arrives (and the process, to
 * signal it); resolves with how the process ended.
 */
export function l2rwEvents(
  args: string[],
  onEvent: (event: Record<string, unknown> & { event: string }, child: ChildProcess) => void,
  cwd = ROOT,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args, '--json'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let buffered = '';
    p.stdout.on('data', (d) => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) onEvent(JSON.parse(l), p);
    });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal }));
  });
}
