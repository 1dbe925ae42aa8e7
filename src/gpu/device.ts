// The one place that knows whether we run in a browser (navigator.gpu) or in Node (Dawn through the
// `webgpu` npm package). Everything above this file sees the same GPU interface.

const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

export const NO_ADAPTER_HELP =
  'No WebGPU adapter found. ' +
  'On a GPU-less Debian/Ubuntu machine run `bash scripts/setup.sh` as root: it installs Mesa lavapipe ' +
  '(Vulkan on the CPU), which Dawn uses in Node. On a machine with a GPU, install its Vulkan driver ' +
  '(NVIDIA: the proprietary driver; AMD/Intel: mesa-vulkan-drivers). In a browser use a recent ' +
  'Chrome or Edge, or start Chromium with --enable-unsafe-webgpu.';

/**
 * What is wrong with the Vulkan loader's driver variables, when they name ICD files that do not exist
 * (the loader then finds no driver at all, and Dawn no adapter); null when nothing is.
 */
export function vulkanDriverEnvProblem(env: Record<string, string | undefined>, exists: (path: string) => boolean): string | null {
  for (const name of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES']) {
    const value = env[name];
    if (!value) continue;
    const missing = value.split(':').filter((p) => p && !exists(p));
    if (missing.length) {
      return (
        `${name} is set to ${value}, but ${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist: ` +
        `unset ${name}, or point it at an installed Vulkan driver's ICD file (e.g. ${LAVAPIPE_ICD}, Mesa lavapipe)`
      );
    }
  }
  return null;
}

/** NO_ADAPTER_HELP, led by what is wrong with VK_ICD_FILENAMES / VK_DRIVER_FILES (Node) when something is. */
export async function noAdapterHelp(): Promise<string> {
  if (!isNode()) return NO_ADAPTER_HELP;
  const { existsSync } = await import('node:fs');
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!.env;
  const problem = vulkanDriverEnvProblem(env, existsSync);
  return problem ? `No WebGPU adapter found: ${problem}. ${NO_ADAPTER_HELP.replace(/^No WebGPU adapter found\. /, 'Otherwise: ')}` : NO_ADAPTER_HELP;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

type DawnModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };
type Holder = { __l2rwDawn?: GPU };

/** Returns the GPU entry point of this environment, or null when WebGPU is absent. */
export async function getNavigatorGpu(): Promise<GPU | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!isNode()) return null;
  const holder = globalThis as Holder;
  if (holder.__l2rwDawn) return holder.__l2rwDawn;
  // The module name sits in a variable so that browser bundlers never try to resolve it.
  const moduleName = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ moduleName)) as DawnModule;
  Object.assign(globalThis, dawn.globals);
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!.env;
  const { existsSync } = await import('node:fs');
  // Dawn rounds timestamp queries to a coarse quantum by default (a browser's guard against timing
  // attacks, irrelevant to a local process): on an H200 every kernel time came out a multiple of
  // 32.8 us. The benchmarks and the kernel-form measurements want real timestamps.
  const flags = ['disable-dawn-features=timestamp_quantization'];
  let gpu = dawn.create(flags);
  // Dawn's instance must outlive every GPU job: if it is garbage-collected, long jobs crash.
  holder.__l2rwDawn = gpu;
  if (!env.VK_ICD_FILENAMES && existsSync(LAVAPIPE_ICD) && !(await gpu.requestAdapter())) {
    // No GPU driver answered: point the Vulkan loader at Mesa's CPU driver explicitly.
    env.VK_ICD_FILENAMES = LAVAPIPE_ICD;
    gpu = dawn.create(flags);
    holder.__l2rwDawn = gpu;
  }
  return gpu;
}

/** Node programs must exit explicitly: Dawn's instance keeps the event loop alive. */
export function runtimeName(): 'node-dawn' | 'browser' {
  return isNode() && !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu ? 'node-dawn' : 'browser';
}
