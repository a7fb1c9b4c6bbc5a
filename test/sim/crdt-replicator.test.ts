// The replicator in simulation: members over the in-memory network, virtual time, one seed
// (a failing run prints it; SIM_SEED=<seed> replays it). Counters, sets and maps converge to
// the same value on every node through lost messages, a partition and restarts (with a durable
// store); writes at majority/all succeed while enough replicas are reachable and fail with
// ERR_CRDT_WRITE_TIMEOUT in a minority; deletes stay deleted; removed members are pruned.
import t from 'tap';
import { Cluster } from '../../src/cluster/index.js';
import { InMemoryNetwork } from '../../src/cluster/transports/in-memory.js';
import { CloudstateError, ManualScheduler, SeededRandom, hasCode } from '../../src/core/index.js';
import type { Random } from '../../src/core/index.js';
import { GCounter, MemoryDurableStore, ORMap, ORSet, PNCounter, Replicator, crdtToText } from '../../src/crdt/index.js';
import type { ReplicatorCluster, ReplicatorOptions } from '../../src/crdt/index.js';
import { simSeed } from './harness.js';

const baseSeed = simSeed(6061);
t.comment(`seed ${baseSeed} (replay with SIM_SEED=${baseSeed})`);

/** A cluster whose reliable messages are lost at `rate()` (as when a connection breaks with frames in flight). */
function lossy(cluster: Cluster, random: Random, rate: () => number): ReplicatorCluster {
  const c = {
    get self() {
      return cluster.self;
    },
    members: () => cluster.members(),
    onMessage: (topic: string, h: Parameters<Cluster['onMessage']>[1]) => cluster.onMessage(topic, h),
    sendReliable: (to: string, topic: string, bytes: Uint8Array) => (random.next() < rate() ? Promise.resolve() : cluster.sendReliable(to, topic, bytes)),
    on: (e: string, l: (...a: never[]) => void) => (cluster.on(e as 'member-up', l as never), c),
    off: (e: string, l: (...a: never[]) => void) => (cluster.off(e as 'member-up', l as never), c),
  };
  return c as unknown as ReplicatorCluster;
}

interface Node {
  i: number;
  address: string;
  cluster: Cluster;
  replicator: Replicator;
  store: MemoryDurableStore;
  alive: boolean;
}

class CrdtSim {
  readonly scheduler = new ManualScheduler();
  readonly random: SeededRandom;
  readonly network: InMemoryNetwork;
  readonly nodes: Node[] = [];
  messageLoss = 0;
  private incarnation = 0;

  constructor(
    readonly seed: number,
    readonly replicatorOptions: Partial<ReplicatorOptions> = {},
  ) {
    this.random = new SeededRandom(seed);
    this.network = new InMemoryNetwork({ scheduler: this.scheduler, random: this.random.fork(), latencyMs: 1, lossRate: 0.02 });
  }

  /** Starts member `i` (again, after a kill: a new member id and address, the same durable store). */
  async start(i: number): Promise<Node> {
    const n = this.incarnation++;
    const address = `127.0.${n + 1}.1:7946`;
    const seedAddress = this.nodes.find((x) => x?.alive)?.address ?? address;
    const scheduler = this.network.scheduler(address);
    const clock = { now: () => 1_000_000 + this.scheduler.monotonic(), monotonic: () => this.scheduler.monotonic() };
    const cluster = await Cluster.start({ id: `n${i}.${n}`, seeds: [seedAddress], preset: 'local', transport: this.network.transport(address), scheduler, clock, random: this.random.fork() });
    const store = this.nodes[i]?.store ?? new MemoryDurableStore();
    const replicator = await Replicator.start({
      cluster: lossy(cluster, this.random.fork(), () => this.messageLoss),
      scheduler,
      clock,
      random: this.random.fork(),
      deltaIntervalMs: 50,
      gossipIntervalMs: 200,
      resendAfterMs: 300,
      maxKeysPerGossipChunk: 4,
      pruningIntervalMs: 30_000,
      durableStore: store,
      ...this.replicatorOptions,
    });
    const node = { i, address, cluster, replicator, store, alive: true };
    this.nodes[i] = node;
    return node;
  }

