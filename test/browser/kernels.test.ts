// The kernels and one L2RW step inside Chromium (WebGPU on SwiftShader), against the float64
// references of the Node suites: demo/kernel-checks.html runs each group, this file fails on any
// mismatch. One vitest test per group.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'puppeteer';
import { CHECK_GROUPS, type GroupResult } from './check-groups';
import { ensureDemoBuilt, launchChromium, serve, watchPage, type StaticServer } from './harness';

let server: StaticServer;
let browser: Browser;
let page: Page;
let log: { errors: string[] };

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
  for (const group of CHECK_GROUPS) {
    it(group, async () => {
      const r: GroupResult = await page.evaluate((g) => window.__kernelChecks.run(g), group);
      const failed = r.results.filter((x) => !x.ok).map((x) => `${x.label}: ${x.message}`);
      console.log(`${group}: ${r.results.length} checks in ${(r.ms / 1000).toFixed(1)} s`);
      expect(r.results.length).toBeGreaterThan(0);
      expect(failed, `${group} on ${r.adapter}`).toEqual([]);
      expect(log.errors, 'errors in the page').toEqual([]);
    });
  }
});
