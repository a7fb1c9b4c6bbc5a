/**
 * One cluster member with sharding, in its own process, for the remote and rebalance scenarios:
 *   node --import tsx benchmarks/sharding/node.ts <roles,comma-separated|-> <numberOfShards> <rebalanceIntervalMs> [seed host:port]
 * It binds 127.0.0.1 (`local` preset), joins the seed, and starts the counter type with role
 * `host`: only members with that role host entities, the others route. Its coordinator's
 * strategy is the default `consistentHashing()`, wrapped only to report each rebalance round
 * that moves shards (`round <wall ms> <shards>` on stdout) — the decisions are the default's.
 * It prints `ready <address> <member id> <wall ms>` once it is up, and `count <hosted shards>
 * <wall ms>` whenever the number of shards it hosts changes (polled every 5 ms).
 *
 * Commands on stdin (each answered by one `result <json>` line, except the sweep loop):
 *   members <n>                          wait until n members are up
 *   warm <entities>                      ask e0 … e<entities-1> once each
 *   load <seconds> <concurrency> <entities>   closed-loop asks; latency of each
 *   sweep <numberOfShards>               ask one entity of every shard, 256 in flight
 *   sweep-loop <numberOfShards>          sweeps back to back, `sweep <start> <end> <ok> <failed> [first error]` each
 *   sweep-stop                           ends the loop after the current sweep (answers `result`)
 *   stats                                messaging and hosting counters
 */
import { Cluster } from '../../src/cluster/index.js';
import { Sharding, consistentHashing } from '../../src/sharding/index.js';
import type { ShardAllocationStrategy } from '../../src/sharding/index.js';
import { closedLoop, counter, entityIds, idsOnePerShard, onCommands, printResult, wallNow } from './common.js';
import type { AddCommand } from './common.js';

const [rolesArg, shardsArg, rebalanceArg, seed] = process.argv.slice(2);
const roles = rolesArg === '-' || rolesArg === undefined ? [] : rolesArg.split(',');
const numberOfShards = Number(shardsArg);
const command: AddCommand = { n: 1 };

const inner = consistentHashing();
const strategy: ShardAllocationStrategy = {
  allocateShard: (requester, shard, allocations) => inner.allocateShard(requester, shard, allocations),
  async rebalance(allocations, inProgress) {
    const shards = await inner.rebalance(allocations, inProgress);
    if (shards.length > 0) process.stdout.write(`round ${wallNow().toFixed(3)} ${shards.length}\n`);
    return shards;
  },
};

const cluster = await Cluster.start({ host: '127.0.0.1', preset: 'local', roles, seeds: seed ? [seed] : [] });
const sharding = new Sharding(cluster);
const handle = sharding.init({ typeName: 'counter', behavior: counter, numberOfShards, role: 'host', rebalanceIntervalMs: Number(rebalanceArg), allocationStrategy: strategy });
await cluster.joined;
while (!cluster.upMembers().some((m) => m.id === cluster.self.id)) await new Promise((r) => setTimeout(r, 10));
process.stdout.write(`ready ${cluster.address} ${cluster.self.id} ${wallNow().toFixed(3)}\n`);

let hosted = -1;
setInterval(() => {
  const n = handle.region.hostedShards().length;
  if (n !== hosted) {
    hosted = n;
    process.stdout.write(`count ${n} ${wallNow().toFixed(3)}\n`);
  }
}, 5);

const ask = (id: string, timeoutMs = 5000) => handle.entityRef(id).ask(command, { timeoutMs });

async function sweep(ids: readonly string[]): Promise<{ ok: number; failed: number; firstError?: string }> {
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        await ask(id, 10_000);
        ok++;
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  return { ok, failed, ...(firstError ? { firstError } : {}) };
}

let looping = false;
let loopDone: Promise<void> = Promise.resolve();

onCommands(async (line) => {
  const [verb, ...args] = line.split(' ');
  const num = args.map(Number);
  switch (verb) {
    case 'members':
      while (cluster.upMembers().length < num[0]!) await new Promise((r) => setTimeout(r, 10));
      return printResult({ up: cluster.upMembers().length });
    case 'warm': {
      const ids = entityIds(num[0]!);
      const t0 = performance.now();
      const r = await sweep(ids);
      return printResult({ ...r, ms: performance.now() - t0 });
    }
    case 'load':
      return printResult(await closedLoop((id) => ask(id), entityIds(num[2]!), num[1]!, num[0]!));
    case 'sweep': {
      const t0 = wallNow();
      const r = await sweep(idsOnePerShard(num[0]!));
      return printResult({ ...r, start: t0, end: wallNow() });
    }
    case 'sweep-loop': {
      looping = true;
      const ids = idsOnePerShard(num[0]!);
      loopDone = (async () => {
        while (looping) {
          const t0 = wallNow();
          const r = await sweep(ids);
          process.stdout.write(`sweep ${t0.toFixed(3)} ${wallNow().toFixed(3)} ${r.ok} ${r.failed}${r.firstError ? ` ${r.firstError.replace(/\s+/g, ' ')}` : ''}\n`);
        }
      })();
      return;
    }
    case 'sweep-stop':
      looping = false;
      await loopDone;
      return printResult({ stopped: true });
    case 'stats':
      return printResult({ hostedShards: handle.region.hostedShards().length, activeEntities: handle.region.activeEntities, messaging: cluster.messagingStats, swim: cluster.swimStats, members: cluster.members().map((m) => ({ id: m.id, state: m.state, reachable: m.reachable })) });
    default:
      throw new Error(`unknown command ${line}`);
  }
});
