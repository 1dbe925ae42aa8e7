// Dawn prints two notices from native code on every adapter it initialises:
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
// (dawn/native/Limits.cpp clamps drivers such as lavapipe or RADV that report huge dynamic-buffer
// limits; this program uses no dynamic offsets.) They go straight to file descriptor 2 with fprintf,
// so no JavaScript stream sees them, and they would make every CLI error more than the one line the
// README promises. `withoutDawnLimitNotices` runs the adapter request with fd 2 pointed at a temporary
// file, then puts fd 2 back and forwards everything else that was written meanwhile, unchanged.
//
// Node cannot dup2, so fd 2 is swapped by closing it and opening again (the lowest free descriptor
// is taken, which is 2 when 0 and 1 are open), and restored by reopening /proc/self/fd/N. That gives
// the same pipe, terminal or file, but not the same open file description, so it is done only where
// that makes no difference: Linux, the main thread, stderr a pipe, a character device (terminal,
// /dev/null) or a file opened for appending (`2>>log`). Elsewhere the notices stay: a socket (the
// stdio of a child that Node's child_process spawns) cannot be reopened, and a file opened without
// O_APPEND (`>log 2>&1`) shares its offset with stdout. L2RW_DAWN_NOTICES=1 keeps them everywhere.

/** Exactly Dawn's two limit notices (one line each). */
export const DAWN_LIMIT_NOTICE = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/gm;

/** `text` without Dawn's two limit notices. */
export function dropDawnLimitNotices(text: string): string {
  return text.replace(DAWN_LIMIT_NOTICE, '');
}

type Fs = typeof import('node:fs');

async function swappable(): Promise<{ fs: Fs; tmp: string; flags: number } | null> {
  const p = (globalThis as { process?: NodeJS.Process }).process;
  if (p?.platform !== 'linux' || p.env.L2RW_DAWN_NOTICES === '1') return null;
  // In a variable, so browser bundlers leave it alone (this path is Node-only).
  const workerThreads = 'node:worker_threads';
  const { isMainThread } = (await import(/* @vite-ignore */ workerThreads)) as typeof import('node:worker_threads');
  if (!isMainThread) return null;
  const fs = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { O_WRONLY, O_APPEND } = fs.constants;
  let flags = O_WRONLY;
  try {
    fs.fstatSync(0);
    fs.fstatSync(1);
    const st = fs.fstatSync(2);
    if (st.isFile()) {
      const open = Number.parseInt(/^flags:\s*([0-7]+)/m.exec(fs.readFileSync('/proc/self/fdinfo/2', 'utf8'))?.[1] ?? '0', 8);
      if (!(open & O_APPEND)) return null;
      flags |= O_APPEND;
    } else if (!st.isFIFO() && !st.isCharacterDevice()) {
      return null;
    }
  } catch {
    return null;
  }
  return { fs, tmp: join(tmpdir(), `l2rw-dawn-stderr-${p.pid}-${Date.now().toString(36)}`), flags };
}

/** Runs `fn` (Dawn's adapter request) and drops Dawn's two limit notices from what it prints on stderr. */
export async function withoutDawnLimitNotices<T>(fn: () => Promise<T>): Promise<T> {
  const env = await swappable();
  if (!env) return fn();
  const { fs, tmp, flags } = env;
  let saved: number;
  try {
    // Non-blocking only for this probe: a pipe whose reader is gone fails (ENXIO) instead of hanging.
    fs.closeSync(fs.openSync('/proc/self/fd/2', flags | fs.constants.O_NONBLOCK));
    saved = fs.openSync('/proc/self/fd/2', flags);
  } catch {
    return fn();
  }
  fs.closeSync(2);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx+', 0o600);
  } catch {
    // fd 2 stays closed until it is reopened just below.
  }
  if (fd !== 2) {
    // Not swapped (no temporary file, or descriptor 2 was taken meanwhile): put stderr back, run as is.
    if (fd >= 0) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    }
    reopen(fs, saved, flags, fd === -1);
    return fn();
  }
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    process.off('exit', finish);
    reopen(fs, saved, flags, true);
    let text = '';
    try {
      text = fs.readFileSync(tmp, 'utf8');
      fs.unlinkSync(tmp);
    } catch {
      // Nothing to forward.
    }
    const rest = dropDawnLimitNotices(text);
    if (rest) fs.writeSync(2, rest);
  };
  // process.exit() inside the window (a second Ctrl-C) still gets its stderr back.
  process.on('exit', finish);
  try {
    return await fn();
  } finally {
    finish();
  }
}

/** Points fd 2 back at the original stderr (reopened through `saved`), then closes `saved`. */
function reopen(fs: Fs, saved: number, flags: number, closeTwo: boolean): void {
  if (closeTwo) {
    try {
      fs.closeSync(2);
    } catch {
      // Already closed.
    }
  }
  try {
    const fd = fs.openSync(`/proc/self/fd/${saved}`, flags);
    // Anything but 2 means another thread took descriptor 2 meanwhile; nothing safe is left to do.
    if (fd !== 2) fs.closeSync(fd);
  } finally {
    fs.closeSync(saved);
  }
}