  async kill(i: number): Promise<void> {
    const node = this.nodes[i]!;
    node.alive = false;
    this.network.kill(node.address);
    await node.replicator.close();
    await node.cluster.shutdown();
  }

  live(): Node[] {
    return this.nodes.filter((n) => n.alive);
  }

  async run(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= 5) {
      this.scheduler.advance(Math.min(5, left));
      await new Promise((r) => setImmediate(r));
    }
  }

  async until(done: () => boolean, maxMs: number): Promise<number | undefined> {
    const start = this.scheduler.monotonic();
    while (this.scheduler.monotonic() - start < maxMs) {
      if (done()) return this.scheduler.monotonic() - start;
      await this.run(20);
    }
    return done() ? this.scheduler.monotonic() - start : undefined;
  }

  /** Runs a promise to completion while virtual time moves. */
  async settle<T>(p: Promise<T>, maxMs = 30_000): Promise<T> {
    let settled = false;
    const tracked = p.finally(() => (settled = true));
    tracked.catch(() => undefined);
    await this.until(() => settled, maxMs);
    return tracked;
  }

  allUp(): boolean {
    const live = this.live();
    return live.every((o) => o.cluster.upMembers().length === live.length);
  }

  /** Every live node holds the same state of `key` (and has it). */
  agree(key: string): boolean {
    const texts = this.live().map((n) => (n.replicator.isDeleted(key) ? 'deleted' : (n.replicator.getLocal(key) && crdtToText(n.replicator.getLocal(key)!)) ?? 'absent'));
    return texts[0] !== 'absent' && texts.every((x) => x === texts[0]);
  }

  async shutdown(): Promise<void> {
    for (const n of this.live()) {
      await n.replicator.close();
      await n.cluster.shutdown();
    }
  }
}

async function startAll(sim: CrdtSim, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await sim.start(i);
  const up = await sim.until(() => sim.allUp(), 60_000);
  if (up === undefined) throw new Error(`the ${count} members did not all come up (seed ${sim.seed})`);
}

const KEYS = ['hits', 'visitors', 'scores', 'total'];

