#!/usr/bin/env node
// The l2rw command. The CLI is TypeScript with `?raw` WGSL imports, so it runs from its vite build
// (dist/cli/main.js). In a source checkout a missing or stale build (older than src/) is rebuilt
// first; where vite is unavailable the user is told to run `npm run build:cli`. An installed package
// (no src/ and no vite.cli.config.ts: npm pack builds dist/cli/main.js into it, `prepack`) runs its
// build as it is and never tries to rebuild.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const config = join(root, 'vite.cli.config.ts');

/** Newest modification time under `dir` (recursively), 0 when it does not exist. */
function newest(dir) {
  let t = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function needsBuild() {
  if (!existsSync(built)) return 'is missing';
  const src = join(root, 'src');
  if (!existsSync(src)) return null;
  const sources = Math.max(newest(src), existsSync(config) ? statSync(config).mtimeMs : 0);
  return sources > statSync(built).mtimeMs ? 'is older than src/' : null;
}

function viteBin() {
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('vite/package.json');
    const bin = join(dirname(pkg), 'bin', 'vite.js');
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

const why = needsBuild();
if (why) {
  if (!existsSync(join(root, 'src')) || !existsSync(config)) {
    process.stderr.write(`l2rw: this installation of l2rw-gpu is incomplete (dist/cli/main.js ${why}); reinstall the package\n`);
    process.exit(1);
  }
  const vite = viteBin();
  if (!vite) {
    process.stderr.write(`l2rw: the CLI build dist/cli/main.js ${why}; run \`npm run build:cli\` in ${root}\n`);
    process.exit(1);
  }
  if (process.stderr.isTTY) process.stderr.write(`l2rw: building the CLI (dist/cli/main.js ${why})...\n`);
  const r = spawnSync(process.execPath, [vite, 'build', '--config', config], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    process.stderr.write(`l2rw: building the CLI failed; fix the error above and run \`npm run build:cli\`\n`);
    process.exit(1);
  }
}

const { main } = await import(pathToFileURL(built).href);
const code = await main(process.argv.slice(2));
// Dawn keeps Node's event loop alive: exit explicitly, once stdout and stderr have drained.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
