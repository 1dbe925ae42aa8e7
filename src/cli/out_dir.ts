// Checks an output folder before any work: created if missing, and probed by writing a small file,
// so that a bad --out costs one line and exit code 2 instead of a finished run that cannot be saved.
import { accessSync, constants, closeSync, mkdirSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../experiments/config';

/** "ENOENT: no such file or directory, mkdir '/proc/x'" -> "ENOENT: no such file or directory". */
function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/, \w+ '.*'$/, '');
}

type Kind = { kind: 'dir' | 'other' | 'missing' } | { kind: 'error'; error: unknown };

function kindOf(path: string): Kind {
  try {
    return { kind: statSync(path).isDirectory() ? 'dir' : 'other' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: a file further up the path; the walk up finds and names it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'error', error: e };
  }
}

/**
 * Resolves `dir`, creates it (and missing parents) and checks that a file can be written in it.
 * Throws a one-line UsageError naming `flag`, the path and the reason. Creates each missing folder
 * itself, top-down: Node's recursive mkdir retries forever where a parent exists but refuses new
 * entries with ENOENT (procfs: `mkdirSync('/proc/x', { recursive: true })` never returns).
 */
export function prepareOutDir(dir: string, flag = '--out'): string {
  const path = resolve(dir);
  const fail = (what: string): never => {
    throw new UsageError(`${flag} ${dir}: ${what}`);
  };
  // The nearest existing ancestor, and the folders below it to create.
  const missing: string[] = [];
  let at = path;
  let k = kindOf(at);
  while (k.kind === 'missing' && dirname(at) !== at) {
    missing.unshift(at);
    at = dirname(at);
    k = kindOf(at);
  }
  if (k.kind === 'error') fail(`cannot check ${at} (${reason(k.error)})`);
  if (k.kind !== 'dir') fail(at === path ? 'exists and is not a folder' : `${at} is not a folder, so the output folder cannot be made in it`);
  if (missing.length) {
    try {
      accessSync(at, constants.W_OK | constants.X_OK);
    } catch (e) {
      fail(`cannot create the folder: ${at} is not writable (${reason(e)})`);
    }
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      // Made meanwhile by someone else: fine if it is a folder.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || kindOf(d).kind !== 'dir') fail(`cannot create the folder (${reason(e)})`);
    }
  }
  // The folder exists; probe that files can be made in it (read-only mounts, permissions, procfs).
  const probe = join(path, `.l2rw-write-test-${process.pid}-${Date.now().toString(36)}`);
  try {
    const fd = openSync(probe, 'wx');
    try {
      writeSync(fd, 'l2rw\n');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    fail(`cannot write files in the folder (${reason(e)})`);
  }
  try {
    unlinkSync(probe);
  } catch (e) {
    fail(`cannot remove a test file from the folder (${reason(e)})`);
  }
  return path;
}
