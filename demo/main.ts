// The demo page: form, session lifecycle (start / pause / reset), and drawing at each checkpoint.
// Training itself is the engine in src/ (the same kernels and scheduler as in Node); demo/app/
// holds the page-only parts.
import { GpuUnavailableError } from '../src/gpu/errors';
import { Gpu } from '../src/gpu/gpu';
import type { Mnist } from '../src/data/mnist';
import { methodDecl, type Method } from '../src/train/methods';
import { TrainingDivergedError } from '../src/train/trainer';
import { drawDigitGrid, drawWeightHistogram, type DigitCell } from './app/batch_view';
import { buildTask, examplePixels, loadDemoMnist } from './app/data';
import { LinePlot, type Series } from './app/plot';
import { Session, type MethodRun, type SessionState } from './app/session';
import {
  DEFAULTS,
  DEMO_METHODS,
  fromQuery,
  METHOD_COLORS,
  METHOD_LABELS,
  TASK_DEFAULTS,
  toQuery,
  type ModelKind,
  type Settings,
  type TaskKind,
} from './app/settings';

/** What the page exposes for the browser tests (and for curious people in the console). */
export interface DemoStatus {
  state: string;
  adapter: string;
  step: number;
  steps: number;
  stepsPerSecond: number;
  /** Steps per second over the whole run so far (pauses excluded, checkpoints included). */
  averageStepsPerSecond: number;
  error: string | null;
  methods: Record<string, { trainLoss: number[]; testError: number[]; zeroWeights: number; weights: number[]; mislabelled: number }>;
}

