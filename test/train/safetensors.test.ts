// The safetensors layout: round trips on awkward shapes and dtypes, files read back by an independent
// minimal parser written here (not the module's reader), a hand-made file read by the module, every
// check of the strict reader, and a checkpoint file (no GPU: a synthetic trainer state) opened and
// checksum-verified by the independent parser.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_FORMAT, writeCheckpoint } from '../../src/train/checkpoint';
import { asF32, asU32, decodeSafetensors, encodeSafetensors, SafetensorsError, type SafeTensor } from '../../src/train/safetensors';
import type { TrainerState } from '../../src/train/trainer';

/**
 * An independent reader of the format, from its description only: u64 little-endian N, N bytes of
 * JSON, then the data; every tensor's bytes at data_offsets relative to the end of the header.
 */
function minimalParse(file: Uint8Array): { headerLength: number; metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }> } {
  let n = 0;
  for (let i = 7; i >= 0; i--) n = n * 256 + file[i];
  const header = JSON.parse(Buffer.from(file.subarray(8, 8 + n)).toString('utf8')) as Record<string, any>;
  const tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors[name] = { dtype: e.dtype, shape: e.shape, bytes: file.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]) };
  }
  return { headerLength: n, metadata: header.__metadata__ ?? {}, tensors };
}

const f32Values = (b: Uint8Array) => Array.from({ length: b.length / 4 }, (_, i) => Buffer.from(b).readFloatLE(i * 4));
const u32Values = (b: Uint8Array) => Array.from({ length: b.length / 4 }, (_, i) => Buffer.from(b).readUInt32LE(i * 4));

/** A file built by hand: header text as given (no padding unless in it), then the data bytes. */
function rawFile(header: string | object, data: number[] | Uint8Array = [], lengthOverride?: number): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(lengthOverride ?? json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return new Uint8Array(out);
}

