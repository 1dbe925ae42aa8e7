// The npm package as a user gets it. `npm pack` (its prepack script builds dist/lib, dist/types and
// dist/cli) runs in a copy of the project's build inputs, so the test never rewrites this checkout's
// dist/; the tarball is installed into an empty project, where
//   - the README's "Library use" example, taken from README.md as it stands, runs against the installed
//     package (it creates a Gpu, builds an MLP trainer on random rows and trains three steps) and
//     type-checks against the installed declarations as a NodeNext project would;
//   - `npx l2rw --help` prints the usage;
// and the tarball holds only what users need (no benchmarks, tests, results, CI or sources).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What `npm pack` needs to build the package (prepack) and what goes into it. */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'bin', 'src', 'tsconfig.json', 'tsconfig.build.json', 'vite.lib.config.ts', 'vite.cli.config.ts'];
/** Paths the tarball must not contain. */
const UNWANTED = /^(bench|test|results|runs|\.ci|\.github|src|scripts|demo|node_modules)\//;

/** Child npm processes must not inherit the npm_* settings of an `npm test` that started vitest. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number) {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

function runOk(cmd: string, args: string[], cwd: string, timeoutMs: number) {
  const r = run(cmd, args, cwd, timeoutMs);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: status ${r.status}, signal ${r.signal}, ${r.error ?? ''}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** The first ```ts block of the README's "Library use" section. */
export function readmeLibraryExample(readme: string): string {
  const start = readme.indexOf('\n## Library use');
  if (start < 0) throw new Error('README.md has no "## Library use" section');
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('the "Library use" section of README.md has no ```ts block');
  return m[1];
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

describe('npm package', () => {
  let tmp: string;
  let pack: PackResult;
  let project: string;
  let tarball: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'l2rw-pack-'));
    // The build inputs, with this checkout's node_modules (vite, typescript) linked in.
    const source = join(tmp, 'source');
    mkdirSync(source);
    for (const p of BUILD_INPUTS) if (existsSync(join(ROOT, p))) cpSync(join(ROOT, p), join(source, p), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    const packed = runOk('npm', ['pack', '--json', '--pack-destination', tmp], source, 180_000);
    pack = (JSON.parse(packed.stdout) as PackResult[])[0];
    tarball = join(tmp, pack.filename);

    project = join(tmp, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'l2rw-pack-check', private: true, type: 'module' }, null, 2));
    // The dependencies come from npm's cache (this checkout's install filled it), else the registry.
    runOk('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], project, 180_000);
  }, 400_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the built library, declarations and CLI, and nothing users do not need', () => {
    const paths = pack.files.map((f) => f.path).sort();
    console.log(`${pack.filename}: ${paths.length} files, ${(pack.size / 1024).toFixed(0)} kB packed, ${(pack.unpackedSize / 1024).toFixed(0)} kB unpacked`);
    for (const want of ['package.json', 'README.md', 'bin/l2rw.mjs', 'dist/cli/main.js', 'dist/lib/index.js', 'dist/types/index.d.ts']) {
      expect(paths).toContain(want);
    }
    expect(paths.filter((p) => UNWANTED.test(p))).toEqual([]);
    expect(paths.filter((p) => !/^(dist\/(lib|types|cli)\/|bin\/)/.test(p) && !['package.json', 'README.md', 'LICENSE'].includes(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
    expect(pack.size).toBeLessThan(1024 * 1024);
  });

  it('installs a library that bundlers and browsers can take: WGSL inlined, node:* and webgpu imported lazily', () => {
    const pkg = join(project, 'node_modules', 'l2rw-gpu');
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    // The main entry and the chunks it imports statically (shared with the Node entry).
    const read = (f: string) => readFileSync(join(pkg, 'dist', 'lib', f), 'utf8');
    const entry = read('index.js');
    const chunks = [...entry.matchAll(/^\s*import\s[^;]*?from\s*['"]\.\/([^'"]+)['"]/gm)].map((m) => m[1]);
    const lib = [entry, ...chunks.map(read)].join('\n');
    expect(lib).not.toMatch(/\?raw['"]/);
    expect(lib).toContain('@compute');
    // A static import of a Node built-in or of Dawn would break a browser bundle of the library.
    expect(lib).not.toMatch(/^\s*import\s[^;]*?from\s*['"](node:|webgpu['"])/m);
    expect(lib).not.toMatch(/^\s*import\s*['"](node:|webgpu['"])/m);
  });

  it("serves the Node-only API as 'l2rw-gpu/node': runs with checkpoints, presets and sweeps", () => {
    const script = [
      "import { runExperiment, planSweep, readCheckpoint, PRESETS, DEFAULT_CONFIG } from 'l2rw-gpu/node';",
      "const plan = planSweep('noise', { quick: true });",
      "console.log(typeof runExperiment, typeof readCheckpoint, PRESETS.join(','), plan.points.map((p) => p.label).join('|'), DEFAULT_CONFIG.batch);",
    ].join('\n');
    writeFileSync(join(project, 'node-entry.mjs'), script);
    const r = run(process.execPath, ['node-entry.mjs'], project, 60_000);
    if (r.status !== 0) throw new Error(`l2rw-gpu/node failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    expect(r.stdout.trim()).toBe('function function fig2,noise,clean-size,imbalance-noise uniform 0.4|background 0.4 100');
  });

  it("runs the README's library example against the installed package: three training steps", () => {
    const example = readmeLibraryExample(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(example).toContain("from 'l2rw-gpu'");
    writeFileSync(join(project, 'readme-example.mjs'), example);
    const r = run(process.execPath, ['readme-example.mjs'], project, 120_000);
    if (r.status !== 0) throw new Error(`the README example failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
    const losses = [...r.stdout.matchAll(/^step (\d+): loss (\S+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(losses.map(([step]) => step)).toEqual([1, 2, 3]);
    for (const [, loss] of losses) expect(Number.isFinite(loss) && loss > 0).toBe(true);
    expect(r.stdout).toMatch(/error: [\d.]+, loss: [\d.]+, n: 16/);
  });

  it("type-checks the README's library example against the installed declarations (module NodeNext, strict)", () => {
    const example = readmeLibraryExample(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const dir = join(project, 'typecheck');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'readme-example.ts'), example);
    const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true, skipLibCheck: false };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['readme-example.ts'] }, null, 2));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = run(process.execPath, [tsc, '-p', dir], project, 120_000);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('has a working `npx l2rw` command', () => {
    const r = run('npx', ['l2rw', '--help'], project, 60_000);
    expect(r.stderr).not.toMatch(/could not determine executable|not found|building the CLI/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: l2rw /m);
  });
});
