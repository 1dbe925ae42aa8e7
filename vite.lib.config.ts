// Builds the library of the npm package: `vite build --config vite.lib.config.ts` (npm run build:lib)
// writes dist/lib/index.js (ESM) from src/index.ts, and its type declarations to dist/types/.
//
// - The WGSL sources (`?raw` imports) are inlined as strings, so the output runs in plain Node and in
//   bundlers that know nothing of `?raw`.
// - npm packages and Node's built-ins stay external imports. The engine reaches node:* and `webgpu`
//   only lazily, on code paths that only Node takes (src/gpu/device.ts, the data readers), so a
//   browser bundle of the library never runs them.
// - The declarations are tsc's (tsconfig.build.json, through the TypeScript API), with every relative
//   import given its `.js` extension (`./gpu/gpu` -> `./gpu/gpu.js`, `./data` -> `./data/index.js`):
//   the sources import without extensions (moduleResolution Bundler), which TypeScript projects that
//   resolve like Node (module NodeNext) refuse in a package's declarations.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import pkg from './package.json' with { type: 'json' };

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Every runtime dependency (and its subpaths) and every Node built-in, with or without `node:`. */
const packages = Object.keys({ ...pkg.dependencies, ...(pkg as { peerDependencies?: Record<string, string> }).peerDependencies });
const external = (id: string) =>
  id.startsWith('node:') || builtinModules.includes(id) || packages.some((p) => id === p || id.startsWith(`${p}/`));

/** Relative module specifiers of a declaration file, in `from '...'` and `import('...')`. */
const RELATIVE_SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g;

/** `text` (the declaration file `file`) with every relative specifier resolved to a `.js` path. */
function withJsExtensions(text: string, file: string): string {
  return text.replace(RELATIVE_SPECIFIER, (whole, lead: string, quote: string, spec: string) => {
    if (/\.(?:js|mjs|cjs|json)$/.test(spec)) return whole;
    const base = resolve(dirname(file), spec);
    const target = existsSync(`${base}.d.ts`) ? `${spec}.js` : existsSync(join(base, 'index.d.ts')) ? `${spec.replace(/\/$/, '')}/index.js` : null;
    if (!target) throw new Error(`${file}: cannot resolve the declaration import '${spec}'`);
    return `${lead}${quote}${target}${quote}`;
  });
}

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? declarationFiles(join(dir, e.name)) : e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Emits the declarations of tsconfig.build.json once the bundle is written; type errors fail the build. */
function declarations(): Plugin {
  return {
    name: 'l2rw-declarations',
    apply: 'build',
    async closeBundle() {
      const ts = (await import('typescript')).default;
      const configFile = here('./tsconfig.build.json');
      const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
      if (!parsed) throw new Error(`cannot read ${configFile}`);
      const outDir = parsed.options.outDir!;
      rmSync(outDir, { recursive: true, force: true });
      const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
      const result = program.emit();
      const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
      if (diagnostics.length) {
        const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => '\n' };
        throw new Error(`type declarations:\n${ts.formatDiagnostics(diagnostics, host)}`);
      }
      for (const file of declarationFiles(outDir)) writeFileSync(file, withJsExtensions(readFileSync(file, 'utf8'), file));
    },
  };
}

export default defineConfig({
  root: here('.'),
  publicDir: false,
  logLevel: 'warn',
  plugins: [declarations()],
  build: {
    lib: {
      // The browser-safe main entry, and the Node-only one (`l2rw-gpu/node`: runs, checkpoints, sweeps).
      entry: { index: here('./src/index.ts'), node: here('./src/node.ts') },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    outDir: here('./dist/lib'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    minify: false,
    rolldownOptions: {
      external,
    },
  },
});
