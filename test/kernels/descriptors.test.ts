// Every kernel descriptor (an exported KernelDef of src/kernels/*.ts) against the WGSL it compiles:
// the `@group(0) @binding(i)` declarations, in binding order, must have the descriptor's binding
// kinds ('read' = var<storage, read>, 'rw' = var<storage, read_write>, 'uniform' = var<uniform>), and
// the struct of the uniform binding (`Params`, also when it comes from an appended include such as
// conv2d_params.wgsl) must declare the descriptor's uniform fields, names and types, in order. A
// mismatch there compiles, then binds buffers to the wrong slots or packs uniforms into the wrong
// fields. Every src/shaders/*.wgsl with an entry point must be the source of some descriptor; the
// others are includes, each of which must be used.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BindingKind } from '../../src/gpu/gpu';
import type { UniformSpec } from '../../src/gpu/uniforms';
import { COMMON_WGSL, kernelSource, type KernelDef } from '../../src/kernels/kernel';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KERNELS = path.join(ROOT, 'src/kernels');
const SHADERS = path.join(ROOT, 'src/shaders');

/**
 * Exported descriptor factories (functions returning a KernelDef) and the arguments to call them with:
 * every variant the wrapper compiles. An exported function named `…Def` not listed here fails.
 */
const FACTORY_ARGS: Record<string, readonly (readonly unknown[])[]> = {
  // its BK register blocks (BLOCK_CHANNELS in conv2d_forward.ts), the written-out form, and the subgroup form for two subgroup sizes
  conv2dForwardDef: [[20], [25], [10, 'scalar'], [20, 'subgroup', 8], [25, 'subgroup', 4], [64, 'tiled']],
  matmulFormDef: [['blocked'], ['scalar'], ['tiled'], ['tiled4'], ['subgroup', 8], ['subgroup', 32]], // every form of matmul.ts
  conv2dBackwardDataFormDef: [['blocked'], ['scalar'], ['subgroup', 8], ['subgroup', 4], ['tiled']], // every form of conv2d_backward_data.ts
  conv2dBackwardFilterFormDef: [['blocked'], ['reduce'], ['scalar'], ['subgroup', 8, 20], ['subgroup', 4, 25]], // every form of conv2d_backward_filter.ts
  rowDotsFormDef: [['row'], ['workgroup']], // both forms of row_dots.ts
};

/** Modules of src/kernels that are helpers, not kernels (they export no KernelDef). */
const HELPER_MODULES = ['forms.ts', 'kernel.ts', 'tune.ts', 'wgsl_template.ts'];

// ---- parsing ------------------------------------------------------------------------------------

/** Comments blanked out (newlines kept), so commented-out or quoted declarations are not read. */
function stripComments(wgsl: string): string {
  return wgsl.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/\/\/[^\n]*/g, '');
}

interface WgslBinding {
  group: number;
  binding: number;
  kind: BindingKind;
  name: string;
  type: string;
}

const BINDING_RE = /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*([\w\s,]+?)\s*>\s*(\w+)\s*:\s*([^;]+?)\s*;/g;

/** The resource declarations of a WGSL module, in source order; throws on one it cannot read. */
function parseBindings(wgsl: string): WgslBinding[] {
  const code = stripComments(wgsl);
  const out: WgslBinding[] = [];
  for (const m of code.matchAll(BINDING_RE)) {
    const space = m[3].split(',').map((s) => s.trim());
    let kind: BindingKind;
    if (space[0] === 'uniform' && space.length === 1) kind = 'uniform';
    else if (space[0] === 'storage' && (space.length === 1 || space[1] === 'read')) kind = 'read';
    else if (space[0] === 'storage' && space[1] === 'read_write') kind = 'rw';
    else throw new Error(`unsupported address space var<${m[3]}> for ${m[4]}`);
    out.push({ group: Number(m[1]), binding: Number(m[2]), kind, name: m[4], type: m[5].trim() });
  }
  const declared = (code.match(/@binding\s*\(/g) ?? []).length;
  if (declared !== out.length) throw new Error(`${declared} @binding attributes but only ${out.length} declarations of the form @group(g) @binding(i) var<…> name: type;`);
  return out;
}

/** The fields of `struct name { … }` (exactly one such struct), as [field, type] in order. */
function parseStruct(wgsl: string, name: string): [string, string][] {
  const code = stripComments(wgsl);
  const re = new RegExp(`\\bstruct\\s+${name}\\s*\\{([^}]*)\\}`, 'g');
  const found = [...code.matchAll(re)];
  if (found.length !== 1) throw new Error(`expected one \`struct ${name}\`, found ${found.length}`);
  return found[0][1]
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const m = /^((?:@\w+(?:\([^)]*\))?\s*)*)(\w+)\s*:\s*(.+)$/s.exec(f);
      if (!m) throw new Error(`struct ${name}: cannot read the field "${f}"`);
      return [m[2], m[3].trim()] as [string, string];
    });
}

