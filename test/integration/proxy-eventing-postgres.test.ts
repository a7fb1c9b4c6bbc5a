// Event-log eventing across three real proxy processes in one cluster over one PostgreSQL, each
// proxy beside its own user function (./eventing-fixture): a `Ledger` entity appends numbers to
// keys, the action `LedgerProjection` consumes the "ledger" event log (one consumer in the
// cluster, a singleton) and forwards each event to the `Tally` of its key, which lists the
// numbers in arrival order. Appends go through all three proxies at once; every tally must then
// hold its key's numbers exactly once, in order. Then the proxy hosting the consumer is killed
// (-9) while appends continue through the survivors: the consumer moves and every number
// appended before and after the kill reaches its tally at least once, first deliveries still in
// order (redeliveries allowed: the consumer resumes from its last saved offset).
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { proxiesOverPostgres } from '../support/postgres-proxies.js';
import { eventually, type ProxyProcess } from '../support/proxy-process.js';

const KEYS = 6;
const PER_PHASE = 60;
const fixture = join(import.meta.dirname, 'eventing-fixture', 'index.ts');
const keyOf = (n: number) => `key-${n % KEYS}`;

async function append(proxy: ProxyProcess, key: string, n: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${proxy.httpPort}/ledger/${key}/append`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n }),
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200) throw new Error(`Append ${key}/${n} via :${proxy.httpPort}: ${response.status} ${await response.text()}`);
  await response.json();
}

async function tally(proxy: ProxyProcess, key: string): Promise<number[]> {
  const response = await fetch(`http://127.0.0.1:${proxy.httpPort}/tally/${key}`, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`GetTally ${key} via :${proxy.httpPort}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { ns?: number[] }).ns ?? [];
}

/** `ns` grouped by key, each key's in the order given. */
function byKey(ns: readonly number[]): Map<string, number[]> {
  const keys = new Map<string, number[]>();
  for (const n of ns) keys.set(keyOf(n), [...(keys.get(keyOf(n)) ?? []), n]);
  return keys;
}

/** Resolves every key's tally once it holds all the numbers `expected` has for that key. */
async function tallies(proxies: readonly ProxyProcess[], expected: Map<string, number[]>, timeoutMs?: number): Promise<Map<string, number[]>> {
  const seen = new Map<string, number[]>();
  let reads = 0;
  await eventually(
    'every appended number in its tally',
    async () => {
      for (const [key, ns] of expected) {
        if (seen.has(key)) continue;
        const got = await tally(proxies[reads++ % proxies.length]!, key);
        const missing = ns.filter((n) => !got.includes(n));
        if (missing.length > 0) throw new Error(`${key} misses ${missing.join(', ')} (has ${got.join(', ')})`);
        seen.set(key, got);
      }
    },
    timeoutMs,
  );
  return seen;
}

interface Consuming {
  readonly proxy: ProxyProcess;
  readonly from: number;
  /** When its log said it stopped (or it was killed); undefined while it consumes. */
  readonly until: number | undefined;
}

/**
 * The times each proxy consumed the "ledger" event log, from its log (pino's `time`, one
 * machine's clock), oldest first. A proxy killed at `killedAt` consumed until then.
 */
function consumingPeriods(proxies: readonly ProxyProcess[], killedAt = new Map<ProxyProcess, number>()): Consuming[] {
  const periods: Consuming[] = [];
  for (const proxy of proxies) {
    let from: number | undefined;
    for (const line of proxy.log().split('\n')) {
      if (!line.includes('consuming event log ledger')) continue;
      const { time, msg } = JSON.parse(line) as { time: number; msg: string };
      if (msg.startsWith('consuming')) from = time;
      else if (from !== undefined) periods.push({ proxy, from, until: time }), (from = undefined);
    }
    if (from !== undefined) periods.push({ proxy, from, until: killedAt.get(proxy) });
  }
  return periods.sort((a, b) => a.from - b.from);
}

