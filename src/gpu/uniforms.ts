// Uniform structs of 4-byte scalars, packed in declaration order (WGSL aligns u32/i32/f32 to 4 bytes;
// a uniform buffer's size is rounded up to 16 bytes, the struct alignment in the uniform space).

export type UniformType = 'u32' | 'i32' | 'f32';
export type UniformSpec = readonly (readonly [name: string, type: UniformType])[];
export type UniformValues = Readonly<Record<string, number>>;

export function uniformByteSize(spec: UniformSpec): number {
  return Math.max(16, Math.ceil((spec.length * 4) / 16) * 16);
}

export function packUniforms(spec: UniformSpec, values: UniformValues, label = 'uniforms'): ArrayBuffer {
  const buf = new ArrayBuffer(uniformByteSize(spec));
  const view = new DataView(buf);
  const known = new Set(spec.map(([n]) => n));
  for (const key of Object.keys(values)) {
    if (!known.has(key)) throw new Error(`${label}: unknown uniform "${key}" (expected ${[...known].join(', ')})`);
  }
  spec.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined) throw new Error(`${label}: missing uniform "${name}"`);
    if (!Number.isFinite(v)) throw new Error(`${label}: uniform "${name}" must be finite, got ${v}`);
    if (type === 'f32') view.setFloat32(i * 4, v, true);
    else {
      if (!Number.isInteger(v)) throw new Error(`${label}: uniform "${name}" (${type}) must be an integer, got ${v}`);
      if (type === 'u32') {
        if (v < 0 || v > 0xffffffff) throw new Error(`${label}: uniform "${name}" out of u32 range: ${v}`);
        view.setUint32(i * 4, v, true);
      } else view.setInt32(i * 4, v, true);
    }
  });
  return buf;
}