/** What is wrong with `def` against the WGSL it compiles; empty when they agree. */
function descriptorMismatches(def: Pick<KernelDef, 'bindings' | 'uniforms'>, wgsl: string): string[] {
  const problems: string[] = [];
  let bindings: WgslBinding[];
  try {
    bindings = parseBindings(wgsl);
  } catch (e) {
    return [(e as Error).message];
  }
  const others = bindings.filter((b) => b.group !== 0);
  if (others.length) problems.push(`bindings outside group 0: ${others.map((b) => `${b.name} in group ${b.group}`).join(', ')}`);
  const group0 = bindings.filter((b) => b.group === 0).sort((a, b) => a.binding - b.binding);
  const indices = group0.map((b) => b.binding);
  if (indices.some((b, i) => b !== i)) problems.push(`binding indices are ${indices.join(', ')}, not 0..${group0.length - 1}`);
  const wgslKinds = group0.map((b) => b.kind);
  if (wgslKinds.join() !== def.bindings.join()) {
    problems.push(
      `bindings: WGSL declares [${group0.map((b) => `${b.binding} ${b.name}: ${b.kind}`).join(', ')}], the descriptor says [${def.bindings.join(', ')}]`,
    );
  }
  const uniforms = group0.filter((b) => b.kind === 'uniform');
  if (uniforms.length > 1) problems.push(`${uniforms.length} uniform bindings; kernels take at most one`);
  if (uniforms.length === 0) {
    if (def.uniforms.length) problems.push(`no var<uniform> binding, but the descriptor lists uniforms ${show(def.uniforms)}`);
    return problems;
  }
  let fields: [string, string][];
  try {
    fields = parseStruct(wgsl, uniforms[0].type);
  } catch (e) {
    problems.push(`uniform ${uniforms[0].name}: ${(e as Error).message}`);
    return problems;
  }
  if (show(fields) !== show(def.uniforms)) {
    problems.push(`uniforms: struct ${uniforms[0].type} declares ${show(fields)}, the descriptor says ${show(def.uniforms)}`);
  }
  return problems;
}

function show(fields: UniformSpec | [string, string][]): string {
  return `{ ${fields.map(([n, t]) => `${n}: ${t}`).join(', ')} }`;
}

// ---- what is in src/ ----------------------------------------------------------------------------

function isKernelDef(v: unknown): v is KernelDef {
  const d = v as KernelDef;
  return !!d && typeof d === 'object' && typeof d.name === 'string' && typeof d.source === 'string' && Array.isArray(d.bindings) && Array.isArray(d.uniforms);
}

interface FoundDef {
  /** `module.ts: exportName` (with the factory arguments, if any). */
  label: string;
  def: KernelDef;
}

const shaderFiles = readdirSync(SHADERS)
  .filter((f) => f.endsWith('.wgsl'))
  .sort();
const shaderText = new Map(shaderFiles.map((f) => [f, readFileSync(path.join(SHADERS, f), 'utf8')]));
/** Files with no entry point: pieces other shaders are assembled with (common.wgsl, *_params.wgsl). */
const includes = shaderFiles.filter((f) => !/@compute\b/.test(stripComments(shaderText.get(f)!)));
const kernelShaders = shaderFiles.filter((f) => !includes.includes(f));

const kernelModules = readdirSync(KERNELS)
  .filter((f) => f.endsWith('.ts') && !HELPER_MODULES.includes(f))
  .sort();
const found: FoundDef[] = [];
const unlistedFactories: string[] = [];
const modulesWithoutDefs: string[] = [];
for (const file of kernelModules) {
  const mod = (await import(/* @vite-ignore */ path.join(KERNELS, file))) as Record<string, unknown>;
  let n = 0;
  for (const [exportName, value] of Object.entries(mod)) {
    if (isKernelDef(value)) {
      found.push({ label: `${file}: ${exportName}`, def: value });
      n++;
    } else if (typeof value === 'function' && /Def$/.test(exportName)) {
      const calls = FACTORY_ARGS[exportName];
      if (!calls) {
        unlistedFactories.push(`${file}: ${exportName}`);
        continue;
      }
      for (const args of calls) {
        const def = (value as (...a: unknown[]) => unknown)(...args);
        if (!isKernelDef(def)) throw new Error(`${file}: ${exportName}(${args.join(', ')}) did not return a KernelDef`);
        found.push({ label: `${file}: ${exportName}(${args.join(', ')})`, def });
        n++;
      }
    }
  }
  if (n === 0) modulesWithoutDefs.push(file);
}

/** The .wgsl file a descriptor's source starts with (its own shader; includes are appended to it). */
function mainShader(def: KernelDef): string | undefined {
  return kernelShaders.find((f) => def.source.startsWith(shaderText.get(f)!));
}

// ---- tests --------------------------------------------------------------------------------------

