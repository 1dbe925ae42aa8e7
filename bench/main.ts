// `npm run bench [-- --quick | --smoke] [--skip peers] [--peers tfjs-webgpu,jaxjs-webgpu] [--resnet-peers [runs]] [--out file]`
// Runs the benchmark suite in Node (Dawn), prints the tables and writes bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { MODES, runBench, type BenchMode } from './run';
import { PEER_NAMES, type PeerName } from './peers/index';
import { formatResnetPeers, RESNET_PEER_RUNS, type ResnetPeerRunName } from './peers/resnet';
import { formatResult } from './report';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const cmd = new Command('bench')
    .description('Kernel, training-step and peer benchmarks on this machine\'s WebGPU adapter')
    .option('--quick', 'fewer repetitions (about 3 minutes on a 2-core CPU adapter)')
    .option('--smoke', 'one iteration of everything (CI check of the harness, not a measurement)')
    .addOption(new Option('--skip <groups>', 'comma-separated: kernels, variants, steps, resnet, peers, profile').default(''))
    .option('--kernels <names>', 'only kernels whose name contains one of these (comma-separated)')
    .addOption(new Option('--peers <names>', `comma-separated subset of ${PEER_NAMES.join(', ')}`))
    .option('--resnet-peers [runs]', `also train the ResNet in the peers (slow; part of the resnet group), comma-separated subset of ${RESNET_PEER_RUNS.join(', ')} (default all)`)
    .option('--resnet-peer-timeout <s>', 'wall-clock bound per ResNet peer run, seconds', '600')
    .option('--wall-clock', 'time kernels by onSubmittedWorkDone even where timestamp queries exist')
    .option('--synthetic', 'synthetic training bytes instead of MNIST')
    .option('--out <file>', 'JSON output', path.join(here, 'results/latest.json'))
    .parse(process.argv);
  const o = cmd.opts<{ quick?: boolean; smoke?: boolean; skip: string; kernels?: string; peers?: string; resnetPeers?: string | boolean; resnetPeerTimeout: string; wallClock?: boolean; synthetic?: boolean; out: string }>();
  const mode: BenchMode = o.smoke ? 'smoke' : o.quick ? 'quick' : 'full';
  const list = (s?: string) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
  const peers = list(o.peers) as PeerName[] | undefined;
  for (const p of peers ?? []) if (!(PEER_NAMES as readonly string[]).includes(p)) throw new Error(`unknown peer "${p}" (expected ${PEER_NAMES.join(', ')})`);
  if (o.resnetPeers) {
    // Opt-in only (minutes per run): the ResNet group's options carry the peer runs to runResnetBench.
    const runs = (o.resnetPeers === true ? [...RESNET_PEER_RUNS] : list(o.resnetPeers) ?? []) as ResnetPeerRunName[];
    for (const r of runs) if (!(RESNET_PEER_RUNS as readonly string[]).includes(r)) throw new Error(`unknown ResNet peer run "${r}" (expected ${RESNET_PEER_RUNS.join(', ')})`);
    const timeoutS = Number(o.resnetPeerTimeout);
    if (!(timeoutS > 0)) throw new Error(`--resnet-peer-timeout must be a positive number of seconds, got ${o.resnetPeerTimeout}`);
    if (list(o.skip)?.includes('resnet')) console.warn('--resnet-peers has no effect with --skip resnet (the peers run in the resnet group)');
    const r = MODES[mode].resnet;
    r.peers = { runs, timeoutS, warmup: 1, steps: r.steps };
  }
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
  if (result.resnet?.peers) console.log('\n' + formatResnetPeers(result.resnet.peers, result.resnet.model));
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
