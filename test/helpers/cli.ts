// Runs the real `l2rw` bin (and so the vite build of src/cli) as a user would, for the CLI tests.
import { spawn } from 'node:child_process';
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
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** stderr without Dawn's own start-up notices (printed by the native module on every adapter). */
export const ourLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l && !l.startsWith('Warning: '));
