// A cluster member in its own process, for the integration tests: joins the seeds given as
// arguments (local preset), prints `ready <address> <id>`, then one JSON line per membership
// and lifecycle event, and `singleton-started` / `singleton-stopped` when the `lock` singleton
// moves here or away. A message on topic `echo` is sent back on `echo-reply`. With
// CLUSTER_KEY set, all traffic is encrypted with that key. SIGTERM makes it leave gracefully;
// SIGKILL is a crash.
import { Cluster, Keyring } from '../../src/cluster/index.js';

const seeds = process.argv.slice(2);
const keyring = process.env.CLUSTER_KEY ? new Keyring([process.env.CLUSTER_KEY]) : undefined;
const cluster = await Cluster.start({ preset: 'local', seeds, keyring });
const lines: string[] = [];
let ready = false;
const print = (line: string) => (ready ? process.stdout.write(`${line}\n`) : lines.push(line));
cluster.on('membership', (e) => print(JSON.stringify({ type: e.type, id: e.member.id })));
cluster.on('change', (e) => print(JSON.stringify({ type: e.type, id: e.member.id })));
cluster.singleton({
  name: 'lock',
  create: () => {
    print(JSON.stringify({ type: 'singleton-started', id: cluster.self.id }));
    return { receive: () => cluster.self.id, stop: () => void print(JSON.stringify({ type: 'singleton-stopped', id: cluster.self.id })) };
  },
});
cluster.onMessage('echo', (from, payload) => void cluster.sendReliable(from, 'echo-reply', payload).catch(() => undefined));
await cluster.joined;
process.stdout.write(`ready ${cluster.address} ${cluster.self.id}\n${lines.map((l) => `${l}\n`).join('')}`);
ready = true;
process.on('SIGTERM', () => {
  void cluster.leave(500).then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30); // the cluster's own timers are unref'd
