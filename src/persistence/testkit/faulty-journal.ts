/**
 * A journal plugin that wraps a real one and misbehaves on command: fail the next N
 * operations (storage trouble: the whole call rejects with `JournalFailureError`) or reject
 * the next N writes (this write cannot be stored: a `JournalRejectedError` outcome while the
 * rest of the batch is stored). For testing what callers do with each outcome.
 */
import { JournalFailureError, JournalRejectedError } from '../spi/index.js';
import type { AtomicWrite, EventEnvelope, JournalCapabilities, JournalPlugin, PersistentRepr, WriteOutcome } from '../spi/index.js';

export type FaultyOperation = 'write' | 'replay' | 'highestSeqNr' | 'deleteTo';

export class FaultyJournal implements JournalPlugin {
  private failures = new Map<FaultyOperation, number>();
  private rejections = 0;
  /** How many operations failed or writes were rejected on command so far. */
  injected = 0;

  constructor(readonly inner: JournalPlugin) {}

  get capabilities(): JournalCapabilities {
    return this.inner.capabilities;
  }

  /** The next `n` calls of `operation` fail with `JournalFailureError` (storing nothing). */
  failNext(n: number, operation: FaultyOperation = 'write'): void {
    this.failures.set(operation, (this.failures.get(operation) ?? 0) + n);
  }

  /** The next `n` writes are rejected (storing nothing of them); others in their batch are stored. */
  rejectNext(n: number): void {
    this.rejections += n;
  }

  async writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]> {
    this.maybeFail('write');
    const rejected = new Set<number>();
    for (let i = 0; i < writes.length && this.rejections > 0; i++, this.rejections--, this.injected++) rejected.add(i);
    const passed = writes.filter((_, i) => !rejected.has(i));
    const outcomes = passed.length > 0 ? await this.inner.writeBatch(passed) : [];
    let j = 0;
    return writes.map((w, i) =>
      rejected.has(i) ? new JournalRejectedError(w.persistenceId, w.events[0]!.seqNr, 'rejected on command (FaultyJournal)') : outcomes[j++],
    );
  }

  replay(persistenceId: string, fromSeqNr: number, toSeqNr: number, max: number): AsyncIterable<PersistentRepr> {
    this.maybeFail('replay');
    return this.inner.replay(persistenceId, fromSeqNr, toSeqNr, max);
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    this.maybeFail('highestSeqNr');
    return this.inner.highestSeqNr(persistenceId);
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.maybeFail('deleteTo');
    return this.inner.deleteTo(persistenceId, toSeqNr);
  }

  currentEventsByTag(tag: string, afterOffset: number, limit: number): AsyncIterable<EventEnvelope> {
    if (!this.inner.currentEventsByTag) throw new Error('inner journal has no events by tag');
    return this.inner.currentEventsByTag(tag, afterOffset, limit);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private maybeFail(operation: FaultyOperation): void {
    const left = this.failures.get(operation) ?? 0;
    if (left <= 0) return;
    this.failures.set(operation, left - 1);
    this.injected++;
    throw new JournalFailureError(`${operation} failed on command (FaultyJournal)`);
  }
}
