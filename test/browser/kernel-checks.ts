// What the browser page (demo/kernel-checks.html) runs inside Chromium: every check of the shared
// kernel-check table (test/kernels/checks/, the same checks, shapes and tolerances the Node suites in
// test/kernels/ run over Dawn), less the few marked node-only, plus the engine checks of
// engine-checks.ts. Each group returns one labelled result per check; the vitest harness
// (kernels.test.ts) fails on any result that is not ok and on any check the page did not run.
import type { Gpu } from '../../src/gpu/gpu';
import { checkGroup } from '../kernels/checks';
import { CHECK_GROUPS, ENGINE_GROUPS, type CheckGroup, type CheckResult, type EngineGroup } from './check-groups';
import { ENGINE_CHECKS, Report } from './engine-checks';

const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function runKernelGroup(gpu: Gpu, group: string): Promise<CheckResult[]> {
  const table = checkGroup(group);
  if (!table) return [{ label: group, ok: false, message: `"${group}" is not a group of the kernel-check table` }];
  const results: CheckResult[] = [];
  for (const check of table.checks) {
    if (check.nodeOnly) continue;
    const t0 = performance.now();
    try {
      await check.run(gpu);
      results.push({ label: check.name, ok: true, message: 'ok', ms: performance.now() - t0 });
    } catch (e) {
      results.push({ label: check.name, ok: false, message: describeError(e), ms: performance.now() - t0 });
    }
  }
  return results;
}

async function runEngineGroup(gpu: Gpu, group: EngineGroup): Promise<CheckResult[]> {
  const rep = new Report();
  try {
    await ENGINE_CHECKS[group](gpu, rep);
  } catch (e) {
    rep.results.push({ label: `${group}: exception`, ok: false, message: describeError(e) });
  }
  return rep.results;
}

/** Runs one group; an exception becomes a failed result, so the harness always gets a report. */
export async function runGroup(gpu: Gpu, group: CheckGroup): Promise<CheckResult[]> {
  if (!(CHECK_GROUPS as readonly string[]).includes(group)) return [{ label: group, ok: false, message: `unknown check group "${group}"` }];
  const results = (ENGINE_GROUPS as readonly string[]).includes(group) ? await runEngineGroup(gpu, group as EngineGroup) : await runKernelGroup(gpu, group);
  if (results.length === 0) results.push({ label: `${group}: ran no checks`, ok: false, message: 'failed' });
  return results;
}
