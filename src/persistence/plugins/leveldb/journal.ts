/**
 * The LevelDB journal. `writeBatch` is one LevelDB batch written with `sync: true`: the events
 * of every write in the call, their tag index entries and the global ordering counter. Before
 * building it, each id's highest seqNr is compared with what the write expects, and a write
 * that does not follow it is a sequence conflict (nothing of it enters the batch). The façade
 * sends one batch at a time and LevelDB's lock keeps other processes out, so the check and the
 * write cannot interleave with another writer.
 *
 * The highest seqNr of an id is its last event key, or its head key when deleteTo removed the
 * events up to it (deleteTo writes the head, so the highest never goes down). Because this
 * process is the only writer, the highest of recently used ids is kept in a bounded cache that
 * is exactly what storage holds, which spares the write path a read per id.
 */
import { describeError } from '../../../core/index.js';
import { CorruptRecordError, JournalFailureError, SequenceConflictError, StoreClosedError } from '../../spi/index.js';
import type { AtomicWrite, EventEnvelope, JournalCapabilities, JournalPlugin, PersistentRepr, WriteOutcome } from '../../spi/index.js';
import { decodeEvent, encodeEvent } from './codec.js';
import { f64, getMany, readF64, scan } from './db.js';
import type { Db } from './db.js';
import { keys, parseTagEntryValue, seqNrOfKey, tagEntryValue } from './keys.js';
import { LruMap } from './lru.js';

function decodeOrThrow(persistenceId: string, seqNr: number, record: Uint8Array): PersistentRepr {
  try {
    const f = decodeEvent(record);
    return { persistenceId, seqNr, payload: f.payload, manifest: f.manifest, writerId: f.writerId, timestamp: f.timestamp, tags: f.tags };
  } catch (err) {
    throw new CorruptRecordError(persistenceId, seqNr, describeError(err), { cause: err });
  }
}

const failure = (what: string, err: unknown) =>
  err instanceof CorruptRecordError || err instanceof StoreClosedError ? err : new JournalFailureError(`LevelDB ${what} failed: ${describeError(err)}`, { cause: err });

export class LevelDbJournal implements JournalPlugin {
  readonly capabilities: JournalCapabilities;
  private closed = false;
  /** Highest seqNr per id, in step with storage. */
  private readonly highestCache: LruMap<string, number>;

  private constructor(
    private readonly db: Db,
    private ordering: number,
    maxPayloadBytes: number,
    cacheSize = 100_000,
  ) {
    this.capabilities = { eventsByTag: true, maxPayloadBytes, maxBatchesInFlight: 1 };
    this.highestCache = new LruMap(cacheSize);
  }

  static async open(db: Db, maxPayloadBytes: number): Promise<LevelDbJournal> {
    return new LevelDbJournal(db, readF64(await db.get(keys.ordering)), maxPayloadBytes);
  }

