// `npm run bench [-- --quick | --smoke] [--skip peers] [--peers tfjs-webgpu,jaxjs-webgpu] [--out file]`
// Runs the benchmark suite in Node (Dawn), prints the tables and writes bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { runBench, type BenchMode } from './run';
import { PEER_NAMES, type PeerName } from './peers/index';
import { formatResult } from './report';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const cmd = new Command('bench')
    .description('Kernel, training-step and peer benchmarks on this machine\'s WebGPU adapter')
    .option('--quick', 'fewer repetitions (about 3 minutes on a 2-core CPU adapter)')
    .option('--smoke', 'one iteration of everything (CI check of the harness, not a measurement)')
    .addOption(new Option('--skip <groups>', 'comma-separated: kernels, steps, resnet, peers, profile').default(''))
    .option('--kernels <names>', 'only kernels whose name contains one of these (comma-separated)')
    .addOption(new Option('--peers <names>', `comma-separated subset of ${PEER_NAMES.join(', ')}`))
    .option('--wall-clock', 'time kernels by onSubmittedWorkDone even where timestamp queries exist')
    .option('--synthetic', 'synthetic training bytes instead of MNIST')
    .option('--out <file>', 'JSON output', path.join(here, 'results/latest.json'))
    .parse(process.argv);
  const o = cmd.opts<{ quick?: boolean; smoke?: boolean; skip: string; kernels?: string; peers?: string; wallClock?: boolean; synthetic?: boolean; out: string }>();
  const mode: BenchMode = o.smoke ? 'smoke' : o.quick ? 'quick' : 'full';
  const list = (s?: string) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
  const peers = list(o.peers) as PeerName[] | undefined;
  for (const p of peers ?? []) if (!(PEER_NAMES as readonly string[]).includes(p)) throw new Error(`unknown peer "${p}" (expected ${PEER_NAMES.join(', ')})`);
  const result = await runBench({
    mode,
    skip: list(o.skip) as never,
    kernelFilter: list(o.kernels),
    peers,
    wallClock: o.wallClock,
    synthetic: o.synthetic,
    log: (line) => console.log(line),
  });
  console.log('');
  console.log(formatResult(result));
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), o.out)} (${result.wall_s.toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
