/**
 * The rebalance scenario (three real processes, ./node.ts): two members of role `host` form a
 * cluster; one entity in each of 1,000 shards is asked once, so the 1,000 shards are allocated
 * over the two (by the default consistent-hashing strategy). The first member then asks one
 * entity of every shard in back-to-back sweeps (256 in flight), as an application's traffic
 * would: a shard handed off is allocated again only on its next message. A third member joins.
 *
 * Measured from the third member being up (its `ready` line) until the allocation is the one
 * the consistent-hash ring of the three regions prescribes, on all three members at once (then
 * the third hosts its share, the others hold exactly theirs, and none is in flight: a shard
 * handed off and not yet allocated anywhere would leave the counts short). The end is the last
 * count change that reached that state. Then verified: a sweep that starts after it must get an
 * answer from every one of the 1,000 shards, and the counts must not change for 2 s more.
 * Rounds: the coordinator's rebalance rounds that moved shards, as its strategy (the default,
 * wrapped only to report) returned them.
 */
import { join } from 'node:path';
import { consistentHashing } from '../../src/sharding/index.js';
import { Child, wallNow } from './common.js';

export interface RebalanceTrial {
  numberOfShards: number;
  rebalanceIntervalMs: number;
  /** Shards that may move at once under the default strategy: max(20, a quarter of all shards). */
  maxInFlight: number;
  /** Shards the ring gives the new member (the ones that must move). */
  expectedMoves: number;
  /** Shards per member before the join and the expected shares after it. */
  before: number[];
  expected: number[];
  /** Third member up → allocation equal to the ring's, ms. */
  stableMs: number;
  /** Third member up → end of the first sweep started after stableMs with every shard answering, ms. */
  verifiedMs: number;
  /** Rebalance rounds that moved shards, and the shards they named. */
  rounds: number;
  shardsNamed: number;
  /** Time of each round after the join, ms from the third member up. */
  roundTimesMs: number[];
  /** Asks that failed in the sweeps after the join, and before it (while the two settled). */
  sweepFailures: number;
  preJoinFailures: number;
}

const nodeFile = join(import.meta.dirname, 'node.ts');

interface Member {
  child: Child;
  address: string;
  id: string;
  upAt: number;
  count: number;
  countAt: number;
}