declare global {
  interface Window {
    __l2rwDemo: DemoStatus;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('settings');
const field = <T extends HTMLInputElement | HTMLSelectElement>(name: string) => form.elements.namedItem(name) as T;
const buttons = { start: $<HTMLButtonElement>('start'), pause: $<HTMLButtonElement>('pause'), reset: $<HTMLButtonElement>('reset') };
const notice = $<HTMLDivElement>('notice');

const plots = {
  loss: new LinePlot($('plot-loss'), { yMin: 0, xLabel: 'step', empty: 'Press Start to train' }),
  error: new LinePlot($('plot-error'), { yMin: 0, yFormat: (v) => `${+(v * 100).toFixed(1)}%`, xLabel: 'step', empty: 'Press Start to train' }),
  flagged: new LinePlot($('plot-flagged'), { yMin: 0, yFormat: (v) => `${+(v * 100).toFixed(1)}%`, xLabel: 'step' }),
};

const status: DemoStatus = { state: 'loading', adapter: '', step: 0, steps: 0, stepsPerSecond: 0, averageStepsPerSecond: 0, error: null, methods: {} };
window.__l2rwDemo = status;

let gpu: Gpu | null = null;
/** The browser gave us a device once: after a device loss, Start asks for a new one. */
let webGpuWorks = false;
/** Set by the device-lost handler, so a failing step afterwards does not replace its message. */
let deviceLost = false;
let mnist: Mnist | null = null;
let session: Session | null = null;
let panels = new Map<Method, { root: HTMLElement; grid: HTMLCanvasElement; hist: HTMLCanvasElement; facts: HTMLElement }>();

// ---- notices ------------------------------------------------------------------------------------

function showNotice(html: string, kind: 'error' | 'info' = 'error'): void {
  notice.innerHTML = html;
  notice.className = `notice ${kind === 'info' ? 'info' : ''}`;
  notice.hidden = false;
}

function hideNotice(): void {
  notice.hidden = true;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const ENABLE_WEBGPU = `
  <p>Open this page in a recent <b>Chrome or Edge</b> (version 113 or later on Windows, macOS and ChromeOS;
  121 or later on Android). On Linux, or where WebGPU is switched off, open
  <code>chrome://flags/#enable-unsafe-webgpu</code>, set it to <i>Enabled</i> (on Linux also
  <code>chrome://flags/#enable-vulkan</code>), restart the browser and reload this page.
  <code>chrome://gpu</code> tells whether WebGPU is hardware accelerated.</p>`;

function noWebGpuHelp(reason: string): string {
  const insecure = window.isSecureContext
    ? ''
    : `<p>This page is not a secure context: WebGPU only exists on <code>https://</code> pages and on
       <code>http://localhost</code> / <code>http://127.0.0.1</code>. Serve it from one of those.</p>`;
  return `<h2>WebGPU is not available, so nothing can train here</h2><p>${escape(reason)}</p>${insecure}${ENABLE_WEBGPU}`;
}

function describeError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (gpu?.lostReason || (e instanceof Error && e.name === 'GpuLostError')) return deviceLostHelp(gpu?.lostReason ?? msg);
  if (e instanceof TrainingDivergedError) {
    return `<h2>Training diverged</h2><p>${escape(msg)}</p><p>Press Reset, lower the learning rate and start again.</p>`;
  }
  if (e instanceof GpuUnavailableError) return noWebGpuHelp(msg);
  return `<h2>Something went wrong</h2><p>${escape(msg)}</p>`;
}

function deviceLostHelp(reason: string): string {
  return `<h2>The GPU device was lost</h2><p>${escape(reason)}.</p>
    <p>Training stopped; the curves so far are kept. Press <b>Reset</b> to start again on a new device (reload
    the page if that fails). Repeated losses usually mean the driver crashed or ran out of memory: try a
    smaller batch or the MLP.</p>`;
}

// ---- form ---------------------------------------------------------------------------------------

function buildMethodList(selected: readonly Method[]): void {
  const box = $('methods');
  box.innerHTML = '';
  for (const m of DEMO_METHODS) {
    const label = document.createElement('label');
    label.title = methodDecl(m).description;
    label.innerHTML = `<input type="checkbox" name="method" value="${m}"${selected.includes(m) ? ' checked' : ''} />
      <span class="swatch" style="background:${METHOD_COLORS[m]}"></span>${METHOD_LABELS[m]}`;
    box.append(label);
  }
}

function writeForm(s: Settings): void {
  field('task').value = s.task;
  field('ratio').value = String(s.ratio);
  field('noise').value = String(s.noise);
  field('trainSize').value = String(s.trainSize);
  field('clean').value = String(s.cleanPerClass);
  field('steps').value = String(s.steps);
  field('lr').value = String(s.lr);
  field('batch').value = String(s.batch);
  field('every').value = String(s.every);
  field('model').value = s.model;
  field('seed').value = String(s.seed);
  buildMethodList(s.methods);
  syncFormVisibility();
}

function readForm(): Settings {
  const methods = Array.from(form.querySelectorAll<HTMLInputElement>('input[name="method"]:checked')).map((i) => i.value as Method);
  // Through the query-string parser, so the form gets the same ranges and defaults as a link.
  return fromQuery(
    toQuery({
      task: field('task').value as TaskKind,
      ratio: Number(field('ratio').value),
      noise: Number(field('noise').value),
      trainSize: Number(field('trainSize').value),
      cleanPerClass: Number(field('clean').value),
      methods,
      steps: Number(field('steps').value),
      lr: Number(field('lr').value),
      batch: Number(field('batch').value),
      every: Number(field('every').value),
      model: field('model').value as ModelKind,
      seed: Number(field('seed').value),
      autostart: false,
    }),
  );
}

function syncFormVisibility(): void {
  const noise = field('task').value !== 'imbalance';
  for (const el of Array.from(form.querySelectorAll<HTMLElement>('.only-noise'))) el.hidden = !noise;
  for (const el of Array.from(form.querySelectorAll<HTMLElement>('.only-imbalance'))) el.hidden = noise;
  $('model-warning').hidden = field('model').value !== 'lenet';
}

field('task').addEventListener('change', () => {
  const d = TASK_DEFAULTS[field('task').value as TaskKind];
  field('trainSize').value = String(d.trainSize);
  field('clean').value = String(d.cleanPerClass);
  syncFormVisibility();
});
field('model').addEventListener('change', syncFormVisibility);

function lockForm(locked: boolean): void {
  for (const fs of Array.from(form.querySelectorAll('fieldset'))) fs.disabled = locked;
}

// ---- drawing ------------------------------------------------------------------------------------

function makePanels(s: Session): void {
  const box = $('batches');
  box.innerHTML = '';
  panels = new Map();
  for (const r of s.runs) {
    const root = document.createElement('article');
    root.className = 'panel batch';
    root.dataset.method = r.method;
    root.innerHTML = `<h3><span class="swatch" style="background:${METHOD_COLORS[r.method]}"></span>${METHOD_LABELS[r.method]}</h3>
      <p class="facts">waiting for the first readback…</p>
      <canvas class="grid" data-testid="grid-${r.method}"></canvas>
      <canvas class="hist" data-testid="hist-${r.method}"></canvas>`;
    box.append(root);
    panels.set(r.method, {
      root,
      grid: root.querySelector('canvas.grid')!,
      hist: root.querySelector('canvas.hist')!,
      facts: root.querySelector('.facts')!,
    });
  }
}

function cellsOf(s: Session, r: MethodRun): DigitCell[] {
  const view = r.lastBatch;
  if (!view || !mnist) return [];
  const split = view.source === 'clean' ? s.task.clean : s.task.train;
  const { indices, weights } = view.batch;
  const names = s.task.classNames;
  return Array.from(indices, (k, i) => {
    const mislabelled = view.source === 'train' && s.task.train.noisyMask?.[k] === 1;
    return {
      pixels: examplePixels(split, mnist!.train, k),
      label: names[split.y[k]],
      trueLabel: mislabelled ? names[s.task.train.trueY![k]] : undefined,
      weight: weights[i],
      mislabelled,
    };
  });
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function drawBatches(s: Session): void {
  for (const r of s.runs) {
    const p = panels.get(r.method);
    const view = r.lastBatch;
    if (!p || !view) continue;
    const color = METHOD_COLORS[r.method];
    const cells = cellsOf(s, r);
    drawDigitGrid(p.grid, cells, color);
    drawWeightHistogram(p.hist, view.batch.weights, color);
    const ev = r.evals.at(-1);
    const zero = view.batch.weights.filter((w) => w === 0).length;
    const bad = cells.filter((c) => c.mislabelled);
    const badShare = bad.reduce((a, c) => a + c.weight, 0);
    const facts = [
      `step ${view.step}${view.source === 'clean' ? ' (clean set)' : ''}`,
      ev ? `test error ${pct(ev.error)}` : '',
      zero === cells.length && cells.length > 0
        ? 'every weight 0: no example here lowers the clean loss, so the step is skipped'
        : `${zero}/${cells.length} weight 0`,
      bad.length ? `${bad.length} mislabelled got ${pct(badShare)} of the weight` : '',
    ];
    p.facts.textContent = facts.filter(Boolean).join(' · ');
  }
}

function drawPlots(s: Session | null): void {
  if (!s) {
    plots.loss.set([], DEFAULTS.steps);
    plots.error.set([], DEFAULTS.steps);
    return;
  }
  const series = (pick: (r: MethodRun) => [number, number][]): Series[] =>
    s.runs.map((r) => ({ name: METHOD_LABELS[r.method], color: METHOD_COLORS[r.method], points: pick(r) }));
  const xMax = s.settings.steps;
  plots.loss.set(series((r) => r.snapshots.map((p) => [p.step, p.trainLoss])), xMax);
  plots.error.set(series((r) => r.evals.map((e) => [e.step, e.error])), xMax);
  const noisy = s.task.train.noisyMask !== undefined;
  $('flagged-figure').hidden = !noisy;
  if (noisy) {
    const uniform: Series = {
      name: 'uniform weights',
      color: '#adb5bd',
      dashed: true,
      points: [
        [0, s.settings.noise],
        [xMax, s.settings.noise],
      ],
    };
    plots.flagged.set([...series((r) => r.flaggedShare), uniform], xMax);
  }
  $('test-caption').textContent = `(${s.task.test.n} test images)`;
}

function render(): void {
  const s = session;
  drawPlots(s);
  if (s) drawBatches(s);
  $('step').textContent = s ? `${s.step} / ${s.settings.steps}` : '0';
  $('speed').textContent = s && s.stepsPerSecond > 0 ? `${s.stepsPerSecond.toFixed(1)} steps/s${s.runs.length > 1 ? ` × ${s.runs.length}` : ''}` : '—';
  publish();
}

function publish(): void {
  const s = session;
  status.step = s?.step ?? 0;
  status.steps = s?.settings.steps ?? 0;
  status.stepsPerSecond = s?.stepsPerSecond ?? 0;
  status.averageStepsPerSecond = s && s.elapsed > 0 ? s.step / s.elapsed : 0;
  status.methods = {};
  for (const r of s?.runs ?? []) {
    const w = r.lastBatch?.batch.weights ?? new Float32Array(0);
    status.methods[r.method] = {
      trainLoss: r.snapshots.map((p) => p.trainLoss),
      testError: r.evals.map((e) => e.error),
      zeroWeights: w.filter((v) => v === 0).length,
      weights: Array.from(w),
      mislabelled: s ? cellsOf(s, r).filter((c) => c.mislabelled).length : 0,
    };
  }
}

function setState(state: string): void {
  status.state = state;
  $('state').textContent = state;
  const s = session?.state;
  const usable = webGpuWorks && mnist !== null;
  // After a device loss the old session cannot continue: Reset first, then Start asks for a new device.
  const stale = deviceLost && session !== null;
  buttons.start.disabled = !usable || s === 'running' || state === 'preparing' || stale;
  buttons.start.textContent = s === 'paused' && !stale ? 'Resume' : 'Start';
  buttons.pause.disabled = s !== 'running';
  buttons.reset.disabled = !session || state === 'preparing';
  lockForm(s === 'running' || s === 'paused' || state === 'preparing');
}

// ---- lifecycle ----------------------------------------------------------------------------------

function withTimeout<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish within ${seconds} s`)), seconds * 1000)),
  ]);
}

async function openGpu(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError('This browser does not expose navigator.gpu.');
  }
  let g: Gpu;
  try {
    g = await withTimeout(Gpu.create(), 30, 'Requesting a WebGPU adapter and device');
  } catch (e) {
    if (e instanceof GpuUnavailableError) {
      // navigator.gpu exists but offered no adapter: the engine's message is about Node drivers.
      throw new GpuUnavailableError(
        'The browser has WebGPU but offered no adapter: the GPU or its driver may be blocklisted, or WebGPU is disabled for it.',
      );
    }
    throw e;
  }
  gpu = g;
  webGpuWorks = true;
  deviceLost = false;
  const a = g.adapter;
  // The engine's name carries the runtime for logs; here the vendor and architecture say enough.
  const name = [...new Set([a.description || a.device, a.vendor, a.architecture].filter(Boolean))].join(' · ') || g.name;
  const software = a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|warp/i.test(`${a.architecture} ${a.description} ${a.device}`);
  status.adapter = name;
  $('adapter').textContent = software ? `${name} (software)` : name;
  $('adapter').title = g.describe();
  g.device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    console.error('WebGPU error:', err.message);
    status.error = err.message;
    showNotice(`<h2>WebGPU reported an error</h2><p>${escape(err.message)}</p><p>Training was paused: results after an error cannot be trusted. Press Reset to start again.</p>`);
    if (session?.state === 'running') void session.pause();
  });
  g.device.lost.then((info) => {
    if (gpu !== g) return;
    gpu = null;
    deviceLost = true;
    // The browser's own words (the engine's wording assumes it destroyed the device itself).
    const reason = `WebGPU reports reason "${info.reason}": ${info.message || 'no details'}`;
    status.error = reason;
    showNotice(deviceLostHelp(reason));
    // Stop the loop first (it reports 'paused'), then show the real state.
    if (session && session.state === 'running') void session.pause();
    setState('device lost');
  });
}

async function startOrResume(): Promise<void> {
  if (session?.state === 'paused' && !deviceLost) {
    session.start();
    return;
  }
  const settings = readForm();
  if (settings.methods.length === 0) {
    showNotice('<h2>No method selected</h2><p>Tick at least one method to train.</p>', 'info');
    return;
  }
  hideNotice();
  status.error = null;
  if (session) await session.dispose();
  session = null;
  setState('preparing');
  try {
    if (!gpu) await openGpu();
    const task = buildTask(mnist!, settings);
    $('task-description').textContent = task.description;
    history.replaceState(null, '', toQuery(settings));
    const s = await Session.create(gpu!, task, mnist!, settings, {
      update: render,
      progress: (step) => {
        status.step = step;
        $('step').textContent = `${step} / ${settings.steps}`;
      },
      // A failure is shown by the error handler below, which tells a lost device from a failed step.
      state: (st: SessionState) => {
        if (st !== 'failed') setState(st);
      },
      error: (e) => {
        if (deviceLost) return; // the device-lost notice says more than the failed step
        status.error = e instanceof Error ? e.message : String(e);
        showNotice(describeError(e));
        // A step that failed because the device is gone: device.lost (which may resolve after the
        // step's own rejection) shows the state and the browser's reason.
        if (e instanceof Error && e.name === 'GpuLostError') return;
        setState('failed');
      },
    });
    session = s;
    makePanels(s);
    await s.evaluateInitial();
    s.start();
  } catch (e) {
    status.error = e instanceof Error ? e.message : String(e);
    showNotice(describeError(e));
    setState(webGpuWorks ? 'ready' : 'no WebGPU');
  }
}

async function reset(): Promise<void> {
  const s = session;
  session = null;
  setState('preparing');
  if (s) await s.dispose();
  $('batches').innerHTML = '';
  $('flagged-figure').hidden = true;
  hideNotice();
  render();
  setState(webGpuWorks ? 'ready' : 'no WebGPU');
}

// The digit grids size themselves to their panel: redraw them when the layout changes width.
let lastBatchesWidth = 0;
new ResizeObserver(() => {
  const w = $('batches').clientWidth;
  if (w !== lastBatchesWidth && session) drawBatches(session);
  lastBatchesWidth = w;
}).observe($('batches'));

buttons.start.addEventListener('click', () => void startOrResume());
buttons.pause.addEventListener('click', () => void session?.pause());
buttons.reset.addEventListener('click', () => void reset());

async function boot(): Promise<void> {
  const settings = fromQuery(location.search);
  writeForm(settings);
  render();
  setState('loading');
  const data = withTimeout(loadDemoMnist(), 60, 'Loading the MNIST subset').then((m) => (mnist = m));
  try {
    await openGpu();
  } catch (e) {
    status.error = e instanceof Error ? e.message : String(e);
    showNotice(e instanceof GpuUnavailableError ? noWebGpuHelp(status.error) : describeError(e));
    plots.loss.setEmpty('no WebGPU: nothing can train here');
    plots.error.setEmpty('no WebGPU: nothing can train here');
    setState('no WebGPU');
    return;
  }
  try {
    await data;
  } catch (e) {
    status.error = (e as Error).message;
    showNotice(`<h2>The training data could not be loaded</h2><p>${escape(status.error)}</p>`);
    setState('no data');
    return;
  }
  $('subset').textContent = `${mnist!.train.n / 10} training and ${mnist!.test.n / 10} test images per digit`;
  setState('ready');
  if (settings.autostart) void startOrResume();
}

void boot();
