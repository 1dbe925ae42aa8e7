// Builds the l2rw command line for Node: `vite build --config vite.cli.config.ts` (npm run build:cli)
// writes dist/cli/main.js with the WGSL sources (`?raw` imports) inlined; npm packages stay external.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  publicDir: false,
  logLevel: 'warn',
  build: {
    ssr: here('./src/cli/main.ts'),
    outDir: here('./dist/cli'),
    emptyOutDir: true,
    target: 'node20',
    sourcemap: true,
    minify: false,
  },
});