describe('kernel descriptors match their WGSL', () => {
  it('every kernel module exports its descriptor (or a factory listed in FACTORY_ARGS)', () => {
    expect(found.length).toBeGreaterThan(0);
    expect(unlistedFactories, 'exported …Def functions missing from FACTORY_ARGS in this test').toEqual([]);
    expect(modulesWithoutDefs, 'src/kernels modules that export no KernelDef').toEqual([]);
  });

  for (const { label, def } of found) {
    it(`${label} (${def.name})`, () => {
      // Generated sources (src/kernels/wgsl_template.ts) are checked against the same descriptor.
      if (!def.generated) expect(mainShader(def), `${label}: its source starts with no src/shaders/*.wgsl kernel file`).toBeDefined();
      else expect(def.source, `${label}: generated, so it names its generator`).toMatch(/^\/\/ Generated by \w+\(.*\) in src\/kernels\/wgsl_template\.ts/);
      const problems = descriptorMismatches(def, kernelSource(def));
      if (problems.length) throw new Error(`${label} does not match its WGSL:\n  ${problems.join('\n  ')}`);
    });
  }

  it('every .wgsl kernel file is the source of some descriptor', () => {
    const covered = new Set(found.map(({ def }) => mainShader(def)));
    const orphans = kernelShaders.filter((f) => !covered.has(f));
    expect(orphans, 'src/shaders/*.wgsl with an entry point but no KernelDef in src/kernels').toEqual([]);
    console.log(`${found.length} descriptors cover ${kernelShaders.length} kernel .wgsl files (includes: ${includes.join(', ')})`);
  });

  it('every include is used: common.wgsl prepended to every kernel, the others appended by some descriptor', () => {
    expect(shaderText.get('common.wgsl'), 'src/shaders/common.wgsl').toBe(COMMON_WGSL);
    const unused = includes.filter((f) => f !== 'common.wgsl' && !found.some(({ def }) => def.source.includes(shaderText.get(f)!)));
    expect(unused, 'includes no descriptor appends').toEqual([]);
  });
});

describe('the descriptor comparison itself', () => {
  const wgsl = `
    // @group(0) @binding(9) var<storage, read_write> commented_out: array<f32>;
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> y: array<f32>;
    @group(0) @binding(2) var<uniform> params: Params;
    /* struct Params { decoy: f32 } */
    struct Params {
      n: u32,
      alpha: f32,
    }`;
  const good = { bindings: ['read', 'rw', 'uniform'] as BindingKind[], uniforms: [['n', 'u32'], ['alpha', 'f32']] as UniformSpec };

  it('accepts a matching descriptor and ignores comments', () => {
    expect(descriptorMismatches(good, wgsl)).toEqual([]);
  });

  it('rejects wrong, missing or reordered binding kinds', () => {
    for (const bindings of [['rw', 'read', 'uniform'], ['read', 'read', 'uniform'], ['read', 'rw'], ['read', 'rw', 'uniform', 'read']] as BindingKind[][]) {
      expect(descriptorMismatches({ ...good, bindings }, wgsl).join('\n')).toMatch(/^bindings: WGSL declares/);
    }
  });

  it('rejects reordered, renamed, retyped, missing or extra uniform fields', () => {
    const variants: UniformSpec[] = [
      [['alpha', 'f32'], ['n', 'u32']],
      [['n', 'u32'], ['beta', 'f32']],
      [['n', 'i32'], ['alpha', 'f32']],
      [['n', 'u32']],
      [['n', 'u32'], ['alpha', 'f32'], ['m', 'u32']],
    ];
    for (const uniforms of variants) expect(descriptorMismatches({ ...good, uniforms }, wgsl).join('\n')).toMatch(/^uniforms: struct Params declares/);
  });

  it('reads a Params struct appended after the bindings, and gaps or undeclared bindings', () => {
    const appended = `@group(0) @binding(0) var<storage, read> x: array<f32>;\n@group(0) @binding(1) var<uniform> p: Shape;\nfn f() {}\nstruct Shape {\n  N: u32,\n  C: u32\n}\n`;
    expect(descriptorMismatches({ bindings: ['read', 'uniform'], uniforms: [['N', 'u32'], ['C', 'u32']] }, appended)).toEqual([]);
    expect(descriptorMismatches({ bindings: ['read', 'uniform'], uniforms: [['C', 'u32'], ['N', 'u32']] }, appended)).toHaveLength(1);
    const gap = appended.replace('@binding(1)', '@binding(2)');
    expect(descriptorMismatches({ bindings: ['read', 'uniform'], uniforms: [['N', 'u32'], ['C', 'u32']] }, gap).join('\n')).toMatch(/binding indices are 0, 2/);
    expect(descriptorMismatches(good, `${wgsl}\n@group(0) @binding(3) var x2: f32;`).join('\n')).toMatch(/@binding attributes but only/);
    expect(descriptorMismatches({ bindings: ['read', 'rw'], uniforms: [['n', 'u32']] }, wgsl.replace('@group(0) @binding(2) var<uniform> params: Params;', '')).join('\n')).toMatch(/no var<uniform>/);
  });
});
