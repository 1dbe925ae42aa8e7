// The .npy reader (strict header parser, every malformed file named) and `npy:DIR` own data sets,
// on small files the tests write.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, givenTask, loadDataset, loadNpyDataset, NpyFormatError, npyExamples, npyLabels, parseNpy, type NpyData } from '../../src/data/index';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'l2rw-npy-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A .npy file with a hand-written header (padded and newline-ended as numpy does, unless told not to). */
function npyBytes(header: string, data: Uint8Array = new Uint8Array(0), o: { version?: number; newline?: boolean; pad?: boolean } = {}): Uint8Array {
  const version = o.version ?? 1;
  const lenBytes = version === 1 ? 2 : 4;
  let h = header;
  if (o.pad !== false) h += ' '.repeat((64 - ((8 + lenBytes + h.length + 1) % 64)) % 64);
  if (o.newline !== false) h += '\n';
  const hb = new TextEncoder().encode(h);
  const out = new Uint8Array(8 + lenBytes + hb.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, hb.length, true);
  else dv.setUint32(8, hb.length, true);
  out.set(hb, 8 + lenBytes);
  out.set(data, 8 + lenBytes + hb.length);
  return out;
}

const f32Bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NpyFormatError);
    const msg = (e as Error).message;
    expect(msg.includes('\n'), msg).toBe(false);
    return msg;
  }
  throw new Error('expected an error');
}

