import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Dawn over a CPU Vulkan driver already uses every core; parallel test files only fight for them.
    fileParallelism: false,
    // The kernel-form choices the suite measures (between its own jobs, on whatever load the machine
    // has) go to a cache of their own, never into the user's ~/.cache/l2rw-gpu, where the first entry
    // written for an adapter is the one every later run keeps. CLI children inherit it.
    env: { XDG_CACHE_HOME: fileURLToPath(new URL('./test-results/cache', import.meta.url)) },
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
