// The benchmark page: runs the same suite as `npm run bench` on the browser's own WebGPU adapter and
// leaves the result on window for the puppeteer runner (bench/browser.ts).
import { formatResult } from '../report';
import { runBench, type BenchMode, type BenchResult } from '../run';

interface BenchWindow {
  __benchLog: string[];
  __benchResult?: BenchResult;
  __benchError?: string;
  __benchDone?: boolean;
}

const w = window as unknown as BenchWindow;
w.__benchLog = [];
const pre = document.getElementById('log')!;
const log = (line: string) => {
  w.__benchLog.push(line);
  pre.textContent = w.__benchLog.join('\n');
};

const params = new URLSearchParams(location.search);
const mode = (params.get('mode') ?? 'quick') as BenchMode;
// ResNet-32 steps take minutes each on SwiftShader: the browser run leaves them out unless ?skip= says otherwise.
const skip = (params.get('skip') ?? 'resnet').split(',').filter(Boolean) as never;

runBench({ mode, skip, log })
  .then((r) => {
    w.__benchResult = r;
    log('');
    log(formatResult(r));
  })
  .catch((e: unknown) => {
    w.__benchError = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    log(`failed: ${w.__benchError}`);
  })
  .finally(() => {
    w.__benchDone = true;
  });
