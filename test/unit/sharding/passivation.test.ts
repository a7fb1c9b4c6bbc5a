// Passivation policies: idle timeout, LRU, W-TinyLFU. Table-driven cases, then a seeded trace
// (Zipf-distributed hot entities with scans of cold ones) on which W-TinyLFU must recover
// fewer entities from storage than LRU.
import t from 'tap';
import { SeededRandom, hasCode } from '../../../src/core/index.js';
import { idleTimeout, lru, windowTinyLfu } from '../../../src/sharding/passivation.js';
import type { PassivationPolicy } from '../../../src/sharding/types.js';

/** Feeds `ids` one per ms; returns what each access passivated. */
const feed = (p: PassivationPolicy, ids: string[], start = 0): string[][] => ids.map((id, i) => p.onAccess(id, start + i));

t.test('lru: evicts the least recently used, the limit holds', async (t) => {
  const cases: [string, number, string[], string[][]][] = [
    ['under the limit: nothing', 3, ['a', 'b', 'c'], [[], [], []]],
    ['over: the oldest', 2, ['a', 'b', 'c'], [[], [], ['a']]],
    ['an access refreshes', 2, ['a', 'b', 'a', 'c'], [[], [], [], ['b']]],
    ['repeats cost nothing', 1, ['a', 'a', 'b', 'b', 'a'], [[], [], ['a'], [], ['b']]],
  ];
  for (const [name, limit, ids, expected] of cases) t.same(feed(lru({ limit }), ids), expected, name);
  const p = lru({ limit: 2 });
  feed(p, ['a', 'b']);
  p.onStop('a');
  t.same(p.onAccess('c', 10), [], 'a stopped entity frees its place');
  t.same(p.onAccess('d', 11), ['b'], 'then the oldest again');
  p.onStop('b');
  p.onStop('nobody');
  t.equal(p.checkIntervalMs, undefined, 'no idle timeout: never checked');
  t.same(p.idle(1e9), []);
  // The limit holds under a random workload, and the passivated are exactly those gone.
  const random = new SeededRandom(7);
  for (const [name, policy] of [['lru', lru({ limit: 50 })], ['windowTinyLfu', windowTinyLfu({ limit: 50 })]] as const) {
    const active = new Set<string>();
    let ok = true;
    for (let i = 0; i < 20_000; i++) {
      const id = `e${random.int(400)}`;
      active.add(id);
      for (const gone of policy.onAccess(id, i)) {
        ok &&= gone !== id && active.delete(gone);
        policy.onStop(gone);
      }
      ok &&= active.size <= 50;
    }
    t.ok(ok, `${name}: at most 50 active, every passivated entity was active and is not the one accessed`);
  }
});

t.test('idle timeout: alone and with a limit', async (t) => {
  const cases: [string, PassivationPolicy, number | undefined][] = [
    ['idleTimeout(1000)', idleTimeout(1000), 500],
    ['idleTimeout(50): checked at least every 100 ms', idleTimeout(50), 100],
    ['lru with idle timeout', lru({ limit: 10, idleTimeoutMs: 1000 }), 500],
    ['windowTinyLfu with idle timeout', windowTinyLfu({ limit: 10, idleTimeoutMs: 1000 }), 500],
  ];
  for (const [name, p, interval] of cases) {
    t.equal(p.checkIntervalMs, interval, `${name}: interval`);
    p.onAccess('a', 0);
    p.onAccess('b', 100);
    p.onAccess('c', 200);
    p.onAccess('a', 300);
    const timeout = name.startsWith('idleTimeout(50)') ? 50 : 1000;
    if (timeout === 50) {
      t.same(p.idle(349), ['b', 'c'], `${name}: idle since 100 and 200`);
      continue;
    }
    t.same(p.idle(1099), [], `${name}: none idle yet`);
    t.same(p.idle(1100), ['b'], `${name}: b idle for exactly the timeout`);
    t.same(p.idle(1100), [], `${name}: returned once, then forgotten`);
    p.onStop('c');
    t.same(p.idle(5000), ['a'], `${name}: a stopped entity is not returned`);
  }
  for (const bad of [0, -5, Number.NaN, Infinity]) {
    t.ok(hasCode(t.throws(() => idleTimeout(bad)), 'ERR_SHARDING_CONFIG'), `idleTimeout(${bad}) refused`);
    t.ok(hasCode(t.throws(() => lru({ limit: 5, idleTimeoutMs: bad })), 'ERR_SHARDING_CONFIG'), `idleTimeoutMs ${bad} refused`);
  }
  for (const bad of [0, 2.5, -1]) t.ok(hasCode(t.throws(() => windowTinyLfu({ limit: bad })), 'ERR_SHARDING_CONFIG'), `limit ${bad} refused`);
});

