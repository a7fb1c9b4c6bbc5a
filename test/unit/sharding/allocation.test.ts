// Where entities and shards go: the stable shard hash, and the two allocation strategies
// (consistent hashing, least shards). Table-driven, plus fast-check properties.
import t from 'tap';
import fc from 'fast-check';
import { hasCode } from '../../../src/core/index.js';
import { consistentHashing, leastShards } from '../../../src/sharding/allocation.js';
import { fnv1a32, shardOf } from '../../../src/sharding/shard-id.js';
import type { Allocations, ShardAllocationStrategy, ShardId } from '../../../src/sharding/types.js';

const shardIds = (n: number, from = 0): ShardId[] => Array.from({ length: n }, (_, i) => String(from + i));
const spread = (a: Allocations): number => {
  const counts = [...a.values()].map((s) => s.length);
  return Math.max(...counts) - Math.min(...counts);
};

/** What the coordinator does with a strategy: allocate each unallocated shard in turn. */
async function allocateAll(strategy: ShardAllocationStrategy, regions: string[], shards: ShardId[], start?: Allocations): Promise<Map<string, ShardId[]>> {
  const a = new Map<string, ShardId[]>(regions.map((r) => [r, [...(start?.get(r) ?? [])]]));
  for (const s of shards) {
    const region = await strategy.allocateShard(regions[0]!, s, a);
    a.get(region)!.push(s);
  }
  return a;
}

/** One rebalance round, carried out: the returned shards are handed off and reallocated. */
async function round(strategy: ShardAllocationStrategy, a: Map<string, ShardId[]>): Promise<{ moved: ShardId[]; next: Map<string, ShardId[]> }> {
  const moved = await strategy.rebalance(a, new Set());
  const gone = new Set(moved);
  const kept = new Map([...a].map(([r, s]) => [r, s.filter((x) => !gone.has(x))]));
  return { moved, next: await allocateAll(strategy, [...a.keys()], moved, kept) };
}

const where = (a: Allocations): Map<ShardId, string> => new Map([...a].flatMap(([r, ss]) => ss.map((s) => [s, r] as const)));

t.test('shardOf: FNV-1a 32 over UTF-8, known answers, stable across versions', async (t) => {
  const known: [string, number][] = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ];
  for (const [text, hash] of known) t.equal(fnv1a32(text), hash, `fnv1a32(${JSON.stringify(text)})`);
  // Pinned: a change here moves entities between shards across a rolling upgrade.
  t.same(['user-1', 'cart/42', 'é', '😀'].map((id) => shardOf(id, 100)), ['user-1', 'cart/42', 'é', '😀'].map((id) => String(fnv1a32(id) % 100)));
  t.equal(shardOf('foobar', 1000), String(0xbf9cf968 % 1000));
  t.equal(shardOf('anything', 1), '0');
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 32 + 1]) {
    t.ok(hasCode(t.throws(() => shardOf('x', bad)), 'ERR_SHARDING_CONFIG'), `numberOfShards ${bad} is refused`);
  }
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 10_000 }), (id, n) => {
      const bytes = new TextEncoder().encode(id);
      let h = 0x811c9dc5;
      for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
      const s = Number(shardOf(id, n));
      return fnv1a32(id) === h >>> 0 && Number.isInteger(s) && s >= 0 && s < n;
    }),
  );
  t.equal(fnv1a32('\ud800x'), fnv1a32('\ufffdx'), 'a lone surrogate hashes as U+FFFD, as TextEncoder encodes it');
});

t.test('allocation: both strategies pick a live region; with none, the requester', async (t) => {
  const a = new Map([['r1', ['1']], ['r2', []], ['r3', ['2', '3']]]);
  for (const [name, s] of [['consistent hashing', consistentHashing()], ['least shards', leastShards()]] as const) {
    for (const shard of shardIds(50, 100)) t.ok(a.has(await s.allocateShard('r9', shard, a)), `${name}: shard ${shard} to a live region`);
    t.equal(await s.allocateShard('r9', 'x', new Map()), 'r9', `${name}: no live region, the requester`);
    t.same(await s.rebalance(new Map(), new Set()), [], `${name}: nothing to rebalance without regions`);
  }
  t.equal(await leastShards().allocateShard('r3', 'x', a), 'r2', 'least shards: the empty region');
  const tie = new Map([['b', ['1']], ['a', ['2']], ['c', ['3']]]);
  t.equal(await leastShards().allocateShard('c', 'x', tie), 'a', 'least shards: ties by lowest region id, not by requester');
});

