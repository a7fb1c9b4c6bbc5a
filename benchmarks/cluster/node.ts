/**
 * One cluster member in its own process, for the detection benchmark. Usage:
 *   node --import tsx benchmarks/cluster/node.ts <preset> [seed host:port ...]
 * It binds 127.0.0.1, joins the seeds, and prints machine-readable lines on stdout, each with a
 * wall timestamp `performance.timeOrigin + performance.now()` (ms, sub-ms resolution), which
 * compares across processes on one machine:
 *   ready <address> <id> <t>
 *   event <joined|suspected|recovered|failed|left> <member id> <t>
 * It exits when its stdin closes, so it never outlives the benchmark that started it.
 */
import { performance } from 'node:perf_hooks';
import { Cluster } from '../../src/cluster/index.js';

const [preset, ...seeds] = process.argv.slice(2);
if (preset !== 'lan' && preset !== 'local') {
  process.stderr.write(`unknown preset ${preset}\n`);
  process.exit(2);
}
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const cluster = await Cluster.start({ host: '127.0.0.1', preset, seeds });
let ready = false;
const pending: string[] = [];
const print = (line: string) => (ready ? process.stdout.write(`${line}\n`) : pending.push(line));
cluster.on('membership', (e) => print(`event ${e.type} ${e.member.id} ${now()}`));
await cluster.joined;
process.stdout.write(`ready ${cluster.address} ${cluster.self.id} ${now()}\n${pending.map((l) => `${l}\n`).join('')}`);
ready = true;
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
