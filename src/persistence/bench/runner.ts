/**
 * The persistence benchmark's measurements, against any storage plugin through the `Journal`
 * façade, and the same work through the plugin's raw driver as the baseline, in the same run.
 * Throughput is events per second of wall time; every phase uses fresh persistence ids and
 * is preceded by a short warm-up. It measures; it does not judge (see ./report.ts).
 */
import { randomBytes } from 'node:crypto';
import { Journal } from '../journal.js';
import type { PersistentRepr, StoragePlugin } from '../spi/index.js';

/** The raw-driver baseline a plugin directory provides (`raw-baseline.ts`). */
export interface RawBaseline {
  readonly name: string;
  /** Writes each inner array as one durable driver batch, one after another. */
  writeBatches(batches: PersistentRepr[][]): Promise<void>;
  close(): Promise<void>;
}

export interface BenchSizes {
  /** Events appended by one writer, each awaited. */
  singleWriterEvents: number;
  /** Concurrent entities, each awaiting its own appends one event at a time. */
  entities: number;
  eventsPerEntity: number;
  /** Events of the one entity persisted (pipelined) and then recovered. */
  replayEvents: number;
  payloadBytes: number;
  /** Rounds of the concurrent/raw pair; the median is reported. */
  rounds: number;
}

export const fullSizes: BenchSizes = { singleWriterEvents: 2000, entities: 64, eventsPerEntity: 300, replayEvents: 10_000, payloadBytes: 100, rounds: 3 };
export const quickSizes: BenchSizes = { singleWriterEvents: 300, entities: 64, eventsPerEntity: 40, replayEvents: 10_000, payloadBytes: 100, rounds: 1 };

export interface PluginMeasurement {
  singleWriterPerSec: number;
  concurrentPerSec: number;
  /** Undefined when the plugin has no raw baseline (e.g. Cassandra). */
  rawConcurrentPerSec: number | undefined;
  ratio: number | undefined;
  replayPerSec: number;
  persist10kMs: number;
  recover10kMs: number;
  /** Value entities' writes: `entities` keys upserted concurrently, each awaiting its own upserts (with the expected revision). */
  valueUpsertsPerSec: number;
}

export type Progress = (message: string) => void;

const run = randomBytes(3).toString('hex');
let idCounter = 0;
const freshId = (label: string) => `bench-${run}-${label}-${++idCounter}`;

function makeEvent(persistenceId: string, seqNr: number, payload: Uint8Array): PersistentRepr {
  return { persistenceId, seqNr, payload, manifest: 'bench.Event', writerId: 'bench', timestamp: Date.now(), tags: [] };
}

const perSec = (events: number, ms: number) => (events * 1000) / Math.max(ms, 0.001);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** `keys` values upserted concurrently, each key awaiting its own upserts, stating the revision it expects. */
async function concurrentUpserts(plugin: StoragePlugin, keys: number, perKey: number, payload: Uint8Array): Promise<number> {
  const ids = Array.from({ length: keys }, () => freshId('value'));
  return timed(async () => {
    await Promise.all(ids.map(async (id) => {
      for (let revision = 0; revision < perKey; revision++) await plugin.keyValueStore.upsert(id, { payload, manifest: 'bench.Value' }, revision);
    }));
  });
}

/** 64 entities appending concurrently, each awaiting its own appends. */
async function concurrentAppends(journal: Journal, entities: number, perEntity: number, payload: Uint8Array, label: string): Promise<number> {
  const ids = Array.from({ length: entities }, () => freshId(label));
  return timed(async () => {
    await Promise.all(ids.map(async (id) => {
      for (let s = 1; s <= perEntity; s++) await journal.append({ persistenceId: id, events: [makeEvent(id, s, payload)] });
    }));
  });
}