async function member(name: string, shards: number, intervalMs: number, seed?: string): Promise<Member> {
  const child = new Child(name, nodeFile, ['host', String(shards), String(intervalMs), ...(seed ? [seed] : [])]);
  const m: Member = { child, address: '', id: '', upAt: 0, count: 0, countAt: 0 };
  child.onLine((line) => {
    const [verb, a, b] = line.split(' ');
    if (verb === 'count') {
      m.count = Number(a);
      m.countAt = Number(b);
    }
  });
  const [address, id, upAt] = (await child.next('ready')).split(' ');
  Object.assign(m, { address: address!, id: id!, upAt: Number(upAt) });
  return m;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Shards per member where the consistent-hash ring of these members' regions puts them. */
async function placement(n: number, requester: string, members: readonly Member[]): Promise<number[]> {
  const ring = consistentHashing();
  const regions = new Map(members.map((m) => [m.id, [] as string[]]));
  const counts = members.map(() => 0);
  for (let s = 0; s < n; s++) {
    const home = await ring.allocateShard(requester, String(s), regions);
    counts[members.findIndex((m) => m.id === home)]!++;
  }
  return counts;
}

/** Waits until every member hosts exactly `expected` shards; returns the wall time of the last count change. */
async function settle(members: readonly Member[], expected: readonly number[], timeoutMs: number, what: string): Promise<number> {
  for (const deadline = wallNow() + timeoutMs; ; ) {
    if (members.every((m, i) => m.count === expected[i])) return Math.max(...members.map((m) => m.countAt));
    if (wallNow() > deadline) throw new Error(`${what}: no allocation as the ring prescribes within ${timeoutMs} ms: hosting ${members.map((m) => m.count).join('/')}, expected ${expected.join('/')}`);
    await sleep(5);
  }
}

export async function rebalanceTrial(opts: { numberOfShards: number; rebalanceIntervalMs: number; progress: (line: string) => void; timeoutMs?: number }): Promise<RebalanceTrial> {
  const { numberOfShards: n, rebalanceIntervalMs, progress } = opts;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const members: Member[] = [];
  try {
    members.push(await member('rebalance-1', n, rebalanceIntervalMs));
    members.push(await member('rebalance-2', n, rebalanceIntervalMs, members[0]!.address));
    const [m1, m2] = members as [Member, Member];
    await m1.child.request('members 2');
    await m2.child.request('members 2');
    // Traffic to every shard, back to back, from the first member; record each sweep.
    const sweeps: { start: number; end: number; ok: number; failed: number; error?: string }[] = [];
    m1.child.onLine((line) => {
      const [verb, start, end, ok, failed, ...error] = line.split(' ');
      if (verb === 'sweep') sweeps.push({ start: Number(start), end: Number(end), ok: Number(ok), failed: Number(failed), ...(error.length > 0 ? { error: error.join(' ') } : {}) });
    });
    m1.child.send(`sweep-loop ${n}`);
    // Before the join: the ring of the two (a shard allocated before the second region
    // registered is moved to it by the first rebalance rounds).
    const before = await placement(n, m1.id, members);
    await settle(members, before, 60_000, 'two members').catch((err: Error) => {
      const last = sweeps.at(-1);
      throw new Error(`${err.message}; ${sweeps.length} sweeps, the last: ${last ? `${last.ok} ok, ${last.failed} failed${last.error ? ` (${last.error})` : ''}` : 'none finished'}`);
    });
    const preJoinFailures = sweeps.reduce((sum, s) => sum + s.failed, 0);
    const sweepsBefore = sweeps.length;
    await sleep(500);
    progress(`rebalance: ${n} shards over two members (${before.join(' + ')}); sweeping; third member joins`);
    // Rebalance rounds reported by whichever member hosts the coordinator (the oldest: m1).
    const allRounds: { at: number; shards: number }[] = [];
    const onRound = (line: string) => {
      const [verb, at, shards] = line.split(' ');
      if (verb === 'round') allRounds.push({ at: Number(at), shards: Number(shards) });
    };
    m1.child.onLine(onRound);
    m2.child.onLine(onRound);
    const m3 = await member('rebalance-3', n, rebalanceIntervalMs, m1.address);
    m3.child.onLine(onRound);
    members.push(m3);
    // Where the ring of the three regions puts every shard: the allocation to wait for.
    const expected = await placement(n, m1.id, members);
    const expectedMoves = expected[2]!;

    const stableAt = await settle(members, expected, timeoutMs, 'after the join');
    progress(`rebalance: allocation as the ring prescribes (${expected.join(' / ')}) ${(stableAt - m3.upAt).toFixed(0)} ms after the third member was up; verifying`);
    let verifiedAt = 0;
    for (const deadline = wallNow() + 30_000; verifiedAt === 0; ) {
      const done = sweeps.find((s) => s.start >= stableAt && s.failed === 0 && s.ok === n);
      if (done) verifiedAt = done.end;
      else if (wallNow() > deadline) throw new Error('no complete sweep after the allocation settled');
      else await sleep(10);
    }
    const counts = members.map((m) => m.countAt);
    await sleep(2000);
    if (members.some((m, i) => m.count !== expected[i]) || members.some((m, i) => m.countAt !== counts[i])) throw new Error(`the allocation changed again after it matched the ring: ${members.map((m) => m.count).join('/')}`);
    await m1.child.request('sweep-stop');
    const rounds = allRounds.filter((r) => r.at >= m3.upAt);
    const sweepFailures = sweeps.slice(sweepsBefore).reduce((sum, s) => sum + s.failed, 0);
    return {
      numberOfShards: n,
      rebalanceIntervalMs,
      maxInFlight: Math.max(20, Math.ceil(0.25 * n)),
      expectedMoves,
      before,
      expected,
      stableMs: stableAt - m3.upAt,
      verifiedMs: verifiedAt - m3.upAt,
      rounds: rounds.length,
      shardsNamed: rounds.reduce((sum, r) => sum + r.shards, 0),
      roundTimesMs: rounds.map((r) => Math.round(r.at - m3.upAt)),
      sweepFailures,
      preJoinFailures,
    };
  } finally {
    await Promise.all(members.map((m) => m.child.stop()));
  }
}
