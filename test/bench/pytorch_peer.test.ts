// The PyTorch peer (bench/peers/pytorch.ts): how it finds a python3 with torch and skips with a note
// where there is none, how it reads the child's lines, and (where torch imports here) the child
// itself: its --json output and the L2RW example weights of one step (--check), which must be
// non-negative and sum to 1 (or all be zero). No wall time is asserted.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  decideTorch,
  findTorch,
  lastJsonObject,
  parseBlock,
  parseHeader,
  pythonCandidates,
  PYTORCH_SCRIPT,
  TORCH_MISSING_NOTE,
  TorchServer,
} from '../../bench/peers/pytorch';

function run(python: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(python, [PYTORCH_SCRIPT, ...args], { timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

describe('pytorch peer: parsing and skipping (no torch needed)', () => {
  it('takes the last JSON object line of the output', () => {
    expect(lastJsonObject('warning: something\n{"a": 1}\n{"b": 2}\n\n')).toEqual({ b: 2 });
    expect(lastJsonObject('no json here\n[1, 2]\n{broken')).toBeNull();
  });

  it('picks the first interpreter that imported torch', () => {
    const found = decideTorch([
      { python: 'python3', stdout: '', stderr: "ModuleNotFoundError: No module named 'torch'", code: 1 },
      { python: '/usr/bin/python3', stdout: '{"torch": "1.13.1", "cuda": false}\n', stderr: '', code: 0 },
    ]);
    expect(found).toEqual({ python: '/usr/bin/python3', torch: '1.13.1', cuda: false });
  });

  it('says why when there is no python3 or no torch', () => {
    expect(decideTorch([])).toEqual({ reason: 'python3 not found' });
    expect(decideTorch([{ python: 'python3', stdout: '', stderr: '', code: 'ENOENT' }])).toEqual({ reason: 'python3 not found' });
    const noTorch = decideTorch([
      { python: 'python3', stdout: '', stderr: "Traceback ...\nModuleNotFoundError: No module named 'torch'\n", code: 1 },
      { python: '/usr/bin/python3', stdout: '', stderr: '', code: 'ENOENT' },
    ]);
    expect(noTorch).toEqual({ reason: TORCH_MISSING_NOTE });
    expect(TORCH_MISSING_NOTE).toContain('apt-get install python3-torch');
    const broken = decideTorch([{ python: 'python3', stdout: '', stderr: 'ImportError: libtorch_cpu.so: cannot open shared object file', code: 1 }]);
    expect('reason' in broken && broken.reason).toContain('could not import torch');
  });

  it('finds no torch in an interpreter that does not exist (a note, not an error)', async () => {
    const found = await findTorch(['/nonexistent/python3-for-l2rw-test']);
    expect(found).toEqual({ reason: 'python3 not found' });
  });

  it('tries $L2RW_PYTHON first, then python3, then /usr/bin/python3', () => {
    expect(pythonCandidates({ L2RW_PYTHON: '/opt/py/bin/python' })).toEqual(['/opt/py/bin/python', 'python3', '/usr/bin/python3']);
    expect(pythonCandidates({})).toEqual(['python3', '/usr/bin/python3']);
  });

  it('reads the serve header and block answers', () => {
    const h = parseHeader('{"torch": "2.3.0", "python": "3.11.2", "device": "cpu", "device_name": "AMD EPYC", "threads": 2, "batch": 100, "clean": 10, "data": "synthetic"}');
    expect(h.threads).toBe(2);
    expect(() => parseHeader('Traceback (most recent call last):')).toThrow(/unexpected first line/);
    expect(parseBlock('{"ms": 12.5, "cpu_ms": 20.1}')).toEqual({ ms: 12.5, cpu_ms: 20.1 });
    expect(parseBlock('{"ms": 12.5}')).toEqual({ ms: 12.5, cpu_ms: null });
    expect(() => parseBlock('{"error": "RuntimeError: out of memory"}')).toThrow(/out of memory/);
    expect(() => parseBlock('{"ok": true}')).toThrow(/without ms/);
  });
});

const torch = await findTorch(undefined, 60_000);
const python = 'python' in torch ? torch.python : null;

describe.skipIf(!python)('pytorch peer: the child process (torch importable here)', () => {
  it('--json times the MLP and reports the documented fields', { timeout: 60_000 }, async () => {
    const out = lastJsonObject(await run(python!, ['--device', 'cpu', '--threads', '1', '--models', 'mlp', '--warmup', '1', '--steps', '1', '--blocks', '1', '--json']));
    expect(out).not.toBeNull();
    expect(typeof out!.torch).toBe('string');
    expect(typeof out!.device_name).toBe('string');
    expect(out!.threads).toBe(1);
    const mlp = (out!.models as Record<string, Record<string, unknown>>).mlp;
    for (const k of ['plain_ms', 'l2rw_ms', 'plain_cpu_ms', 'l2rw_cpu_ms', 'l2rw_over_plain']) {
      expect(Number.isFinite(mlp[k]) && (mlp[k] as number) > 0, k).toBe(true);
    }
  });

  it('--check: the L2RW weights of one step are non-negative and sum to 1 (or are all zero)', { timeout: 60_000 }, async () => {
    const out = lastJsonObject(await run(python!, ['--check', '--threads', '1', '--models', 'mlp']));
    const w = (out!.models as Record<string, { weights: number[] }>).mlp.weights;
    expect(w.length).toBe(100);
    for (const x of w) expect(x).toBeGreaterThanOrEqual(0);
    const sum = w.reduce((a, b) => a + b, 0);
    if (w.some((x) => x > 0)) expect(sum).toBeCloseTo(1, 5);
    else expect(sum).toBe(0);
  });

  it('--serve answers blocks of plain and L2RW steps', { timeout: 60_000 }, async () => {
    const server = await TorchServer.start(python!, 'cpu', { threads: 1, timeoutMs: 60_000 });
    try {
      expect(server.header.device).toBe('cpu');
      const plain = await server.runner('mlp', 'plain');
      const l2rw = await server.runner('mlp', 'l2rw');
      for (const r of [await plain.block(1), await l2rw.block(1)]) {
        expect(Number.isFinite(r.ms) && r.ms > 0).toBe(true);
        expect(r.cpu_ms === null || Number.isFinite(r.cpu_ms)).toBe(true);
      }
      await expect(server.runner('resnet' as 'mlp', 'plain')).rejects.toThrow(/unknown model/);
    } finally {
      server.close();
    }
  });
});
