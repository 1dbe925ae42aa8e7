// Writing a file so that a kill or a power cut at any moment leaves either the previous complete
// file or the new one, never half of one: the bytes go to a temporary file in the same folder, are
// flushed to disk, and the temporary file is renamed over the target; the folder is flushed too, so
// the rename itself survives a power cut. Results, sweeps and checkpoints are all written this way.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** `.<name>.<pid>.<random>.tmp`: hidden, unique per writer, and recognisable (atomicTemporaryOf). */
const TEMPORARY = /^\.(.+)\.\d+\.[0-9a-f]{12}\.tmp$/;

/** The file a leftover temporary file (of a writer that was killed) was meant to become, or null. */
export function atomicTemporaryOf(name: string): string | null {
  return TEMPORARY.exec(name)?.[1] ?? null;
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncFolder(dirname(file));
}

/** fsync of a folder. Some platforms and file systems refuse it (Windows, some FUSE mounts): the file is complete either way. */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