describe('parseNpy', () => {
  it('reads what numpy.save writes: every dtype, 0-d to 4-d shapes', () => {
    const cases: [NpyData, number[]][] = [
      [Uint8Array.from([1, 2, 3, 250, 0, 7]), [2, 3]],
      [Float32Array.from([0.5, -1.25, 3e-8, 1e30]), [4]],
      [BigInt64Array.from([0n, 9n, -3n]), [3]],
      [Int32Array.from([5]), []],
      [Uint16Array.from({ length: 24 }, (_, i) => i * 100), [2, 3, 2, 2]],
      [Float64Array.from([Math.PI, Math.E]), [1, 2]],
      [new Uint8Array(0), [0, 5]],
    ];
    for (const [data, shape] of cases) {
      const a = parseNpy(encodeNpy(data, shape), 'x.npy');
      expect(a.shape).toEqual(shape);
      expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual(Array.from(data as ArrayLike<number | bigint>));
      expect(a.data.constructor).toBe(data.constructor);
    }
  });

  it('reads format versions 2.0 and 3.0, and numpy\'s own header spelling', () => {
    const h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    for (const version of [1, 2, 3]) expect(Array.from(parseNpy(npyBytes(h, f32Bytes(1, 2), { version })).data as Float32Array)).toEqual([1, 2]);
    // Keys in another order, double quotes, no trailing comma, a 1-byte dtype with '<'.
    const a = parseNpy(npyBytes('{"shape": (1, 2), "fortran_order": False, "descr": "<u1"}', Uint8Array.from([3, 4])));
    expect(a.dtype).toBe('uint8');
    expect(a.shape).toEqual([1, 2]);
  });

  it('names the file and the problem for every malformed file', () => {
    const ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('PK\x03\x04 this is a zip'), /^bad\.npy: not a \.npy file/],
      [new Uint8Array([0x93, 0x4e, 0x55]), /not a \.npy file .*3 bytes/],
      [(() => { const b = npyBytes(ok, f32Bytes(1, 2)); b[6] = 4; return b; })(), /unsupported \.npy format version 4\.0/],
      [npyBytes(ok, f32Bytes(1)), /4 data bytes, but shape \(2\) of float32 needs 8 \(truncated\?\)/],
      [npyBytes(ok, f32Bytes(1, 2, 3)), /4 bytes after the 8 data bytes/],
      [npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f32Bytes(1, 2)), /dtype '>f4' is big-endian/],
      [npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), /unsupported dtype '<c8'/],
      [npyBytes("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12)), /unsupported dtype '<U3'/],
      [npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), /structured \(record\) dtype/],
      [npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", f32Bytes(1, 2)), /fortran_order is True.*ascontiguousarray/],
      [npyBytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", f32Bytes(1, 2)), /fortran_order must be True or False/],
      [npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", f32Bytes(1, 2)), /the shape must be a tuple/],
      [npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", f32Bytes(1, 2)), /must be non-negative integers/],
      [npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", f32Bytes(1, 2)), /Python 2 long suffix/],
      [npyBytes("{'descr': '<f4', 'shape': (2,), }", f32Bytes(1, 2)), /the header has no 'fortran_order'/],
      [npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", f32Bytes(1, 2)), /unknown key\(s\) 'extra'/],
      [npyBytes(ok, f32Bytes(1, 2), { newline: false }), /does not end with a newline/],
      [npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", f32Bytes(1, 2)), /not closed/],
      [npyBytes('[1, 2]', f32Bytes(1, 2)), /the header is not a dict/],
      [npyBytes(ok).subarray(0, 30), /runs past the end .*truncated/],
    ];
    for (const [bytes, re] of cases) expect(errorOf(() => parseNpy(bytes, 'bad.npy'))).toMatch(re);
  });
});

describe('examples and labels', () => {
  it('takes uint8 or float32 examples, images or vectors, and refuses the rest', () => {
    expect(npyExamples(parseNpy(encodeNpy(new Uint8Array(2 * 3 * 4 * 5), [2, 3, 4, 5])), 'x.npy').shape).toEqual([3, 4, 5]);
    expect(npyExamples(parseNpy(encodeNpy(new Uint8Array(2 * 4 * 5), [2, 4, 5])), 'x.npy').shape).toEqual([1, 4, 5]);
    expect(npyExamples(parseNpy(encodeNpy(new Float32Array(6), [2, 3])), 'x.npy').shape).toEqual([3]);
    const bad: [NpyData, number[], RegExp][] = [
      [new Float64Array(4), [2, 2], /^x\.npy: examples must be uint8 .* got float64 \(save x\.astype\(numpy\.float32\)\)/],
      [new Int32Array(4), [2, 2], /got int32/],
      [new Uint8Array(4), [4], /N x C x H x W .* got shape \(4\)/],
      [new Uint8Array(2 * 32 * 32 * 3), [2, 32, 32, 3], /channels last.*transpose\(0, 3, 1, 2\)/],
      [Float32Array.from([1, NaN]), [1, 2], /value NaN at flat index 1 is not finite/],
    ];
    for (const [data, shape, re] of bad) expect(errorOf(() => npyExamples(parseNpy(encodeNpy(data, shape)), 'x.npy'))).toMatch(re);
  });

  it('takes integer labels of any width in range, and names the first bad one', () => {
    expect(Array.from(npyLabels(parseNpy(encodeNpy(BigInt64Array.from([0n, 2n, 1n]), [3])), 'y.npy', 3, 3))).toEqual([0, 2, 1]);
    expect(Array.from(npyLabels(parseNpy(encodeNpy(Uint8Array.from([1, 0]), [2])), 'y.npy'))).toEqual([1, 0]);
    const bad: [NpyData, number[], RegExp, number?][] = [
      [Float32Array.from([0, 1]), [2], /labels must be integers, got dtype float32/],
      [Int32Array.from([0, 1]), [2, 1], /1-D array, got shape \(2, 1\); save y\.ravel\(\)/],
      [Int32Array.from([0, 1, 1]), [3], /3 labels for 2 examples/],
      [Int32Array.from([0, -1]), [2], /label -1 at index 1 is out of range/],
      [BigInt64Array.from([0n, 3n]), [2], /label 3 at index 1 is out of range \(labels must be class indices in \[0, 3\)\)/, 3],
    ];
    for (const [data, shape, re, classes] of bad) expect(errorOf(() => npyLabels(parseNpy(encodeNpy(data, shape)), 'y.npy', 2, classes))).toMatch(re);
  });
});

describe('npy:DIR data sets', () => {
  /** Writes a data set: n training examples of shape [1, 4, 4] in 2 classes, 4 clean ones, optional files. */
  function writeSet(name: string, files: Record<string, Uint8Array | string> = {}, n = 40): string {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const x = Uint8Array.from({ length: n * 16 }, (_, i) => (i * 7) % 256);
    const y = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2));
    const base: Record<string, Uint8Array | string> = {
      'x.npy': encodeNpy(x, [n, 1, 4, 4]),
      'y.npy': encodeNpy(y, [n]),
      'clean_x.npy': encodeNpy(new Uint8Array(4 * 16).fill(9), [4, 1, 4, 4]),
      'clean_y.npy': encodeNpy(BigInt64Array.from([0n, 1n, 0n, 1n]), [4]),
    };
    for (const [f, v] of Object.entries({ ...base, ...files })) if (v !== '') writeFileSync(join(dir, f), v);
    return dir;
  }

  it('loads x, y and the clean set, holding 10% of each class out as the test set', async () => {
    const dir = writeSet('plain');
    const d = await loadNpyDataset(dir);
    expect(d.shape).toEqual([1, 4, 4]);
    expect(d.classes).toBe(2);
    expect(d.classNames).toEqual(['0', '1']);
    expect(d.inputFormat).toBe('uint8');
    expect([d.train.n, d.clean.n, d.test.n]).toEqual([36, 4, 4]);
    expect(d.testSource).toBe('held-out');
    // The held-out rows are x.npy's rows, disjoint from training, 2 per class, and the same every time.
    const rows = new Set([...d.train.rows, ...d.test.rows]);
    expect(rows.size).toBe(40);
    expect(Array.from(d.test.y).filter((v) => v === 0).length).toBe(2);
    expect(Array.from((await loadNpyDataset(dir)).test.rows)).toEqual(Array.from(d.test.rows));
    // Each held-out example keeps its pixels and label.
    const r = d.test.rows[0];
    expect(Array.from(d.test.x.subarray(0, 16))).toEqual(Array.from({ length: 16 }, (_, i) => ((r * 16 + i) * 7) % 256));
    expect(d.test.y[0]).toBe(r % 2);
    expect(d.description).toMatch(/2 classes, 1x4x4 pixels \(uint8\); 36 training examples \(0 18, 1 18\); clean set 4 \(clean_x\.npy\); test 4 \(held out/);
    const task = givenTask(d);
    expect(task.name).toBe('npy-given');
    expect([task.train.n, task.clean.n, task.test.n]).toEqual([36, 4, 4]);
    // Through loadDataset and the spec string.
    expect((await loadDataset(`npy:${dir}`)).classes).toBe(2);
  });

  it('takes test arrays, class names, float32 vectors', async () => {
    const dir = writeSet('full', {
      'x.npy': encodeNpy(Float32Array.from({ length: 30 }, (_, i) => i / 10), [10, 3]),
      'y.npy': encodeNpy(Int32Array.from({ length: 10 }, (_, i) => i % 3), [10]),
      'clean_x.npy': encodeNpy(new Float32Array(9), [3, 3]),
      'clean_y.npy': encodeNpy(Uint8Array.from([0, 1, 2]), [3]),
      'test_x.npy': encodeNpy(new Float32Array(6), [2, 3]),
      'test_y.npy': encodeNpy(Int32Array.from([2, 0]), [2]),
      'classes.txt': 'cat\ndog\nbird\n',
    });
    const d = await loadNpyDataset(dir);
    expect(d.shape).toEqual([3]);
    expect(d.inputFormat).toBe('float32');
    expect(d.classNames).toEqual(['cat', 'dog', 'bird']);
    expect([d.train.n, d.clean.n, d.test.n]).toEqual([10, 3, 2]);
    expect(d.testSource).toBe('files');
    expect(d.train.x).toBeInstanceOf(Float32Array);
  });

  it('refuses missing, mismatched and out-of-range files, naming each', async () => {
    const cases: [string, Record<string, Uint8Array | string>, RegExp][] = [
      ['no-clean', { 'clean_y.npy': '' }, /clean_y\.npy: missing; an npy data set needs/],
      ['half-test', { 'test_x.npy': encodeNpy(new Uint8Array(16), [1, 1, 4, 4]) }, /test_y\.npy: missing, but test_x\.npy is there/],
      ['dtype-mix', { 'clean_x.npy': encodeNpy(new Float32Array(64), [4, 1, 4, 4]) }, /clean_x\.npy: is float32 but x\.npy is uint8/],
      ['shape-mix', { 'clean_x.npy': encodeNpy(new Uint8Array(4 * 25), [4, 1, 5, 5]) }, /clean_x\.npy: examples of shape 1x5x5, but those of x\.npy are 1x4x4/],
      ['few-labels', { 'y.npy': encodeNpy(new Int32Array(39), [39]) }, /y\.npy: 39 labels for 40 examples/],
      ['bad-label', { 'clean_y.npy': encodeNpy(BigInt64Array.from([0n, 1n, 2n, 1n]), [4]), 'classes.txt': 'a\nb\n' }, /clean_y\.npy: label 2 at index 2 is out of range/],
      ['negative', { 'y.npy': encodeNpy(Int8Array.from({ length: 40 }, (_, i) => (i === 5 ? -1 : 0)), [40]) }, /y\.npy: label -1 at index 5 is out of range/],
      ['one-class', { 'y.npy': encodeNpy(new Int32Array(40), [40]), 'clean_y.npy': encodeNpy(new Int32Array(4), [4]) }, /only 1 class; at least 2/],
      ['truncated', { 'x.npy': encodeNpy(new Uint8Array(640), [40, 1, 4, 4]).subarray(0, 600) }, /x\.npy: 472 data bytes, but shape \(40, 1, 4, 4\) of uint8 needs 640 \(truncated\?\)/],
      ['fortran', { 'y.npy': npyBytes("{'descr': '<i8', 'fortran_order': True, 'shape': (40,), }", new Uint8Array(320)) }, /y\.npy: fortran_order is True/],
    ];
    for (const [name, files, re] of cases) {
      const dir = writeSet(name, files);
      const err = await loadNpyDataset(dir).then(
        () => null,
        (e: Error) => e,
      );
      expect(err, name).not.toBeNull();
      expect(err!.message, name).toMatch(re);
      expect(err!.message.includes('\n')).toBe(false);
      if (!/only 1 class/.test(err!.message)) expect(err!.message, name).toContain(dir);
    }
    await expect(loadNpyDataset(join(tmp, 'nowhere'))).rejects.toThrow(/does not exist/);
  });
});
