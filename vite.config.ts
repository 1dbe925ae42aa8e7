// The browser demo (demo/index.html) and the page the browser tests run the kernel checks on
// (demo/kernel-checks.html), both built from the engine in src/. `npm run demo` serves them,
// `npm run build` writes dist/demo/ (relative URLs, so any static server or subfolder works).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('./demo'),
  base: './',
  publicDir: here('./demo/public'),
  resolve: {
    alias: {
      // The kernel checks reuse test/helpers/compare.ts, whose expectClose imports vitest's expect;
      // the page only calls compareClose, so a stub stands in for vitest in the browser bundle.
      vitest: here('./test/browser/vitest-stub.ts'),
    },
  },
  build: {
    outDir: here('./dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    // The WGSL sources are inlined as strings; the whole engine is one small chunk.
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      input: {
        main: here('./demo/index.html'),
        kernelChecks: here('./demo/kernel-checks.html'),
      },
      onLog(level, log, handler) {
        // src/gpu/device.ts and src/data/mnist.ts import node:* lazily, on code paths only Node takes
        // (no navigator.gpu, loadMnist); the page never reaches them, so their stubs are expected.
        if (/node:[a-z/]+" has been externalized for browser compatibility/.test(log.message)) return;
        handler(level, log);
      },
    },
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
