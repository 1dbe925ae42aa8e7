// Training checkpoints on disk (Node): a Trainer's state (Trainer.saveState) in the safetensors layout,
// so the weights open in PyTorch, JAX or any other safetensors reader (parameters and running
// statistics under their own names, `<node>.<tensor>`; see TrainerState for the other tensors).
// The header's __metadata__ holds, as strings:
//   format    "l2rw-checkpoint/1"
//   trainer   JSON of the trainer's non-tensor state (step, learning rate, phase, streams, its config)
//   config    JSON of the caller's whole run configuration
//   data      the caller's fingerprint of the data (e.g. dataFingerprint())
//   extra     JSON of anything else the caller wants back (curves so far), when given
//   checksum  "sha256:<64 hex digits>": SHA-256 of the whole file (length prefix, header with its
//             padding, data) as it is with those 64 digits replaced by the character '0'. Every byte
//             of the file is covered, the checksum's own digits included (a changed digit no longer
//             matches the recomputed sum).
// Files are written atomically (a temporary file in the same folder, fsync, rename, fsync of the
// folder) and read strictly: a truncated, corrupted or foreign file is refused with a message naming
// it, never loaded.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { TrainData, TrainerState, TrainerStateInfo } from './trainer';
import { configJson, firstDifference, valueText } from './trainer';
import { writeFileAtomic } from '../util/atomic_file';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from './safetensors';

export const CHECKPOINT_FORMAT = 'l2rw-checkpoint/1';

export interface CheckpointMeta {
  /** The caller's whole run configuration (JSON-able): a run resumes only from its own. */
  config: unknown;
  /** A fingerprint of the data the run trains on (dataFingerprint(), or the caller's own). */
  data: string;
  /** Anything else to get back on resume (JSON-able): the curves so far, timings. */
  extra?: unknown;
}

export interface Checkpoint {
  state: TrainerState;
  meta: CheckpointMeta;
}

/** A checkpoint that cannot be written, read or trusted; the message names the file. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const HEX_DIGITS = 64;
const ZEROS = '0'.repeat(HEX_DIGITS);
const CHECKSUM_KEY = '"checksum":"sha256:';

/** Where the checksum's 64 digits are in the file: the one `"checksum":"sha256:` of the header. */
function checksumDigits(bytes: Uint8Array, headerEnd: number): number {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(headerEnd, bytes.length)).toString('latin1');
  const at = text.indexOf(CHECKSUM_KEY);
  if (at < 0 || text.indexOf(CHECKSUM_KEY, at + 1) >= 0) return -1;
  const start = at + CHECKSUM_KEY.length;
  return start + HEX_DIGITS < headerEnd && text[start + HEX_DIGITS] === '"' ? start : -1;
}

function sha256WithZeroedDigits(bytes: Uint8Array, digitsAt: number): string {
  return createHash('sha256')
    .update(bytes.subarray(0, digitsAt))
    .update(ZEROS, 'latin1')
    .update(bytes.subarray(digitsAt + HEX_DIGITS))
    .digest('hex');
}

/** The checkpoint's bytes (safetensors, checksum filled in). */
export function encodeCheckpoint(state: TrainerState, meta: CheckpointMeta): Uint8Array {
  if (typeof meta.data !== 'string') throw new CheckpointError('the data fingerprint of a checkpoint must be a string');
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    trainer: JSON.stringify(state.info),
    config: JSON.stringify(configJson(meta.config)),
    data: meta.data,
    ...(meta.extra === undefined ? {} : { extra: JSON.stringify(meta.extra) }),
    checksum: `sha256:${ZEROS}`,
  };
  const bytes = encodeSafetensors(state.tensors, metadata);
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const at = checksumDigits(bytes, headerEnd);
  if (at < 0) throw new CheckpointError('the checkpoint header holds the checksum key more than once (a tensor or metadata named "checksum"?)');
  const sum = sha256WithZeroedDigits(bytes, at);
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).write(sum, at, 'latin1');
  return bytes;
}

