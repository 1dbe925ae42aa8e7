// Prints the WebGPU adapter Dawn finds in Node, or exits 1 when there is none.
// Used by scripts/setup.sh before the TypeScript sources are built, so it stays plain JS.
import { create, globals } from 'webgpu';
import { existsSync } from 'node:fs';

Object.assign(globalThis, globals);
const lvp = '/usr/share/vulkan/icd.d/lvp_icd.json';
const gpu = create([]);
globalThis.__l2rwGpu = gpu; // keep Dawn's instance alive
let adapter = await gpu.requestAdapter();
if (!adapter && !process.env.VK_ICD_FILENAMES && existsSync(lvp)) {
  process.env.VK_ICD_FILENAMES = lvp;
  adapter = await create([]).requestAdapter();
}
if (!adapter) process.exit(1);
const info = adapter.info ?? {};
console.log([info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / '));
process.exit(0);