describe('safetensors writer and reader', () => {
  const awkward: [string, SafeTensor][] = [
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([-0]) }],
    ['empty', { dtype: 'F32', shape: [0], data: new Float32Array(0) }],
    ['empty3d', { dtype: 'U32', shape: [3, 0, 2], data: new Uint32Array(0) }],
    ['odd.bytes', { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 255]) }],
    ['conv1.weight', { dtype: 'F32', shape: [7, 3, 5], data: Float32Array.from({ length: 105 }, (_, i) => Math.sin(i) * 1e-3) }],
    ['specials', { dtype: 'F32', shape: [5], data: new Float32Array([NaN, Infinity, -Infinity, 1.401298464324817e-45, 3.4028234663852886e38]) }],
    ['indices/é☃', { dtype: 'U32', shape: [2, 3], data: new Uint32Array([0, 1, 0xffffffff, 7, 8, 9]) }],
    ['i32', { dtype: 'I32', shape: [1, 1, 1, 2], data: new Int32Array([-1, 2 ** 31 - 1]) }],
    ['f64', { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ['u16', { dtype: 'U16', shape: [3], data: new Uint16Array([1, 65535, 3]) }],
  ];
  const metadata = { format: 'test', 'ключ': 'значение ☃', empty: '' };

  it('round-trips awkward shapes and dtypes bit for bit, header padded to 8 bytes, tensors packed in order', () => {
    const bytes = encodeSafetensors(awkward, metadata);
    const back = decodeSafetensors(bytes, 'mem');
    expect(back.metadata).toEqual(metadata);
    expect([...back.tensors.keys()]).toEqual(awkward.map(([n]) => n));
    for (const [name, t] of awkward) {
      const r = back.tensors.get(name)!;
      expect(r.dtype, name).toBe(t.dtype);
      expect(r.shape, name).toEqual(t.shape);
      expect(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(true);
    }
    expect(Object.is(asF32(back.tensors.get('scalar')!)[0], -0)).toBe(true);
    expect(Array.from(asU32(back.tensors.get('indices/é☃')!))).toEqual([0, 1, 0xffffffff, 7, 8, 9]);
    expect(() => asU32(back.tensors.get('scalar')!, 'scalar')).toThrow(/scalar is F32, expected U32/);
    // No metadata: no __metadata__ entry at all.
    expect(minimalParse(encodeSafetensors({ a: awkward[0][1] })).metadata).toEqual({});
  });

  it('an independent minimal parser reads what the writer wrote', () => {
    const bytes = encodeSafetensors(awkward, metadata);
    const p = minimalParse(bytes);
    expect(p.headerLength % 8).toBe(0);
    expect(new Set(Buffer.from(bytes.subarray(8, 8 + p.headerLength)).toString('utf8').match(/\s+$/)?.[0] ?? ' ')).toEqual(new Set([' ']));
    expect(p.metadata).toEqual(metadata);
    expect(Object.keys(p.tensors)).toEqual(awkward.map(([n]) => n));
    expect(p.tensors['conv1.weight']).toMatchObject({ dtype: 'F32', shape: [7, 3, 5] });
    expect(f32Values(p.tensors['conv1.weight'].bytes)).toEqual(Array.from(awkward[4][1].data as Float32Array));
    expect(u32Values(p.tensors['indices/é☃'].bytes)).toEqual([0, 1, 0xffffffff, 7, 8, 9]);
    expect(Array.from(p.tensors['odd.bytes'].bytes)).toEqual([1, 2, 255]);
    // Packed in order: each tensor starts where the one before ended, the last ends the file.
    let end = 8 + p.headerLength;
    for (const t of Object.values(p.tensors)) {
      expect(t.bytes.byteOffset).toBe(bytes.byteOffset + end);
      end += t.bytes.length;
    }
    expect(end).toBe(bytes.length);
  });

  it('reads a file written by hand: unpadded header, tensors listed out of data order', () => {
    const data = Buffer.alloc(12);
    data.writeUInt32LE(42, 0);
    data.writeFloatLE(1.5, 4);
    data.writeFloatLE(-2.25, 8);
    const file = rawFile({ b: { dtype: 'F32', shape: [1, 2], data_offsets: [4, 12] }, __metadata__: { k: 'v' }, a: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } }, data);
    const r = decodeSafetensors(file, 'hand.safetensors');
    expect([...r.tensors.keys()]).toEqual(['a', 'b']);
    expect(Array.from(asF32(r.tensors.get('b')!))).toEqual([1.5, -2.25]);
    expect(Array.from(asU32(r.tensors.get('a')!))).toEqual([42]);
    expect(r.metadata).toEqual({ k: 'v' });
  });

  it('refuses malformed files, each reader check naming the file and the fault', () => {
    const t = (shape: number[], offsets: number[], dtype = 'F32') => ({ dtype, shape, data_offsets: offsets });
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty file', new Uint8Array(0), /0 bytes, too short/],
      ['7 bytes', new Uint8Array(7), /too short/],
      ['header length past the end', rawFile({ a: t([1], [0, 4]) }, [0, 0, 0, 0], 500), /header length 500 runs past the end/],
      ['huge header length', (() => { const f = rawFile('{}'); new DataView(f.buffer).setBigUint64(0, 2n ** 64n - 1n, true); return f; })(), /runs past the end/],
      ['header length 0', rawFile('', []), /too short for a JSON object/],
      ['not UTF-8', rawFile(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1')).map((b, i) => (i === 9 ? 0xff : b)), /not valid UTF-8/],
      ['not JSON', rawFile('{"a": '), /not valid JSON/],
      ['a JSON array', rawFile('[1, 2]'), /not a JSON object/],
      ['JSON null', rawFile('null'), /not a JSON object/],
      ['metadata not an object', rawFile({ __metadata__: [1] }), /"__metadata__" is not an object/],
      ['metadata value not a string', rawFile({ __metadata__: { a: 1 } }), /metadata "a" is not a string/],
      ['tensor entry not an object', rawFile({ a: 3 }), /tensor "a" is not an object/],
      ['unknown field', rawFile({ a: { ...t([1], [0, 4]), extra: 1 } }, [0, 0, 0, 0]), /unknown field\(s\) extra/],
      ['unknown dtype', rawFile({ a: t([1], [0, 4], 'F17') }, [0, 0, 0, 0]), /unknown dtype "F17"/],
      ['missing dtype', rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /unknown dtype undefined/],
      ['negative dimension', rawFile({ a: t([-1], [0, 4]) }, [0, 0, 0, 0]), /bad shape \[-1\]/],
      ['fractional dimension', rawFile({ a: t([1.5], [0, 4]) }, [0, 0, 0, 0]), /bad shape/],
      ['shape not an array', rawFile({ a: { dtype: 'F32', shape: 4, data_offsets: [0, 4] } }, [0, 0, 0, 0]), /bad shape 4/],
      ['three offsets', rawFile({ a: t([1], [0, 4, 4]) }, [0, 0, 0, 0]), /bad data_offsets \[0,4,4\]/],
      ['negative offset', rawFile({ a: t([1], [-4, 0]) }, [0, 0, 0, 0]), /bad data_offsets/],
      ['offsets reversed', rawFile({ a: t([0], [4, 0]) }, [0, 0, 0, 0]), /end before they begin/],
      ['past the data section', rawFile({ a: t([2], [0, 8]) }, [0, 0, 0, 0]), /ends at byte 8 of a 4-byte data section/],
      ['size not shape x dtype', rawFile({ a: t([2], [0, 4]) }, [0, 0, 0, 0]), /shape \[2\] of F32 is 8 bytes, but data_offsets \[0, 4\] hold 4/],
      ['overflowing shape', rawFile({ a: t([2 ** 40, 2 ** 40], [0, 4]) }, [0, 0, 0, 0]), /is \d.* bytes, but/],
      ['overlap', rawFile({ a: t([2], [0, 8]), b: t([1], [4, 8]) }, new Uint8Array(8)), /overlaps the tensor before it/],
      ['gap', rawFile({ a: t([1], [0, 4]), b: t([1], [8, 12]) }, new Uint8Array(12)), /bytes 4\.\.8 of the data section belong to no tensor/],
      ['gap at the start', rawFile({ b: t([1], [4, 8]) }, new Uint8Array(8)), /bytes 0\.\.4/],
      ['trailing bytes', rawFile({ a: t([1], [0, 4]) }, new Uint8Array(6)), /2 trailing bytes after the last tensor/],
      ['data without tensors', rawFile({}, new Uint8Array(1)), /1 trailing bytes/],
    ];
    for (const [what, bytes, message] of cases) {
      let error: unknown = null;
      try {
        decodeSafetensors(bytes, 'bad.safetensors');
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message, what).toMatch(/^bad\.safetensors: /);
      expect((error as Error).message, what).toMatch(message);
    }
    // Well-formed edge cases are accepted: no tensors at all, a zero-size tensor at the end.
    expect(decodeSafetensors(rawFile('{}'), 'x').tensors.size).toBe(0);
    expect(decodeSafetensors(rawFile({ a: t([1], [0, 4]), z: t([0, 3], [4, 4]) }, new Uint8Array(4)), 'x').tensors.get('z')!.shape).toEqual([0, 3]);
  });

  it('the writer refuses inconsistent tensors', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/shape \[3\] of F32 needs 12 bytes, got 8/);
    expect(() => encodeSafetensors([['a', { dtype: 'U8', shape: [0], data: new Uint8Array(0) }], ['a', { dtype: 'U8', shape: [0], data: new Uint8Array(0) }]])).toThrow(/"a" is given twice/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(/cannot name a tensor/);
    expect(() => encodeSafetensors({ a: { dtype: 'X9' as never, shape: [0], data: new Uint8Array(0) } })).toThrow(/unknown dtype X9/);
    expect(() => encodeSafetensors({ a: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } })).toThrow(/bad shape/);
  });
});

