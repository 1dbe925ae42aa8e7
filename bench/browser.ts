// `npm run bench:browser [-- --smoke | --quick | --full] [--skip peers]`: builds the benchmark page,
// serves it on 127.0.0.1 and runs it in headless Chromium (WebGPU on SwiftShader, the flags of
// test/browser/harness.ts), then prints the tables and writes bench/results/browser.json.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { launchChromium, serve } from '../test/browser/harness';
import { formatResult } from './report';
import type { BenchResult } from './run';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const dist = path.join(root, 'dist/bench');

function build(): void {
  const vite = realpathSync(path.join(root, 'node_modules/.bin/vite'));
  const r = spawnSync(process.execPath, [vite, 'build', '--config', 'bench/vite.config.ts', '--logLevel', 'warn'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`vite build of the benchmark page failed:\n${r.stdout}\n${r.stderr}`);
  // tfjs's wasm backend fetches its binaries at run time (bench/peers/tfjs.ts points it here).
  const wasmDir = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  mkdirSync(path.join(dist, 'tfjs-wasm'), { recursive: true });
  for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) copyFileSync(path.join(wasmDir, f), path.join(dist, 'tfjs-wasm', f));
}

async function main(): Promise<void> {
  const o = new Command('bench:browser')
    .option('--smoke', 'one iteration of everything')
    .option('--quick', 'fewer repetitions (the default)')
    .option('--full', 'the full suite (slow on SwiftShader)')
    .option('--skip <groups>', 'comma-separated: kernels, variants, steps, peers, profile', '')
    .option('--timeout <minutes>', 'give up after this long', '40')
    .option('--out <file>', 'JSON output', path.join(here, 'results/browser.json'))
    .parse(process.argv)
    .opts<{ smoke?: boolean; quick?: boolean; full?: boolean; skip: string; timeout: string; out: string }>();
  const mode = o.smoke ? 'smoke' : o.full ? 'full' : 'quick';
  build();
  const server = await serve(dist);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${(e as Error).message ?? e}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`console.error: ${m.text()}`);
    });
    await page.goto(`${server.url}index.html?mode=${mode}&skip=${encodeURIComponent(o.skip)}`);
    const deadline = Date.now() + Number(o.timeout) * 60_000;
    let shown = 0;
    for (;;) {
      const { lines, done } = await page.evaluate(() => {
        const w = window as unknown as { __benchLog?: string[]; __benchDone?: boolean };
        return { lines: w.__benchLog ?? [], done: Boolean(w.__benchDone) };
      });
      for (; shown < lines.length; shown++) if (!done) console.log(lines[shown]);
      if (done) break;
      if (Date.now() > deadline) throw new Error(`the benchmark page did not finish within ${o.timeout} minutes`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const { result, error } = await page.evaluate(() => {
      const w = window as unknown as { __benchResult?: unknown; __benchError?: string };
      return { result: w.__benchResult ?? null, error: w.__benchError ?? null };
    });
    if (error || !result) throw new Error(`the benchmark page failed: ${error}`);
    const r = result as BenchResult;
    console.log('');
    console.log(formatResult(r));
    mkdirSync(path.dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(r, null, 2) + '\n');
    console.log(`\nwrote ${path.relative(process.cwd(), o.out)}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
