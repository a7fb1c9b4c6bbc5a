/**
 * The journal as entities use it: `append` one atomic write and await its outcome, `replay` a
 * range as a stream, read the highest sequence number, delete a prefix, query by tag. It owns
 * validation (malformed writes become rejections), group commit (concurrent appends from many
 * entities become one storage write) and the mapping of foreign errors to the three outcomes a
 * caller must tell apart: rejected, sequence conflict, failure (see ./spi/errors.ts).
 * It does not serialize events or decide what a caller does after an error.
 */
import { CloudstateError, describeError } from '../core/index.js';
import { GroupCommitter } from './group-commit.js';
import {
  CorruptRecordError,
  JournalFailureError,
  JournalRejectedError,
  PersistenceErrorCode,
  StoreClosedError,
} from './spi/errors.js';
import type { AtomicWrite, EventEnvelope, JournalCapabilities, JournalPlugin, PersistentRepr } from './spi/journal.js';
import { invalidWriteReason } from './validate.js';

export interface JournalOptions {
  /** Writes per storage batch (default 512). */
  maxBatchWrites?: number;
  /** Approximate bytes per storage batch (default 8 MiB). */
  maxBatchBytes?: number;
  /** Events in one atomic write (default 1000). */
  maxEventsPerWrite?: number;
}

export interface ReplayRange {
  /** First seqNr to return (default 1). */
  fromSeqNr?: number;
  /** Last seqNr to return (default: no limit). */
  toSeqNr?: number;
  /** At most this many events (default: no limit). */
  max?: number;
}

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** Maps anything a plugin threw to a journal error a caller can act on. */
function asFailure(err: unknown, what: string): CloudstateError {
  if (err instanceof CloudstateError) return err;
  return new JournalFailureError(`${what} failed: ${describeError(err)}`, { cause: err });
}

export class Journal {
  private readonly committer: GroupCommitter;
  private readonly maxEventsPerWrite: number;
  private closed = false;

  constructor(
    readonly plugin: JournalPlugin,
    options: JournalOptions = {},
  ) {
    this.maxEventsPerWrite = options.maxEventsPerWrite ?? 1000;
    this.committer = new GroupCommitter((writes) => plugin.writeBatch(writes), {
      maxBatchesInFlight: Math.max(1, plugin.capabilities.maxBatchesInFlight),
      maxBatchWrites: options.maxBatchWrites ?? 512,
      maxBatchBytes: options.maxBatchBytes ?? 8 * 1024 * 1024,
      maxEventsPerWrite: this.maxEventsPerWrite,
    });
  }

  get capabilities(): JournalCapabilities {
    return this.plugin.capabilities;
  }

  /**
   * Stores the write atomically. Resolves once it is durable. Rejects with
   * `JournalRejectedError` (nothing stored, go on), `SequenceConflictError` (nothing stored,
   * another writer owns the id: stop and recover) or `JournalFailureError` (outcome unknown:
   * stop). Writes for one id are stored in call order.
   */
  async append(write: AtomicWrite): Promise<void> {
    if (this.closed) throw new StoreClosedError('journal');
    const reason = invalidWriteReason(write, this.plugin.capabilities.maxPayloadBytes, this.maxEventsPerWrite);
    if (reason !== undefined) throw new JournalRejectedError(write.persistenceId, write.events[0]?.seqNr ?? 0, reason);
    let outcome;
    try {
      outcome = await this.committer.submit(write);
    } catch (err) {
      throw asFailure(err, `append to ${write.persistenceId}`);
    }
    if (outcome !== undefined) throw outcome;
  }

  /** Streams stored events of the id in seqNr order (see `JournalPlugin.replay`). */
  async *replay(persistenceId: string, range: ReplayRange = {}): AsyncGenerator<PersistentRepr> {
    const from = Math.max(1, range.fromSeqNr ?? 1);
    const to = range.toSeqNr ?? NO_LIMIT;
    const max = range.max ?? NO_LIMIT;
    if (max <= 0 || to < from) return;
    let last = from - 1;
    try {
      for await (const e of this.plugin.replay(persistenceId, from, to, max)) {
        last = e.seqNr;
        yield e;
      }
    } catch (err) {
      if (err instanceof CorruptRecordError) throw err;
      throw asFailure(err, `replay of ${persistenceId} after seqNr ${last}`);
    }
  }

  /** Same as `replay`: the query API's name for it. */
  currentEventsByPersistenceId(persistenceId: string, range: ReplayRange = {}): AsyncGenerator<PersistentRepr> {
    return this.replay(persistenceId, range);
  }

  /**
   * Events with `tag`, in a stable order, after `afterOffset` (0 = from the start), as of now.
   * Resume a later query from the last envelope's offset.
   */
  async *currentEventsByTag(tag: string, afterOffset = 0, limit = NO_LIMIT): AsyncGenerator<EventEnvelope> {
    const query = this.plugin.currentEventsByTag;
    if (!this.plugin.capabilities.eventsByTag || !query) {
      throw new CloudstateError(PersistenceErrorCode.InvalidArgument, 'this journal plugin does not support events by tag');
    }
    try {
      yield* query.call(this.plugin, tag, afterOffset, limit);
    } catch (err) {
      if (err instanceof CorruptRecordError) throw err;
      throw asFailure(err, `events by tag ${tag}`);
    }
  }

  /** The highest seqNr ever stored for the id (0 if none). */
  async highestSeqNr(persistenceId: string): Promise<number> {
    try {
      return await this.plugin.highestSeqNr(persistenceId);
    } catch (err) {
      throw asFailure(err, `reading the highest seqNr of ${persistenceId}`);
    }
  }

  /** Deletes events up to `toSeqNr`; the highest seqNr stays as it was. */
  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    if (this.closed) throw new StoreClosedError('journal');
    try {
      await this.plugin.deleteTo(persistenceId, toSeqNr);
    } catch (err) {
      throw asFailure(err, `deleting ${persistenceId} up to ${toSeqNr}`);
    }
  }

  /** Lets queued and in-flight appends finish, then closes the plugin. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.committer.whenIdle();
    await this.plugin.close();
  }
}