t.test('options are validated', async (t) => {
  const cases: [string, () => unknown][] = [
    ['virtualNodes 0', () => consistentHashing({ virtualNodes: 0 })],
    ['maxSimultaneousRebalance 1.5', () => consistentHashing({ maxSimultaneousRebalance: 1.5 })],
    ['absoluteLimit -1', () => leastShards({ absoluteLimit: -1 })],
    ['relativeLimit 0', () => leastShards({ relativeLimit: 0 })],
    ['relativeLimit 2', () => leastShards({ relativeLimit: 2 })],
  ];
  for (const [name, f] of cases) t.ok(hasCode(t.throws(f), 'ERR_SHARDING_CONFIG'), name);
});

t.test('consistent hashing: a third region takes about a third, never between the old two', async (t) => {
  const strategy = consistentHashing({ maxSimultaneousRebalance: 10_000 });
  const before = await allocateAll(strategy, ['node-a', 'node-b'], shardIds(1000));
  t.same(await strategy.rebalance(before, new Set()), [], 'a placement that follows the ring needs no rebalance');
  const joined = new Map([...before, ['node-c', []]]);
  const moved = await strategy.rebalance(joined, new Set());
  t.comment(`moved ${moved.length} of 1000 shards to the third region; before: ${[...before.values()].map((s) => s.length).join('/')}`);
  t.ok(moved.length > 250 && moved.length < 420, `about a third moves (${moved.length})`);
  const after = await allocateAll(strategy, [...joined.keys()], moved, new Map([...joined].map(([r, s]) => [r, s.filter((x) => !moved.includes(x))])));
  const was = where(before);
  const is = where(after);
  t.ok([...is].every(([s, r]) => r === was.get(s) || r === 'node-c'), 'every moved shard went to the new region');
  t.equal(after.get('node-c')!.length, moved.length);
  t.same(await strategy.rebalance(after, new Set()), [], 'then stable');
  // A region leaves: its shards are reallocated; nothing else moves.
  const left = new Map([...after].filter(([r]) => r !== 'node-b'));
  t.same(await strategy.rebalance(left, new Set()), [], 'the survivors keep their shards');
  // Any size of cluster, any ring density: a join moves shards only to the newcomer.
  for (const virtualNodes of [1, 40, 100, 160]) {
    for (let n = 1; n <= 8; n++) {
      const s = consistentHashing({ virtualNodes, maxSimultaneousRebalance: 10_000 });
      const regions = Array.from({ length: n }, (_, i) => `m${i}`);
      const a = await allocateAll(s, regions, shardIds(300));
      const grown = new Map([...a, ['newcomer', []]]);
      const m = await s.rebalance(grown, new Set());
      const was = where(a);
      const now = await Promise.all(m.map((x) => s.allocateShard('m0', x, grown)));
      t.ok(now.every((r) => r === 'newcomer') && m.every((x) => was.has(x)), `${n} regions + 1, ${virtualNodes} virtual nodes: ${m.length} moved, all to the newcomer`);
    }
  }
});

t.test('consistent hashing: rebalance is bounded, skips shards in progress, deterministic', async (t) => {
  const strategy = consistentHashing({ relativeLimit: 0 });
  const a = new Map<string, ShardId[]>([['r1', shardIds(300)], ['r2', []], ['r3', []]]);
  const first = await strategy.rebalance(a, new Set());
  t.equal(first.length, 20, 'at most maxSimultaneousRebalance (default 20)');
  const inProgress = new Set(first.slice(0, 5));
  const second = await strategy.rebalance(a, inProgress);
  t.equal(second.length, 15, 'the shards in progress count against the limit');
  t.notOk(second.some((s) => inProgress.has(s)), 'never a shard in progress');
  t.same(await strategy.rebalance(a, new Set(shardIds(20))), [], 'no room left');
  const reordered = new Map([...a].reverse().map(([r, s]) => [r, [...s].reverse()]));
  t.same(await consistentHashing({ relativeLimit: 0 }).rebalance(reordered, new Set()), first, 'same answer whatever the order of the input, on a fresh instance');
  const big = new Map<string, ShardId[]>([['r1', shardIds(1000).filter((_, i) => i % 2 === 0)], ['r2', shardIds(1000).filter((_, i) => i % 2 === 1)], ['r3', []]]);
  const round = await consistentHashing().rebalance(big, new Set());
  t.equal(round.length, 250, 'by default a quarter of all shards may move at once (1,000 shards: 250)');
  t.equal((await consistentHashing().rebalance(a, new Set())).length, 75, 'and a quarter of 300 is 75');
  t.throws(() => consistentHashing({ relativeLimit: 2 }), /relativeLimit/);
  for (const s of shardIds(20)) t.equal(await strategy.allocateShard('r1', s, a), await consistentHashing().allocateShard('r3', s, reordered), `shard ${s}: same region`);
});