export async function measurePlugin(plugin: StoragePlugin, raw: RawBaseline | undefined, sizes: BenchSizes, progress: Progress): Promise<PluginMeasurement> {
  const journal = new Journal(plugin.journal);
  const payload = randomBytes(sizes.payloadBytes);
  const say = (m: string) => progress(`[${plugin.name}] ${m}`);

  // Warm both paths the same way (JIT, connection and statement caches, database pages), so
  // the timed rounds compare steady states rather than whichever ran first.
  const warmup = Math.max(10, Math.ceil(sizes.eventsPerEntity / 4));
  say(`warm-up: ${sizes.entities} entities × ${warmup} events, plugin and raw`);
  await concurrentAppends(journal, sizes.entities, warmup, payload, 'warmup');
  if (raw) {
    const ids = Array.from({ length: sizes.entities }, () => freshId('raw-warmup'));
    await raw.writeBatches(Array.from({ length: warmup }, (_, i) => ids.map((id) => makeEvent(id, i + 1, payload))));
  }

  say(`1 writer: ${sizes.singleWriterEvents} appends, each awaited`);
  const single = freshId('single');
  const singleMs = await timed(async () => {
    for (let s = 1; s <= sizes.singleWriterEvents; s++) await journal.append({ persistenceId: single, events: [makeEvent(single, s, payload)] });
  });
  const singleWriterPerSec = perSec(sizes.singleWriterEvents, singleMs);
  say(`1 writer: ${Math.round(singleWriterPerSec)} events/s`);

  const total = sizes.entities * sizes.eventsPerEntity;
  const plugins: number[] = [];
  const raws: number[] = [];
  for (let round = 1; round <= sizes.rounds; round++) {
    if (raw) {
      const ids = Array.from({ length: sizes.entities }, () => freshId('raw'));
      const batches = Array.from({ length: sizes.eventsPerEntity }, (_, i) => ids.map((id) => makeEvent(id, i + 1, payload)));
      raws.push(perSec(total, await timed(() => raw.writeBatches(batches))));
      say(`round ${round}/${sizes.rounds}: raw driver (${raw.name}), batches of ${sizes.entities}: ${Math.round(raws.at(-1)!)} events/s`);
    }
    plugins.push(perSec(total, await concurrentAppends(journal, sizes.entities, sizes.eventsPerEntity, payload, 'concurrent')));
    say(`round ${round}/${sizes.rounds}: ${sizes.entities} entities × ${sizes.eventsPerEntity} events: ${Math.round(plugins.at(-1)!)} events/s`);
  }
  const concurrentPerSec = median(plugins);
  const rawConcurrentPerSec = raw ? median(raws) : undefined;

  say(`persist ${sizes.replayEvents} events of one entity (pipelined), then recover them`);
  const replayId = freshId('replay');
  const persist10kMs = await timed(async () => {
    const appends: Promise<void>[] = [];
    for (let s = 1; s <= sizes.replayEvents; s++) appends.push(journal.append({ persistenceId: replayId, events: [makeEvent(replayId, s, payload)] }));
    await Promise.all(appends);
  });
  let replayed = 0;
  const recover10kMs = await timed(async () => {
    for await (const e of journal.replay(replayId)) {
      if (e.seqNr !== ++replayed) throw new Error(`replay returned seqNr ${e.seqNr} where ${replayed} was due`);
    }
  });
  if (replayed !== sizes.replayEvents) throw new Error(`replayed ${replayed} of ${sizes.replayEvents} events`);
  say(`persisted in ${Math.round(persist10kMs)} ms, recovered in ${Math.round(recover10kMs)} ms`);

  say(`${sizes.entities} values × ${sizes.eventsPerEntity} upserts, each awaited`);
  await concurrentUpserts(plugin, sizes.entities, warmup, payload);
  const valueUpsertsPerSec = perSec(total, await concurrentUpserts(plugin, sizes.entities, sizes.eventsPerEntity, payload));
  say(`${sizes.entities} values: ${Math.round(valueUpsertsPerSec)} upserts/s`);

  return {
    singleWriterPerSec,
    concurrentPerSec,
    rawConcurrentPerSec,
    ratio: rawConcurrentPerSec === undefined ? undefined : concurrentPerSec / rawConcurrentPerSec,
    replayPerSec: perSec(sizes.replayEvents, recover10kMs),
    persist10kMs,
    recover10kMs,
    valueUpsertsPerSec,
  };
}