t.test('windowTinyLfu: frequent entities survive a scan that flushes them out of LRU', async (t) => {
  // A scan five times the limit: long enough to flush LRU, short enough that aging (counters
  // halved every 10 × limit accesses) has not yet made the hot entities as cold as the scan.
  const p = windowTinyLfu({ limit: 100 });
  let now = 0;
  for (let round = 0; round < 20; round++) for (let i = 0; i < 99; i++) p.onAccess(`hot${i}`, now++);
  const passivated = new Set<string>();
  for (let i = 0; i < 500; i++) for (const id of p.onAccess(`cold${i}`, now++)) passivated.add(id);
  t.equal([...passivated].filter((id) => id.startsWith('hot')).length, 0, 'no hot entity passivated by a scan of 500 cold ones');
  t.equal(passivated.size, 499, 'each cold entity but the last (in the window) passivated in its turn');
  const l = lru({ limit: 100 });
  for (let i = 0; i < 99; i++) l.onAccess(`hot${i}`, i);
  t.equal(feed(l, Array.from({ length: 500 }, (_, i) => `cold${i}`), 100).flat().filter((id) => id.startsWith('hot')).length, 99, 'LRU loses them all');
});

/**
 * A skewed trace with scans: accesses to 20,000 entities drawn from a Zipf distribution
 * (exponent 0.9), and after every 5,000 of them a scan of 3,000 never-seen cold entities.
 */
function trace(seed: number, length: number): string[] {
  const random = new SeededRandom(seed);
  const n = 20_000;
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** 0.9;
  const zipf = (): number => {
    const x = random.next() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const ids: string[] = [];
  let cold = 0;
  while (ids.length < length) {
    for (let i = 0; i < 5000; i++) ids.push(`hot-${zipf()}`);
    for (let i = 0; i < 3000; i++) ids.push(`cold-${cold++}`);
  }
  return ids;
}

/** Activations: accesses to an entity that is not active (a recovery from storage). */
function activations(policy: PassivationPolicy, ids: readonly string[]): number {
  const active = new Set<string>();
  let count = 0;
  ids.forEach((id, now) => {
    if (!active.has(id)) {
      count++;
      active.add(id);
    }
    for (const gone of policy.onAccess(id, now)) {
      active.delete(gone);
      policy.onStop(gone);
    }
  });
  return count;
}

t.test('trace: W-TinyLFU activates fewer entities than LRU on a skewed workload with scans', async (t) => {
  const ids = trace(20240601, 240_000);
  t.comment(`${ids.length} accesses, ${new Set(ids).size} distinct entities (the activations no policy avoids)`);
  for (const limit of [500, 2000]) {
    const ofLru = activations(lru({ limit }), ids);
    const ofTinyLfu = activations(windowTinyLfu({ limit }), ids);
    t.comment(`limit ${limit}: LRU ${ofLru} activations, W-TinyLFU ${ofTinyLfu} (${((1 - ofTinyLfu / ofLru) * 100).toFixed(1)} % fewer)`);
    t.ok(ofTinyLfu < ofLru, `limit ${limit}: W-TinyLFU ${ofTinyLfu} < LRU ${ofLru}`);
  }
  t.equal(activations(windowTinyLfu({ limit: 500 }), ids), activations(windowTinyLfu({ limit: 500 }), ids), 'deterministic');
});
