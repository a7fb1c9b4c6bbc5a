// A cluster member in its own process, for the integration tests: joins the seeds given as
// arguments (local preset), prints `ready <address> <id>`, then one JSON line per membership
// event. SIGTERM makes it leave gracefully; SIGKILL is a crash.
import { Cluster } from '../../src/cluster/index.js';

const seeds = process.argv.slice(2);
const cluster = await Cluster.start({ preset: 'local', seeds });
const lines: string[] = [];
let ready = false;
const print = (line: string) => (ready ? process.stdout.write(`${line}\n`) : lines.push(line));
cluster.on('membership', (e) => print(JSON.stringify({ type: e.type, id: e.member.id })));
await cluster.joined;
process.stdout.write(`ready ${cluster.address} ${cluster.self.id}\n${lines.map((l) => `${l}\n`).join('')}`);
ready = true;
process.on('SIGTERM', () => {
  void cluster.leave(500).then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30); // the cluster's own timers are unref'd
