// Builds the benchmark page (bench/browser/) into dist/bench for `npm run bench:browser`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('./browser'),
  base: './',
  publicDir: false,
  build: {
    outDir: here('../dist/bench'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 5000,
    rolldownOptions: {
      onLog(level, log, handler) {
        // Node-only code paths (MNIST files, os load average, Dawn) import node:* lazily; the page
        // never takes them, so their browser stubs are expected.
        if (/node:[a-z/]+" has been externalized for browser compatibility/.test(log.message)) return;
        handler(level, log);
      },
    },
  },
});