describe('a checkpoint file in an independent reader', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'l2rw-safetensors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens with its weights under their own names, and its checksum verifies by the documented rule', async () => {
    const weight = Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5);
    const state: TrainerState = {
      info: { version: 1, model: 'synthetic', config: { lr: 0.01 }, step: 3, lr: 0.01, phase: 0, sources: [], best: false },
      tensors: new Map<string, SafeTensor>([
        ['fc.weight', { dtype: 'F32', shape: [3, 4], data: weight }],
        ['fc.bias', { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) }],
        ['sampler/x/perm', { dtype: 'U32', shape: [4], data: new Uint32Array([3, 1, 0, 2]) }],
      ]),
    };
    const file = path.join(dir, 'ckpt.safetensors');
    await writeCheckpoint(file, state, { config: { model: 'synthetic', lr: 0.01 }, data: 'sha256:abc', extra: { curves: [1, 2] } });
    const bytes = new Uint8Array(readFileSync(file));
    const p = minimalParse(bytes);
    expect(f32Values(p.tensors['fc.weight'].bytes)).toEqual(Array.from(weight));
    expect(p.tensors['fc.weight'].shape).toEqual([3, 4]);
    expect(f32Values(p.tensors['fc.bias'].bytes)).toEqual([1, 2, 3]);
    expect(u32Values(p.tensors['sampler/x/perm'].bytes)).toEqual([3, 1, 0, 2]);
    expect(p.metadata.format).toBe(CHECKPOINT_FORMAT);
    expect(JSON.parse(p.metadata.trainer)).toEqual(state.info);
    expect(JSON.parse(p.metadata.config)).toEqual({ model: 'synthetic', lr: 0.01 });
    expect(p.metadata.data).toBe('sha256:abc');
    expect(JSON.parse(p.metadata.extra)).toEqual({ curves: [1, 2] });
    // The checksum: SHA-256 of the file with its own 64 hex digits replaced by '0'.
    const digits = p.metadata.checksum.replace(/^sha256:/, '');
    expect(digits).toMatch(/^[0-9a-f]{64}$/);
    const text = Buffer.from(bytes).toString('latin1');
    const at = text.indexOf(digits);
    const zeroed = Buffer.from(bytes);
    zeroed.write('0'.repeat(64), at, 'latin1');
    expect(createHash('sha256').update(zeroed).digest('hex')).toBe(digits);
  });
});
