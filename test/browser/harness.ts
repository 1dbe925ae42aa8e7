// Shared plumbing of the browser tests: build the demo once (or reuse dist/demo when it is newer
// than everything it is built from), serve it on 127.0.0.1 (WebGPU exists only in secure contexts,
// and http://127.0.0.1 is one), and launch headless Chromium with WebGPU on SwiftShader.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = path.join(ROOT, 'dist/demo');
export const ARTIFACTS = path.join(ROOT, 'test/browser/artifacts');
const STAMP = path.join(DIST, '.built');

/** Headless Chromium with WebGPU on its software Vulkan (SwiftShader): works without a GPU. */
export const CHROME_FLAGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** What the demo and the kernel-check page are built from. */
const BUILD_INPUTS = [
  'src',
  'demo',
  'test/reference',
  'test/helpers',
  'test/kernels/checks',
  'test/browser/kernel-checks.ts',
  'test/browser/engine-checks.ts',
  'test/browser/check-groups.ts',
  'test/browser/vitest-stub.ts',
  'vite.config.ts',
  'package.json',
];

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, e)));
  return newest;
}

function runNode(script: string, args: string[], what: string): void {
  const bin = realpathSync(path.join(ROOT, 'node_modules/.bin', script));
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) {
    throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  }
}

let built: Promise<string> | null = null;

/**
 * The MNIST assets (scripts/build-demo-assets.ts, a no-op when present) and `vite build`, unless
 * dist/demo was built after the last change to any input. Returns the dist directory.
 */
export function ensureDemoBuilt(): Promise<string> {
  built ??= (async () => {
    runNode('vite-node', ['scripts/build-demo-assets.ts'], 'building the demo MNIST assets');
    const stamp = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
    const inputs = Math.max(...BUILD_INPUTS.map((p) => newestMtime(path.join(ROOT, p))));
    if (stamp <= inputs) {
      runNode('vite', ['build', '--logLevel', 'warn'], 'vite build of the demo');
      writeFileSync(STAMP, `built ${new Date().toISOString()}\n`);
    }
    return DIST;
  })();
  return built;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface StaticServer {
  /** Base URL ending in '/'. */
  url: string;
  close(): Promise<void>;
}

/** A minimal static file server for `dir` on 127.0.0.1 and a free port. */
export async function serve(dir: string): Promise<StaticServer> {
  const rootDir = path.resolve(dir);
  const server = http.createServer(async (req, res) => {
    try {
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      let file = path.resolve(rootDir, '.' + pathname);
      if (file !== rootDir && !file.startsWith(rootDir + path.sep)) {
        res.writeHead(403).end();
        return;
      }
      if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROME_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: run \`bash scripts/setup.sh\` (installs it) or set CHROME_PATH to a Chrome/Chromium binary`);
  }
  // A copy: puppeteer may edit the array it is given.
  return puppeteer.launch({ executablePath, headless: true, args: [...CHROME_FLAGS], protocolTimeout: 300_000 });
}

/** Collects uncaught page errors and console errors, for test failures that say what happened. */
export function watchPage(page: Page): { errors: string[] } {
  const log = { errors: [] as string[] };
  page.on('pageerror', (e) => log.errors.push(`page error: ${(e as Error).message ?? String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(`console.error: ${m.text()}`);
  });
  return log;
}

/** Fraction of a canvas's pixels that differ from its top-left pixel (0 for a blank canvas). */
export async function canvasInk(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (el) => {
    const c = el as HTMLCanvasElement;
    if (!c.width || !c.height) return 0;
    const ctx = c.getContext('2d')!;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let differ = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) differ++;
    }
    return differ / (d.length / 4);
  });
}
