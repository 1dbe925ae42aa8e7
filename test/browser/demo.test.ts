// The demo end to end in headless Chromium (WebGPU on SwiftShader): a short live run at 1280x800 and
// at 420 px wide, the label-noise view, the page without WebGPU, and a device loss mid-run.
// Screenshots go to test/browser/artifacts/ (git-ignored).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoStatus } from '../../demo/main';
import { ARTIFACTS, canvasInk, ensureDemoBuilt, launchChromium, serve, watchPage, type StaticServer } from './harness';

let server: StaticServer;
let browser: Browser;

beforeAll(async () => {
  server = await serve(await ensureDemoBuilt());
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const status = (page: Page): Promise<DemoStatus> => page.evaluate(() => JSON.parse(JSON.stringify(window.__l2rwDemo)) as DemoStatus);

/** Waits until the page's state is one of `states` (an error state ends the wait early too). */
async function waitForState(page: Page, states: string[], timeout: number): Promise<DemoStatus> {
  await page.waitForFunction((s: string[]) => s.includes(window.__l2rwDemo?.state) || ['failed', 'no data'].includes(window.__l2rwDemo?.state), { timeout, polling: 250 }, states);
  return status(page);
}

async function openDemo(query: string, viewport = { width: 1280, height: 800 }): Promise<{ page: Page; log: { errors: string[] } }> {
  const page = await browser.newPage();
  const log = watchPage(page);
  await page.setViewport(viewport);
  await page.goto(`${server.url}index.html?${query}`);
  return { page, log };
}

const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: path.join(ARTIFACTS, name) as `${string}.png`, fullPage });