/**
 * Asserts a singleton consumer: its periods never overlap and exactly one goes on now; returns
 * that one's proxy. (It may have moved: a member that briefly loses quorum hands it over.)
 */
function oneConsumerAtATime(t: Test, periods: readonly Consuming[], what: string): ProxyProcess | undefined {
  const overlaps = periods.slice(1).filter((p, i) => periods[i]!.until === undefined || periods[i]!.until! > p.from);
  const describe = (p: Consuming) => `:${p.proxy.httpPort} from ${p.from} until ${p.until ?? 'now'}`;
  t.same(overlaps.map(describe), [], `${what}: never two consumers at once (${periods.map(describe).join('; ')})`);
  const current = periods.filter((p) => p.until === undefined);
  t.equal(current.length, 1, `${what}: one proxy consumes the event log now`);
  if (current.length !== 1) for (const p of new Set(periods.map((p) => p.proxy))) t.comment(`proxy :${p.httpPort} log:\n${p.log()}`);
  return current[0]?.proxy;
}

t.test('event-log eventing over three proxies and one Postgres: exactly once without failures, at least once across a kill -9', async (t) => {
  const proxies = await proxiesOverPostgres(t, fixture);
  const first = proxies[0]!;

  // Phase 1: n = 1..60 over 6 keys, each key's appends in order, each through the next proxy,
  // all keys at once.
  const phase1 = Array.from({ length: PER_PHASE }, (_, i) => i + 1);
  const expected1 = byKey(phase1);
  await Promise.all(
    [...expected1].map(async ([, ns], k) => {
      for (const [i, n] of ns.entries()) await append(proxies[(k + i) % proxies.length]!, keyOf(n), n);
    }),
  );
  const got1 = await tallies(proxies, expected1);
  for (const [key, ns] of expected1) t.same(got1.get(key), ns, `${key}: every number exactly once, in the order appended`);

  // The consumer runs on one proxy at a time (a cluster singleton, on the oldest member that
  // hosts; src/cluster/singleton-rules.ts).
  const victim = oneConsumerAtATime(t, consumingPeriods(proxies), 'without failures') ?? first;

  // Phase 2: n = 61..120 through the two survivors; the consumer's proxy is killed once a
  // third of them are appended, so it dies while it consumes them.
  const survivors = proxies.filter((p) => p !== victim);
  const phase2 = Array.from({ length: PER_PHASE }, (_, i) => PER_PHASE + i + 1);
  const expected2 = byKey(phase2);
  let appended = 0;
  let killed: Promise<void> | undefined;
  const killedAt = new Map<ProxyProcess, number>();
  const killAfter = PER_PHASE / 3;
  await Promise.all(
    [...expected2].map(async ([, ns], k) => {
      for (const [i, n] of ns.entries()) {
        // A retry of an append that did commit emits nothing (the Ledger ignores a known n).
        await eventually(`append ${n}`, () => append(survivors[(k + i) % survivors.length]!, keyOf(n), n));
        if (++appended === killAfter) killed = victim.kill().then(() => void killedAt.set(victim, Date.now()));
      }
    }),
  );
  await killed;
  proxies.splice(proxies.indexOf(victim), 1);

  const all = byKey([...phase1, ...phase2]);
  const got = await tallies(survivors, all);
  let duplicates = 0;
  for (const [key, ns] of all) {
    const received = got.get(key) ?? [];
    t.same(
      ns.filter((n) => !received.includes(n)),
      [],
      `${key}: every number appended before and after the kill is in its tally`,
    );
    t.same([...new Set(received)], ns, `${key}: the first delivery of each number came in the order appended, and nothing else`);
    duplicates += received.length - new Set(received).size;
  }
  const now = oneConsumerAtATime(t, consumingPeriods([victim, ...survivors], killedAt), 'across the kill');
  t.not(now, victim, 'a survivor took the consumer over');
  t.comment(`after the kill -9 of the consumer's proxy: ${duplicates} duplicate deliveries of ${PER_PHASE * 2} events`);
});
