// The kernel-check table is whole: every group a module in test/kernels/checks/ exports is in
// KERNEL_CHECKS (so the browser page runs it) and is run by a vitest file here (so Node runs it), and
// every check has a name the two environments can be compared by.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KERNEL_CHECK_NAMES, KERNEL_CHECKS, NODE_ONLY_CHECKS, type CheckGroup } from './checks';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHECKS = path.join(HERE, 'checks');

const isCheckGroup = (v: unknown): v is CheckGroup => !!v && typeof v === 'object' && typeof (v as CheckGroup).group === 'string' && Array.isArray((v as CheckGroup).checks);

const modules = readdirSync(CHECKS)
  .filter((f) => f.endsWith('.ts') && f !== 'check.ts' && f !== 'index.ts')
  .sort();
const exported: { module: string; exportName: string; group: CheckGroup }[] = [];
for (const file of modules) {
  const mod = (await import(/* @vite-ignore */ path.join(CHECKS, file))) as Record<string, unknown>;
  for (const [exportName, value] of Object.entries(mod)) if (isCheckGroup(value)) exported.push({ module: file.replace(/\.ts$/, ''), exportName, group: value });
}
const testSources = readdirSync(HERE)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => ({ file: f, text: readFileSync(path.join(HERE, f), 'utf8') }));

describe('the kernel-check table', () => {
  it('every group exported by test/kernels/checks/*.ts is in KERNEL_CHECKS, once', () => {
    expect(exported.length).toBeGreaterThan(0);
    const missing = exported.filter((e) => !KERNEL_CHECKS.includes(e.group)).map((e) => `${e.module}.ts: ${e.exportName}`);
    expect(missing, 'groups missing from KERNEL_CHECKS (test/kernels/checks/index.ts)').toEqual([]);
    const names = KERNEL_CHECKS.map((g) => g.group);
    expect(new Set(names).size, `group names ${names.join(', ')}`).toBe(names.length);
  });

  it('every group is run by a vitest file in test/kernels/', () => {
    const unrun = exported
      .filter(({ module, exportName }) =>
        !testSources.some(({ text }) => text.includes(`from './checks/${module}'`) && new RegExp(`runCheckGroup\\(\\s*${exportName}\\s*\\)`).test(text)),
      )
      .map((e) => `${e.module}.ts: ${e.exportName}`);
    expect(unrun, 'groups no test/kernels/*.test.ts passes to runCheckGroup').toEqual([]);
  });

  it('every check has a non-empty name, unique in the table; node-only ones give a reason', () => {
    for (const { group, checks } of KERNEL_CHECKS) {
      expect(checks.length, group).toBeGreaterThan(0);
      for (const c of checks) expect(c.name.trim(), `a check of ${group}`).not.toBe('');
    }
    expect(new Set(KERNEL_CHECK_NAMES).size).toBe(KERNEL_CHECK_NAMES.length);
    for (const c of NODE_ONLY_CHECKS) expect(c.reason.trim(), c.id).not.toBe('');
    console.log(`${KERNEL_CHECK_NAMES.length} checks in ${KERNEL_CHECKS.length} groups, ${NODE_ONLY_CHECKS.length} node-only`);
  });
});