describe('demo in Chromium', () => {
  let page: Page;
  let log: { errors: string[] };

  it('trains L2RW and plain SGD live at 1280x800: plots, weight grids, falling loss', async () => {
    ({ page, log } = await openDemo('task=imbalance&steps=100&every=20&autostart=1'));
    const s = await waitForState(page, ['done'], 150_000);
    expect(s.error, 'page error').toBeNull();
    expect(s.state).toBe('done');
    expect(s.step).toBe(100);
    expect(s.adapter).not.toBe('');
    console.log(
      `demo on ${s.adapter}: ${s.averageStepsPerSecond.toFixed(1)} steps/s over the run, ${s.stepsPerSecond.toFixed(1)} in the last window ` +
        '(L2RW and plain SGD in lockstep, MLP 784-64-2, batch 32, test error and minibatch read every 20 steps)',
    );
    for (const m of ['l2rw', 'plain']) {
      const r = s.methods[m];
      expect(r.trainLoss.length, `${m}: one statistics readback per 20 steps`).toBe(5);
      expect(r.testError.length, `${m}: test error at step 0 and every 20 steps`).toBe(6);
      expect(r.trainLoss.every(Number.isFinite)).toBe(true);
      // Windows of 20 minibatches are noisy (L2RW's unweighted loss most: it fits the rare 4s, not
      // the 9s), so the check is on the ends of the run.
      expect(r.trainLoss.at(-1)!, `${m} training loss ${r.trainLoss}`).toBeLessThan(r.trainLoss[0]);
      expect(r.weights.length).toBe(32);
      expect(r.weights.every((w) => w >= 0)).toBe(true);
      const sum = r.weights.reduce((a, w) => a + w, 0);
      // L2RW weights sum to 1, or are all 0 when no example helps the clean loss (the δ guard).
      expect(Math.abs(sum - 1) < 1e-4 || sum === 0, `${m} weights sum to ${sum}`).toBe(true);
    }
    expect(s.methods.plain.weights.every((w) => Math.abs(w - 1 / 32) < 1e-7)).toBe(true);
    // With 2% 4s in training, L2RW has moved well off chance on the balanced test set by step 100.
    expect(s.methods.l2rw.testError.at(-1)!, `L2RW test error ${s.methods.l2rw.testError}`).toBeLessThan(0.4);
    for (const id of ['plot-loss', 'plot-error', 'grid-l2rw', 'grid-plain', 'hist-l2rw', 'hist-plain']) {
      expect(await canvasInk(page, `[data-testid="${id}"]`), `${id} is drawn`).toBeGreaterThan(0.01);
    }
    expect(await page.$eval('#speed', (e) => e.textContent)).toMatch(/steps\/s/);
    expect(await page.$eval('#notice', (e) => (e as HTMLElement).hidden)).toBe(true);
    await shot(page, 'demo-1280x800.png');
    await shot(page, 'demo-1280-full.png', true);
    expect(log.errors).toEqual([]);
  });

  it('fits a 420 px wide window without horizontal scrolling', async () => {
    expect(page, 'this test narrows the page of the run above').toBeDefined();
    await page.setViewport({ width: 420, height: 900 });
    await page.waitForFunction(() => document.querySelector<HTMLCanvasElement>('[data-testid="grid-l2rw"]')!.clientWidth < 420, { timeout: 5_000 });
    await new Promise((r) => setTimeout(r, 300)); // resize observers redraw on the next frame
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    for (const id of ['plot-loss', 'plot-error', 'grid-l2rw', 'grid-plain']) {
      const box = await page.$eval(`[data-testid="${id}"]`, (e) => e.getBoundingClientRect().toJSON() as DOMRect);
      expect(box.right, `${id} inside the window`).toBeLessThanOrEqual(420);
      expect(await canvasInk(page, `[data-testid="${id}"]`), `${id} redrawn`).toBeGreaterThan(0.01);
    }
    await shot(page, 'demo-420-full.png', true);
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it('label noise: frames mislabelled examples and plots the weight they get', async () => {
    const { page, log } = await openDemo('task=noise-uniform&noise=0.4&trainSize=2000&steps=20&every=20&autostart=1');
    const s = await waitForState(page, ['done'], 120_000);
    expect(s.error).toBeNull();
    // 40% noise: a 32-example batch holds ~13 wrong labels; fewer than 3 has probability < 1e-4.
    expect(s.methods.l2rw.mislabelled).toBeGreaterThan(2);
    expect(await page.$eval('#flagged-figure', (e) => (e as HTMLElement).hidden)).toBe(false);
    expect(await canvasInk(page, '[data-testid="plot-flagged"]')).toBeGreaterThan(0.01);
    // Red frames: the grid holds pixels of the mislabelled colour.
    const red = await page.$eval('[data-testid="grid-l2rw"]', (el) => {
      const c = el as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 0xe0 && d[i + 1] === 0x31 && d[i + 2] === 0x31) n++;
      return n;
    });
    expect(red).toBeGreaterThan(100);
    await shot(page, 'demo-noise-1280x800.png');
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it('without WebGPU says why and how to enable it, and does not hang', async () => {
    const page = await browser.newPage();
    const log = watchPage(page);
    await page.evaluateOnNewDocument(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    });
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`${server.url}index.html?autostart=1`);
    const s = await waitForState(page, ['no WebGPU'], 20_000);
    expect(s.state).toBe('no WebGPU');
    const text = await page.$eval('#notice', (e) => ((e as HTMLElement).hidden ? '' : e.textContent ?? ''));
    expect(text).toContain('WebGPU is not available');
    expect(text).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect(text).toMatch(/Chrome or Edge/);
    expect(await page.$eval('#start', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await shot(page, 'demo-no-webgpu.png');
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it('pause and resume; a lost device stops the run with a message; reset starts again on a new device', async () => {
    const page = await browser.newPage();
    const log = watchPage(page);
    // Keep a handle on every device the page creates, so the test can lose one.
    await page.evaluateOnNewDocument(() => {
      const devices: GPUDevice[] = [];
      (window as unknown as { __devices: GPUDevice[] }).__devices = devices;
      const request = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (this: GPUAdapter, desc?: GPUDeviceDescriptor) {
        const d = await request.call(this, desc);
        devices.push(d);
        return d;
      };
    });
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`${server.url}index.html?steps=5000&every=10&autostart=1`);
    await page.waitForFunction(() => window.__l2rwDemo.step >= 10, { timeout: 60_000, polling: 100 });

    await page.click('#pause');
    await waitForState(page, ['paused'], 20_000);
    const pausedAt = (await status(page)).step;
    await new Promise((r) => setTimeout(r, 700));
    expect((await status(page)).step, 'no steps while paused').toBe(pausedAt);
    expect(await page.$eval('#start', (b) => b.textContent)).toBe('Resume');
    await page.click('#start');
    await page.waitForFunction((s: number) => window.__l2rwDemo.step >= s + 10, { timeout: 60_000, polling: 100 }, pausedAt);

    await page.evaluate(() => (window as unknown as { __devices: GPUDevice[] }).__devices.at(-1)!.destroy());
    const lost = await waitForState(page, ['device lost'], 20_000);
    expect(lost.state).toBe('device lost');
    const stepAtLoss = lost.step;
    const text = await page.$eval('#notice', (e) => e.textContent ?? '');
    expect(text).toContain('The GPU device was lost');
    expect(text).toContain('Reset');
    await new Promise((r) => setTimeout(r, 500));
    expect((await status(page)).step, 'training stopped').toBe(stepAtLoss);
    await shot(page, 'demo-device-lost.png');

    await page.click('#reset');
    await waitForState(page, ['ready'], 20_000);
    await page.click('#start');
    await page.waitForFunction(() => window.__l2rwDemo.state === 'running' && window.__l2rwDemo.step >= 10, { timeout: 60_000, polling: 100 });
    expect(await page.evaluate(() => (window as unknown as { __devices: GPUDevice[] }).__devices.length)).toBe(2);
    await page.click('#pause');
    await waitForState(page, ['paused'], 20_000);
    expect((await status(page)).error).toBeNull();
    // The destroyed device's own error is expected; nothing else may have been logged.
    expect(log.errors.filter((e) => !/destroy|lost/i.test(e))).toEqual([]);
    await page.close();
  });
});
