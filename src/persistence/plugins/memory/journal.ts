/**
 * In-memory journal: the reference implementation of the journal SPI, for tests and for
 * single-process use where losing state on exit is fine. State lives in a `MemoryStorage`
 * that can outlive one plugin instance, so "close and reopen" can be exercised in tests.
 */
import { SequenceConflictError, StoreClosedError } from '../../spi/index.js';
import type { AtomicWrite, EventEnvelope, JournalCapabilities, JournalPlugin, PersistentRepr, WriteOutcome } from '../../spi/index.js';
import { decodeRecord, encodeRecord } from './record.js';
import type { MemoryStorage } from './storage.js';

export class MemoryJournal implements JournalPlugin {
  readonly capabilities: JournalCapabilities;
  private closed = false;

  constructor(
    private readonly storage: MemoryStorage,
    maxPayloadBytes: number,
  ) {
    this.capabilities = { eventsByTag: true, maxPayloadBytes, maxBatchesInFlight: 1 };
  }

  async writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]> {
    this.checkOpen();
    return writes.map((w) => {
      const entity = this.storage.entity(w.persistenceId);
      const expected = w.events[0]!.seqNr - 1;
      if (entity.highest !== expected) return new SequenceConflictError(w.persistenceId, expected, entity.highest);
      const { tagged } = this.storage;
      for (const e of w.events) {
        entity.events.set(e.seqNr, encodeRecord(e));
        for (const tag of e.tags) {
          tagged.tags.push(tag);
          tagged.persistenceIds.push(w.persistenceId);
          tagged.seqNrs.push(e.seqNr);
        }
      }
      entity.highest = w.events[w.events.length - 1]!.seqNr;
      return undefined;
    });
  }

  async *replay(persistenceId: string, fromSeqNr: number, toSeqNr: number, max: number): AsyncGenerator<PersistentRepr> {
    this.checkOpen();
    const entity = this.storage.entities.get(persistenceId);
    if (!entity) return;
    let n = 0;
    const last = Math.min(toSeqNr, entity.highest);
    for (let s = Math.max(fromSeqNr, entity.deletedTo + 1); s <= last && n < max; s++) {
      const record = entity.events.get(s);
      if (record) {
        n++;
        yield decodeRecord(persistenceId, s, record);
      }
    }
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    this.checkOpen();
    return this.storage.entities.get(persistenceId)?.highest ?? 0;
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.checkOpen();
    const entity = this.storage.entities.get(persistenceId);
    if (!entity) return;
    const upTo = Math.min(toSeqNr, entity.highest);
    for (let s = entity.deletedTo + 1; s <= upTo; s++) entity.events.delete(s);
    entity.deletedTo = Math.max(entity.deletedTo, upTo);
  }

  async *currentEventsByTag(tag: string, afterOffset: number, limit: number): AsyncGenerator<EventEnvelope> {
    this.checkOpen();
    const { tags, persistenceIds, seqNrs } = this.storage.tagged;
    // The entries there are now (the offset of the last one); entry i has offset i + 1.
    const end = tags.length;
    let n = 0;
    for (let i = Math.max(0, afterOffset); i < end; i++) {
      if (n >= limit) return;
      if (tags[i] !== tag) continue;
      const persistenceId = persistenceIds[i]!;
      const seqNr = seqNrs[i]!;
      const entity = this.storage.entities.get(persistenceId);
      const record = entity && seqNr > entity.deletedTo ? entity.events.get(seqNr) : undefined;
      if (!record) continue;
      n++;
      yield { offset: i + 1, event: decodeRecord(persistenceId, seqNr, record) };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('memory journal');
  }
}