  async writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]> {
    this.checkOpen();
    try {
      // Most ids are in the cache: read those without a promise each.
      const highest = writes.map((w) => this.cachedHighest(w.persistenceId) ?? -1);
      const misses = writes.flatMap((_, i) => (highest[i] === -1 ? [i] : []));
      if (misses.length > 0) {
        const read = await Promise.all(misses.map((i) => this.highest(writes[i]!.persistenceId)));
        misses.forEach((i, k) => (highest[i] = read[k]!));
      }
      const batch = this.db.batch();
      const outcomes: WriteOutcome[] = [];
      let ordering = this.ordering;
      writes.forEach((w, i) => {
        const expected = w.events[0]!.seqNr - 1;
        if (highest[i] !== expected) {
          outcomes.push(new SequenceConflictError(w.persistenceId, expected, highest[i]));
          return;
        }
        for (const e of w.events) {
          const eventOrdering = e.tags.length > 0 ? ++ordering : 0;
          batch.put(keys.event(e.persistenceId, e.seqNr), encodeEvent({ ...e, ordering: eventOrdering }));
          for (const tag of e.tags) batch.put(keys.tag(tag, eventOrdering), Buffer.from(tagEntryValue(e.persistenceId, e.seqNr)));
        }
        outcomes.push(undefined);
      });
      if (ordering !== this.ordering) batch.put(keys.ordering, f64(ordering));
      if (batch.length > 0) await batch.write({ sync: true });
      else await batch.close();
      this.ordering = ordering;
      writes.forEach((w, i) => {
        if (outcomes[i] === undefined) this.remember(w.persistenceId, w.events[w.events.length - 1]!.seqNr);
      });
      return outcomes;
    } catch (err) {
      throw failure('write', err);
    }
  }

  async *replay(persistenceId: string, fromSeqNr: number, toSeqNr: number, max: number): AsyncGenerator<PersistentRepr> {
    this.checkOpen();
    const range = keys.eventRange(persistenceId, fromSeqNr, toSeqNr);
    const limit = Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER ? max : -1;
    try {
      for await (const [key, value] of scan(this.db, { ...range, limit })) yield decodeOrThrow(persistenceId, seqNrOfKey(key), value);
    } catch (err) {
      throw failure(`replay of ${persistenceId}`, err);
    }
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    this.checkOpen();
    try {
      return await this.highest(persistenceId);
    } catch (err) {
      throw failure('read of the highest seqNr', err);
    }
  }

  /** The cached highest seqNr of the id (refreshed as recently used), or undefined. */
  private cachedHighest(persistenceId: string): number | undefined {
    return this.highestCache.get(persistenceId);
  }

  /** The highest seqNr of the id: from the cache, or the larger of its last event key and head key. */
  private async highest(persistenceId: string): Promise<number> {
    const cached = this.cachedHighest(persistenceId);
    if (cached !== undefined) return cached;
    const [head] = await getMany(this.db, [keys.highest(persistenceId)]);
    let last = 0;
    for await (const [key] of scan(this.db, { ...keys.eventRange(persistenceId, 1, Number.MAX_SAFE_INTEGER), reverse: true, limit: 1 }, 1)) {
      last = seqNrOfKey(key);
    }
    // A batch may have stored (and cached) a newer highest while this read was under way.
    const newer = this.highestCache.get(persistenceId);
    const highest = newer ?? Math.max(readF64(head), last);
    this.remember(persistenceId, highest);
    return highest;
  }

  private remember(persistenceId: string, highest: number): void {
    this.highestCache.set(persistenceId, highest);
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.checkOpen();
    try {
      // The head key keeps the highest once its event may be gone; written before any delete.
      await this.db.put(keys.highest(persistenceId), f64(await this.highest(persistenceId)), { sync: true });
      let batch = this.db.batch();
      for await (const [key, value] of scan(this.db, keys.eventRange(persistenceId, 1, toSeqNr))) {
        batch.del(key);
        let fields;
        try {
          fields = decodeEvent(value);
        } catch {
          continue; // a damaged record goes too; reads skip tag entries whose event is gone
        }
        for (const tag of fields.tags) batch.del(keys.tag(tag, fields.ordering));
        if (batch.length >= 10_000) {
          await batch.write({ sync: true });
          batch = this.db.batch();
        }
      }
      if (batch.length > 0) await batch.write({ sync: true });
      else await batch.close();
    } catch (err) {
      throw failure(`deleteTo of ${persistenceId}`, err);
    }
  }

  async *currentEventsByTag(tag: string, afterOffset: number, limit: number): AsyncGenerator<EventEnvelope> {
    this.checkOpen();
    const upTo = this.ordering; // "current": what was written before the call
    let n = 0;
    try {
      for await (const [key, value] of scan(this.db, keys.tagRange(tag, afterOffset, upTo), 256)) {
        if (n >= limit) return;
        const { persistenceId, seqNr } = parseTagEntryValue(Buffer.from(value).toString('utf8'));
        const record = await this.db.get(keys.event(persistenceId, seqNr));
        if (record === undefined) continue; // deleted after the index entry was read
        n++;
        yield { offset: seqNrOfKey(key), event: decodeOrThrow(persistenceId, seqNr, record) };
      }
    } catch (err) {
      throw failure(`events by tag ${tag}`, err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('LevelDB journal');
  }
}
