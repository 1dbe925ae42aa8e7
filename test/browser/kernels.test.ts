// The kernel-check table (test/kernels/checks/) and one L2RW step inside Chromium (WebGPU on
// SwiftShader), against the float64 references: demo/kernel-checks.html runs each group, this file
// fails on any failed check, and unless the page ran exactly the checks Node runs, less the node-only
// ones. One vitest test per group, then one for the whole set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'puppeteer';
import { BROWSER_CHECK_NAMES, KERNEL_CHECK_NAMES, KERNEL_CHECKS, NODE_ONLY_CHECKS, checkGroup, checkId } from '../kernels/checks';
import { CHECK_GROUPS, KERNEL_GROUPS, type GroupResult } from './check-groups';
import { ensureDemoBuilt, launchChromium, serve, watchPage, type StaticServer } from './harness';

let server: StaticServer;
let browser: Browser;
let page: Page;
let log: { errors: string[] };
/** `group/name` of every kernel check the page reported, in order. */
const ranInBrowser: string[] = [];

beforeAll(async () => {
  server = await serve(await ensureDemoBuilt());
  browser = await launchChromium();
  page = await browser.newPage();
  log = watchPage(page);
  await page.goto(server.url + 'kernel-checks.html');
  const adapter = await page.evaluate(() => window.__kernelChecks.ready);
  console.log(`browser kernel checks on: ${adapter}`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('kernels in Chromium (WebGPU) against the float64 references', () => {
  it('the page has one group per group of the kernel-check table', () => {
    expect([...KERNEL_GROUPS]).toEqual(KERNEL_CHECKS.map((g) => g.group));
  });

  for (const group of CHECK_GROUPS) {
    it(
      group,
      async () => {
        const r: GroupResult = await page.evaluate((g) => window.__kernelChecks.run(g), group);
        const failed = r.results.filter((x) => !x.ok).map((x) => `${x.label}: ${x.message}`);
        console.log(`${group}: ${r.results.length} checks in ${(r.ms / 1000).toFixed(1)} s`);
        const table = checkGroup(group);
        if (table) {
          for (const x of r.results) ranInBrowser.push(checkId(group, x.label));
          const slowest = r.results.filter((x) => x.ms !== undefined).sort((a, b) => b.ms! - a.ms!)[0];
          if (slowest) console.log(`  slowest: ${slowest.label} ${(slowest.ms! / 1000).toFixed(2)} s`);
        }
        expect(r.results.length).toBeGreaterThan(0);
        expect(failed, `${group} on ${r.adapter}`).toEqual([]);
        if (table) {
          expect(
            r.results.map((x) => x.label),
            `the checks of ${group} the page ran`,
          ).toEqual(table.checks.filter((c) => !c.nodeOnly).map((c) => c.name));
        }
        expect(log.errors, 'errors in the page').toEqual([]);
      },
      290_000,
    );
  }

  it('the page ran every check of the table, less the node-only ones', () => {
    if (NODE_ONLY_CHECKS.length) console.log(`node-only checks:\n${NODE_ONLY_CHECKS.map((c) => `  ${c.id}: ${c.reason}`).join('\n')}`);
    console.log(`${ranInBrowser.length} of ${KERNEL_CHECK_NAMES.length} kernel checks ran in the browser`);
    expect(ranInBrowser).toEqual([...BROWSER_CHECK_NAMES]);
    expect([...ranInBrowser, ...NODE_ONLY_CHECKS.map((c) => c.id)].sort()).toEqual([...KERNEL_CHECK_NAMES].sort());
  });
});