t.test('least shards: converges to a spread of at most one in two rounds', async (t) => {
  const cases: [string, number[], number][] = [
    // name, shards per region, regions added empty
    ['a third region joins 1,000 shards', [500, 500], 1],
    ['a fourth joins 3 × 10', [10, 10, 10], 1],
    ['uneven', [7, 1, 0, 4], 0],
    ['two join at once', [25, 25], 2],
    ['already even', [5, 4, 5], 0],
    ['one region', [9], 0],
  ];
  for (const [name, counts, added] of cases) {
    const strategy = leastShards({ absoluteLimit: 1000, relativeLimit: 1 });
    let next = 0;
    let a = new Map<string, ShardId[]>(counts.map((c, i) => [`r${i}`, shardIds(c, (next += c) - c)]));
    for (let i = 0; i < added; i++) a.set(`new${i}`, []);
    let rounds = 0;
    for (; rounds < 3; rounds++) {
      const r = await round(strategy, a);
      if (r.moved.length === 0) break;
      a = r.next;
    }
    t.ok(spread(a) <= 1, `${name}: spread ${spread(a)}`);
    t.ok(rounds <= 2, `${name}: ${rounds} round(s)`);
    t.equal([...a.values()].flat().length, counts.reduce((x, y) => x + y, 0), `${name}: no shard lost`);
  }
});

t.test('least shards: limits per round, nothing while a rebalance is in progress', async (t) => {
  const a = new Map<string, ShardId[]>([['r1', shardIds(500)], ['r2', shardIds(500, 500)], ['r3', []]]);
  t.equal((await leastShards().rebalance(a, new Set())).length, 20, 'absolute limit 20');
  t.equal((await leastShards({ absoluteLimit: 1000, relativeLimit: 0.05 }).rebalance(a, new Set())).length, 50, 'relative limit 5 % of 1,000');
  const few = new Map<string, ShardId[]>([['r1', shardIds(5)], ['r2', []]]);
  t.equal((await leastShards().rebalance(few, new Set())).length, 1, 'at least one shard per round');
  const moved = await leastShards({ absoluteLimit: 10 }).rebalance(a, new Set());
  const from = where(a);
  t.same([moved.filter((s) => from.get(s) === 'r1').length, moved.filter((s) => from.get(s) === 'r2').length], [5, 5], 'taken from the most loaded, in turn');
  t.same(await leastShards().rebalance(a, new Set(['0'])), [], 'waits for the rebalance in progress');
});

t.test('properties: rebalance respects limits and in-progress shards, and is deterministic', async (t) => {
  const allocationsArb = fc
    .array(fc.nat({ max: 60 }), { minLength: 1, maxLength: 6 })
    .map((counts) => {
      let next = 0;
      return new Map<string, ShardId[]>(counts.map((c, i) => [`r${i}`, shardIds(c, (next += c) - c)]));
    });
  await fc.assert(
    fc.asyncProperty(allocationsArb, fc.nat({ max: 10 }), fc.integer({ min: 1, max: 30 }), async (a, inProgressCount, limit) => {
      const all = [...a.values()].flat();
      const inProgress = new Set(all.slice(0, inProgressCount));
      const ch = await consistentHashing({ maxSimultaneousRebalance: limit }).rebalance(a, inProgress);
      const chLimit = Math.max(limit, Math.ceil(0.25 * all.length));
      const ls = await leastShards({ absoluteLimit: limit }).rebalance(a, new Set());
      const lsLimit = Math.max(1, Math.min(limit, Math.floor(0.1 * all.length)));
      const known = new Set(all);
      const again = await leastShards({ absoluteLimit: limit }).rebalance(new Map([...a].reverse()), new Set());
      return (
        ch.length <= Math.max(0, chLimit - inProgress.size) &&
        ch.every((s) => known.has(s) && !inProgress.has(s)) &&
        new Set(ch).size === ch.length &&
        ls.length <= lsLimit &&
        ls.every((s) => known.has(s)) &&
        new Set(ls).size === ls.length &&
        JSON.stringify(ls) === JSON.stringify(again)
      );
    }),
  );
});