/** Parses and verifies checkpoint bytes; `source` (the file) names every error. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  function refuse(what: string): never {
    throw new CheckpointError(`checkpoint ${source} ${what}; it was not loaded`);
  }
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes, source);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    const detail = e.message.startsWith(`${source}: `) ? e.message.slice(source.length + 2) : e.message;
    return refuse(`is truncated or corrupted (${detail})`);
  }
  const m = file.metadata;
  if (m.format !== CHECKPOINT_FORMAT) {
    refuse(m.format === undefined ? 'is a safetensors file but not an l2rw checkpoint (no format in its metadata)' : `has format ${JSON.stringify(m.format)}, expected ${CHECKPOINT_FORMAT}`);
  }
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const at = checksumDigits(bytes, headerEnd);
  if (at < 0 || typeof m.checksum !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(m.checksum)) refuse('has no valid checksum (corrupted?)');
  const sum = sha256WithZeroedDigits(bytes, at);
  if (`sha256:${sum}` !== m.checksum) refuse('is corrupted: its SHA-256 checksum does not match its contents');
  const json = (key: string): unknown => {
    try {
      return JSON.parse(m[key]);
    } catch {
      return refuse(`has unreadable ${key} metadata`);
    }
  };
  if (m.trainer === undefined || m.config === undefined || m.data === undefined) refuse('lacks its trainer, config or data metadata');
  const info = json('trainer') as TrainerStateInfo;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) refuse('has no trainer state (its trainer metadata is not a JSON object)');
  const meta: CheckpointMeta = { config: json('config'), data: m.data, ...(m.extra === undefined ? {} : { extra: json('extra') }) };
  return { state: { info, tensors: file.tensors }, meta };
}

/**
 * Writes the checkpoint atomically: a temporary file in the same folder, fsync, rename over `file`,
 * fsync of the folder. A crash at any moment leaves the previous file or the new one, never a mix.
 */
export async function writeCheckpoint(file: string, state: TrainerState, meta: CheckpointMeta): Promise<void> {
  const bytes = encodeCheckpoint(state, meta);
  try {
    writeFileAtomic(file, bytes);
  } catch (e) {
    throw new CheckpointError(`cannot write checkpoint ${file}: ${(e as Error).message}`);
  }
}

/** Reads and verifies a checkpoint (throws CheckpointError naming the file when it cannot be trusted). */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(`cannot read checkpoint ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
  return decodeCheckpoint(bytes, file);
}

/**
 * Why a checkpoint cannot continue this run, or null when it can: the first configuration field that
 * differs ("the checkpoint was made with lr 0.01, this run has lr 0.005"), else a different data
 * fingerprint. `expected`: this run's; `found`: the checkpoint's.
 */
export function checkpointMismatch(expected: Pick<CheckpointMeta, 'config' | 'data'>, found: Pick<CheckpointMeta, 'config' | 'data'>): string | null {
  const d = firstDifference(configJson(expected.config), configJson(found.config));
  if (d) return `the checkpoint was made with ${valueText(d.path, d.found)}, this run has ${valueText(d.path, d.expected)}`;
  if (expected.data !== found.data) return `the checkpoint was made from other data (fingerprint ${found.data}), this run's data has fingerprint ${expected.data}`;
  return null;
}

/**
 * A fingerprint of a run's data: SHA-256 over every split's size, format, inputs and labels (and the
 * tracked-example flags), as "sha256:<hex>".
 */
export function dataFingerprint(data: TrainData): string {
  const h = createHash('sha256');
  const split = (name: string, d: { x: Uint8Array | Float32Array; y: Uint32Array; n: number; dim: number } | undefined) => {
    if (!d) {
      h.update(`${name}:none;`);
      return;
    }
    h.update(`${name}:${d.n}x${d.dim}:${d.x instanceof Uint8Array ? 'u8' : 'f32'};`);
    h.update(new Uint8Array(d.x.buffer, d.x.byteOffset, d.x.byteLength));
    h.update(new Uint8Array(d.y.buffer, d.y.byteOffset, d.y.byteLength));
  };
  split('train', data.train);
  split('clean', data.clean);
  split('test', data.test);
  h.update(data.trainFlags ? 'flags;' : 'noflags;');
  if (data.trainFlags) h.update(data.trainFlags);
  return `sha256:${h.digest('hex')}`;
}
