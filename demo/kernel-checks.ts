// Entry of the kernel-check page: the browser tests (test/browser/kernels.test.ts) open it and call
// window.__kernelChecks.run(group) for each group; a person can open it too and press the button.
import { Gpu } from '../src/gpu/gpu';
import { CHECK_GROUPS, type CheckGroup, type GroupResult } from '../test/browser/check-groups';
import { runGroup } from '../test/browser/kernel-checks';

declare global {
  interface Window {
    __kernelChecks: { groups: readonly CheckGroup[]; ready: Promise<string>; run(group: CheckGroup): Promise<GroupResult> };
  }
}

let gpu: Promise<Gpu> | null = null;
const device = () => (gpu ??= Gpu.create());
const out = document.getElementById('out')!;

async function run(group: CheckGroup): Promise<GroupResult> {
  const g = await device();
  const t0 = performance.now();
  const results = await runGroup(g, group);
  const r: GroupResult = { group, adapter: g.name, results, ms: performance.now() - t0 };
  const bad = results.filter((x) => !x.ok);
  out.textContent += `${group}: ${results.length - bad.length}/${results.length} ok in ${(r.ms / 1000).toFixed(1)} s\n`;
  for (const b of bad) out.textContent += `  FAIL ${b.label}: ${b.message}\n`;
  return r;
}

window.__kernelChecks = {
  groups: CHECK_GROUPS,
  ready: device().then((g) => g.name),
  run,
};

window.__kernelChecks.ready.then(
  (name) => (document.getElementById('adapter')!.textContent = name),
  (e) => (out.textContent = `no WebGPU: ${(e as Error).message}\n`),
);

document.getElementById('run-all')!.addEventListener('click', async () => {
  for (const g of CHECK_GROUPS) await run(g);
});