t.test('seven members converge through lost messages, a partition and restarts', async (t) => {
  const seed = baseSeed;
  const sim = new CrdtSim(seed);
  t.teardown(() => sim.shutdown());
  await startAll(sim, 7);
  let expectedHits = 0;
  let expectedTotal = 0;
  const r = new SeededRandom(seed + 1);
  /** One random update on a random live node (awaited, so a counted increment is stored). */
  const work = async (count: number) => {
    for (let k = 0; k < count; k++) {
      const node = sim.live()[r.int(sim.live().length)]!;
      const rep = node.replicator;
      const id = rep.selfId;
      const delta = r.int(11) - 5;
      switch (r.int(4)) {
        case 0:
          await rep.update('hits', PNCounter.empty, (c) => c.increment(id, delta));
          expectedHits += delta;
          break;
        case 1:
          await rep.update('visitors', ORSet.empty, (s) => (r.next() < 0.7 ? s.add(id, `v${r.int(12)}`) : s.remove(`v${r.int(12)}`)));
          break;
        case 2:
          await rep.update('scores', ORMap.empty<PNCounter>(), (m) => (r.next() < 0.85 ? m.update(id, `p${r.int(5)}`, PNCounter.empty, (c) => c.increment(id, delta)) : m.remove(`p${r.int(5)}`)));
          break;
        default:
          await rep.update('total', GCounter.empty, (c) => c.increment(id, Math.abs(delta)));
          expectedTotal += Math.abs(delta);
      }
      if (k % 5 === 0) await sim.run(10);
    }
  };
  const valueOn = (n: Node, key: string) => (n.replicator.getLocal(key) as PNCounter | GCounter | undefined)?.value;
  const converged = () => KEYS.every((k) => sim.agree(k)) && sim.live().every((n) => valueOn(n, 'hits') === expectedHits && valueOn(n, 'total') === expectedTotal);
  const failIfNot = (what: string, took: number | undefined) => {
    t.ok(took !== undefined, `${what} (${took} ms of virtual time; seed ${seed})`);
    if (took === undefined) {
      for (const n of sim.live()) t.comment(`${n.replicator.selfId}: hits ${valueOn(n, 'hits')}/${expectedHits} total ${valueOn(n, 'total')}/${expectedTotal} ${KEYS.map((k) => n.replicator.getLocal(k) && crdtToText(n.replicator.getLocal(k)!).length).join(' ')}`);
    }
  };

  await work(60);
  failIfNot('converged after updates everywhere', await sim.until(converged, 10_000));

  // A fifth of replicator messages lost.
  sim.messageLoss = 0.2;
  await work(80);
  failIfNot('converged with 20 % of messages lost', await sim.until(converged, 20_000));
  sim.messageLoss = 0;

  // A partition {0,1,2} | {3,4,5,6}, updates on both sides, then heal.
  const a = sim.nodes.slice(0, 3).map((n) => n.address);
  const b = sim.nodes.slice(3).map((n) => n.address);
  sim.network.partition(a, b);
  await work(60);
  await sim.run(3000);
  t.notOk(sim.agree('hits') && sim.agree('total'), 'the two sides differ while partitioned');
  sim.network.heal();
  failIfNot('converged after the partition healed', await sim.until(() => sim.allUp() && converged(), 60_000));

  // Two members killed (kill -9) and restarted with their durable stores, under new member ids.
  for (const i of [2, 5]) {
    await work(10);
    await sim.kill(i);
  }
  await work(20);
  for (const i of [2, 5]) await sim.start(i);
  failIfNot('converged with the restarted members (their stored increments kept)', await sim.until(() => sim.allUp() && converged(), 60_000));
  const rep0 = sim.nodes[0]!.replicator;
  t.ok(rep0.stats.deltasSent > rep0.stats.fullStatesSent, `mostly deltas on the wire (node 0: ${rep0.stats.deltasSent} deltas, ${rep0.stats.fullStatesSent} full states)`);
  t.same(sim.live().map((n) => n.replicator.stats.malformed), sim.live().map(() => 0), 'no message was malformed');
});

