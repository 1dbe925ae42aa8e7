// Stands in for vitest inside the browser bundle of the kernel-check page (see vite.config.ts): that
// page reuses compareClose from test/helpers/compare.ts, whose module also imports vitest's expect.
// Nothing in the page calls expect; if something ever does, it fails loudly instead of passing.
export function expect(): never {
  throw new Error('vitest expect() is not available in the browser kernel-check page; use compareClose and return the result');
}
