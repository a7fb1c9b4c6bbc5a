/**
 * The local scenario of the sharding benchmark, in its own process:
 *   node --import tsx benchmarks/sharding/local.ts <seconds> <concurrency> <entities> <rounds>
 * A one-node cluster (`local` preset) hosts the in-memory counter type; asks go from this
 * process to entities hosted here (every entity touched once, then a 1 s warm-up loop), with
 * `concurrency` asks in flight (closed loop) round-robin over `entities` entities. The in-run
 * baseline is the same closed loop calling a plain async function over a Map (what the
 * sharding layer adds over a function call). Rounds alternate baseline and sharding. Prints
 * `result <json>` with every round; exits when done.
 */
import { Cluster } from '../../src/cluster/index.js';
import { Sharding } from '../../src/sharding/index.js';
import { closedLoop, counter, entityIds, printResult } from './common.js';
import type { AddCommand, LoadResult } from './common.js';

const [seconds, concurrency, entities, rounds] = process.argv.slice(2).map(Number) as [number, number, number, number];
const progress = (line: string) => process.stderr.write(`  local: ${line}\n`);
const ids = entityIds(entities);
const command: AddCommand = { n: 1 };

// Baseline: a plain async function over a Map, the same state change as the entity.
const map = new Map<string, number>();
const plain = async (id: string, c: AddCommand): Promise<number> => {
  const next = (map.get(id) ?? 0) + c.n;
  map.set(id, next);
  return next;
};

const cluster = await Cluster.start({ host: '127.0.0.1', preset: 'local' });
await cluster.joined;
for (let i = 0; i < 100 && !cluster.upMembers().some((m) => m.id === cluster.self.id); i++) await new Promise((r) => setTimeout(r, 20));
const sharding = new Sharding(cluster);
const handle = sharding.init({ typeName: 'counter', behavior: counter, numberOfShards: 100 });
const refs = new Map(ids.map((id) => [id, handle.entityRef(id)]));
const ask = (id: string) => refs.get(id)!.ask(command);

progress(`warming ${entities} entities`);
await Promise.all(ids.map((id) => ask(id)));
await closedLoop(ask, ids, concurrency, 1);
await closedLoop((id) => plain(id, command), ids, concurrency, 1);
progress(`${handle.region.hostedShards().length} shards, ${handle.region.activeEntities} entities hosted here`);

const baseline: LoadResult[] = [];
const sharded: LoadResult[] = [];
for (let r = 0; r < rounds; r++) {
  baseline.push(await closedLoop((id) => plain(id, command), ids, concurrency, seconds));
  const s = await closedLoop(ask, ids, concurrency, seconds);
  sharded.push(s);
  progress(`round ${r + 1}/${rounds}: sharding ${Math.round(s.perSec)} asks/s (p50 ${s.p50Ms.toFixed(3)} ms, p99 ${s.p99Ms.toFixed(3)} ms), plain function ${Math.round(baseline[r]!.perSec)} calls/s`);
}
printResult({ concurrency, entities, seconds, hostedShards: handle.region.hostedShards().length, baseline, sharded });
await sharding.stop();
await cluster.shutdown();
process.exit(0);