t.test('write and read consistency: majority and all succeed when reachable, time out in a minority', async (t) => {
  const sim = new CrdtSim(baseSeed + 7);
  t.teardown(() => sim.shutdown());
  await startAll(sim, 5);
  const [n0, n1, n2, n3] = sim.nodes.map((n) => n.replicator) as [Replicator, Replicator, Replicator, Replicator];
  const inc = (rep: Replicator) => (c: GCounter) => c.increment(rep.selfId, 1);

  const all = await sim.settle(n2.update('c', GCounter.empty, inc(n2), { consistency: 'all', timeoutMs: 2000 }));
  t.equal(all.value, 1, 'a write at ALL completes with every member reachable');
  t.ok(sim.live().every((n) => (n.replicator.getLocal('c') as GCounter | undefined)?.value === 1), 'and every member has it when it completes');
  await sim.settle(n0.update('c', GCounter.empty, inc(n0), { consistency: 'majority', timeoutMs: 2000 }));
  t.ok(sim.live().filter((n) => (n.replicator.getLocal('c') as GCounter | undefined)?.value === 2).length >= 3, 'a MAJORITY write is on at least three of five when it completes');

  sim.network.partition(sim.nodes.slice(0, 2).map((n) => n.address), sim.nodes.slice(2).map((n) => n.address));
  const started = sim.scheduler.monotonic();
  const minority = await sim.settle(n0.update('c', GCounter.empty, inc(n0), { consistency: 'majority', timeoutMs: 3000 }).then(() => undefined, (e: unknown) => e));
  t.ok(hasCode(minority, 'ERR_CRDT_WRITE_TIMEOUT'), `a MAJORITY write in the minority fails with ERR_CRDT_WRITE_TIMEOUT: ${(minority as Error).message}`);
  t.ok(sim.scheduler.monotonic() - started >= 3000, 'after its timeout');
  t.match((minority as CloudstateError).message, /2 of the 3 replicas required/, 'the message says how many acknowledged of how many');
  const minorityAll = await sim.settle(n1.update('c', GCounter.empty, inc(n1), { consistency: 'all', timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e));
  t.ok(hasCode(minorityAll, 'ERR_CRDT_WRITE_TIMEOUT'), 'an ALL write in the minority fails too');
  const read = await sim.settle(n0.get('c', { consistency: 'majority', timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e));
  t.ok(hasCode(read, 'ERR_CRDT_READ_TIMEOUT'), 'a MAJORITY read in the minority fails with ERR_CRDT_READ_TIMEOUT');
  const majority = await sim.settle(n3.update('c', GCounter.empty, inc(n3), { consistency: 'majority', timeoutMs: 3000 }));
  t.equal(majority.value, 3, 'a MAJORITY write in the majority completes (it has not seen the minority’s writes)');
  t.equal((await sim.settle(n3.get<GCounter>('c', { consistency: 'majority', timeoutMs: 3000 })))?.value, 3, 'a MAJORITY read in the majority completes');

  sim.network.heal();
  const healed = await sim.until(() => sim.allUp() && sim.agree('c') && (n0.getLocal('c') as GCounter).value === 5, 60_000);
  t.ok(healed !== undefined, `after healing every member has all five increments, the timed-out ones included (${healed} ms)`);
  // A member the majority downed and that came back is refused by it until the majority's view
  // takes it back; the refused side must not forget the majority for that, or the two sides
  // could never message each other directly again (and ALL would never complete).
  const afterHeal = await sim.settle(n0.update('c', GCounter.empty, inc(n0), { consistency: 'all', timeoutMs: 3000 }).then((c) => c.value, (e: unknown) => e));
  t.equal(afterHeal, 6, 'ALL completes again once healed');
});

t.test('deletes stay deleted; subscribers see changes; removed members are pruned', async (t) => {
  const sim = new CrdtSim(baseSeed + 13, { pruningIntervalMs: 1000, maxPruningDisseminationMs: 20_000 });
  t.teardown(() => sim.shutdown());
  await startAll(sim, 5);
  const reps = () => sim.live().map((n) => n.replicator);
  const seen: string[] = [];
  sim.nodes[4]!.replicator.subscribe('set', (c) => seen.push(c.deleted ? 'deleted' : [...(c.data as ORSet).elements].sort().join()));

  for (const rep of reps()) {
    await rep.update('count', PNCounter.empty, (c) => c.increment(rep.selfId, 10));
    await rep.update('set', ORSet.empty, (s) => s.add(rep.selfId, `from-${rep.selfId}`));
  }
  t.ok((await sim.until(() => sim.agree('count') && sim.agree('set'), 10_000)) !== undefined, 'counter and set replicated');
  t.ok(seen.length > 0 && seen.at(-1)!.split(',').length === 5, `the subscriber on member 4 saw the set grow to five (${seen.length} notifications)`);

  // A member leaves: after the pruning rounds nobody keeps its entries and the values stay.
  const leaver = sim.nodes[1]!;
  const leaverId = leaver.replicator.selfId;
  await leaver.replicator.close();
  await sim.settle(leaver.cluster.leave(200));
  leaver.alive = false;
  const pruned = await sim.until(() => reps().every((r) => !r.getLocal('count')!.needPruningFrom(leaverId) && !r.getLocal('set')!.needPruningFrom(leaverId)), 60_000);
  t.ok(pruned !== undefined, `every member pruned the member that left (${pruned} ms)`);
  t.ok(reps().every((r) => (r.getLocal('count') as PNCounter).value === 50), 'the counter still counts its increments');
  t.ok(reps().every((r) => (r.getLocal('set') as ORSet).has(`from-${leaverId}`)), 'the set still holds its element');
  t.ok(sim.agree('count') && sim.agree('set'), 'and every member agrees');

  // A delete wins over a concurrent update on the other side of a partition.
  sim.network.partition([sim.nodes[0]!.address], sim.live().slice(1).map((n) => n.address));
  await sim.settle(sim.nodes[2]!.replicator.delete('set', { consistency: 'majority', timeoutMs: 3000 }));
  await sim.nodes[0]!.replicator.update('set', ORSet.empty, (s) => s.add(sim.nodes[0]!.replicator.selfId, 'late'));
  sim.network.heal();
  t.ok((await sim.until(() => sim.allUp() && reps().every((r) => r.isDeleted('set')), 60_000)) !== undefined, 'after healing the key is deleted everywhere');
  const after = await sim.nodes[0]!.replicator.update('set', ORSet.empty, (s) => s).then(() => undefined, (e: unknown) => e);
  t.ok(hasCode(after, 'ERR_CRDT_DELETED'), 'an update of a deleted key fails with ERR_CRDT_DELETED');
  await sim.until(() => seen.at(-1) === 'deleted', 5000);
  t.equal(seen.at(-1), 'deleted', 'the subscriber was told');
});

t.test('fifteen members with lost messages, a partition and a restart converge', async (t) => {
  const seed = baseSeed + 21;
  const sim = new CrdtSim(seed);
  t.teardown(() => sim.shutdown());
  await startAll(sim, 15);
  const r = new SeededRandom(seed + 1);
  let expected = 0;
  const work = async (count: number) => {
    for (let k = 0; k < count; k++) {
      const rep = sim.live()[r.int(sim.live().length)]!.replicator;
      const id = rep.selfId;
      if (r.next() < 0.5) {
        const n = r.int(9) - 4;
        await rep.update('counter', PNCounter.empty, (c) => c.increment(id, n));
        expected += n;
      } else {
        await rep.update('cart', ORMap.empty<PNCounter>(), (m) => m.update(id, `item-${r.int(6)}`, PNCounter.empty, (c) => c.increment(id, 1)));
      }
      if (k % 10 === 0) await sim.run(10);
    }
  };
  const converged = () => sim.agree('counter') && sim.agree('cart') && sim.live().every((n) => (n.replicator.getLocal('counter') as PNCounter).value === expected);
  sim.messageLoss = 0.1;
  await work(100);
  const a = sim.nodes.slice(0, 6).map((n) => n.address);
  const b = sim.nodes.slice(6).map((n) => n.address);
  sim.network.partition(a, b);
  await work(60);
  await sim.run(2000);
  sim.network.heal();
  await sim.kill(9);
  await work(20);
  await sim.start(9);
  sim.messageLoss = 0.05;
  const took = await sim.until(() => sim.allUp() && converged(), 90_000);
  t.ok(took !== undefined, `fifteen members agree on the counter (${expected}) and the map (${took} ms of virtual time; seed ${seed})`);
});

t.test('a paused member that fell behind the delta buffer gets the full state', async (t) => {
  const sim = new CrdtSim(baseSeed + 29, { maxDeltaBuffer: 8 });
  t.teardown(() => sim.shutdown());
  await startAll(sim, 5);
  const writer = sim.nodes[0]!.replicator;
  const id = writer.selfId;
  await writer.update('s', ORSet.empty, (s) => s.add(id, 'first'));
  await sim.until(() => sim.agree('s'), 5000);
  sim.network.pause(sim.nodes[4]!.address);
  const fullBefore = writer.stats.fullStatesSent;
  for (let i = 0; i < 30; i++) {
    await writer.update('s', ORSet.empty, (s) => (i % 3 === 2 ? s.remove(`e${i - 1}`) : s.add(id, `e${i}`)));
    await sim.run(10);
  }
  await sim.run(200);
  sim.network.resume(sim.nodes[4]!.address);
  const took = await sim.until(() => sim.agree('s'), 30_000);
  t.ok(took !== undefined, `the paused member caught up (${took} ms)`);
  t.ok(writer.stats.fullStatesSent > fullBefore, `with a full state, its deltas being gone from the buffer (${writer.stats.fullStatesSent - fullBefore} sent)`);
  t.equal((sim.nodes[4]!.replicator.getLocal('s') as ORSet).size, (writer.getLocal('s') as ORSet).size);
});
