/**
 * The journal SPI: what a storage plugin implements (after Akka's AsyncWriteJournal and
 * AsyncRecovery). Plugins see bytes and metadata only; serialization lives above them.
 * Plugins do not batch, order or validate on their own account: the `Journal` façade
 * (../journal.ts) validates writes, group-commits concurrent appends into one `writeBatch`
 * call, and keeps each persistence id's writes in call order.
 */

/** One stored event. */
export interface PersistentRepr {
  readonly persistenceId: string;
  /** 1-based, consecutive per persistence id. */
  readonly seqNr: number;
  /** The serialized event. */
  readonly payload: Uint8Array;
  /** What the payload is (a type URL or name), for the deserializer. May be empty. */
  readonly manifest: string;
  /** Which incarnation of the entity wrote it (for diagnosing a second writer). */
  readonly writerId: string;
  /** Milliseconds since the Unix epoch, set by the writer. */
  readonly timestamp: number;
  /** Tags for events-by-tag queries. */
  readonly tags: readonly string[];
}

/**
 * An atomic write: one or more events of one persistence id, stored all or nothing. The events'
 * sequence numbers are consecutive and the first is the stored highest + 1: that is the
 * expectation storage checks to enforce a single writer.
 */
export interface AtomicWrite {
  readonly persistenceId: string;
  readonly events: readonly PersistentRepr[];
}

/**
 * The outcome of one write in a batch: `undefined` when stored; a `JournalRejectedError` or a
 * `SequenceConflictError` when nothing of it was stored (and the other writes are unaffected).
 */
export type WriteOutcome = undefined | Error;

/** Which optional parts a plugin has; the conformance kit skips what a plugin lacks. */
export interface JournalCapabilities {
  /** `currentEventsByTag` is implemented. */
  readonly eventsByTag: boolean;
  /** The largest payload, in bytes, the plugin stores; larger ones are rejected. */
  readonly maxPayloadBytes: number;
  /** How many `writeBatch` calls the façade may have in flight at once (1 for an embedded store). */
  readonly maxBatchesInFlight: number;
}

/** An event together with its position in an events-by-tag stream. */
export interface EventEnvelope {
  /** Resume after this offset to get the events that follow. Offsets increase along a stream. */
  readonly offset: number;
  readonly event: PersistentRepr;
}

export interface JournalPlugin {
  readonly capabilities: JournalCapabilities;

  /**
   * Stores the writes, as one storage operation where the store allows it. The façade passes at
   * most one write per persistence id per call, each already validated. Resolves to one outcome
   * per write, in order. Rejects (with `JournalFailureError`) only when storage failed: then
   * the outcome of every write in the call is unknown.
   */
  writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]>;

  /**
   * Streams the stored (not deleted) events with `fromSeqNr <= seqNr <= toSeqNr`, in sequence
   * order, at most `max` of them. Must not load the whole range into memory. A record that
   * cannot be decoded is a `CorruptRecordError` naming its persistence id and seqNr.
   */
  replay(persistenceId: string, fromSeqNr: number, toSeqNr: number, max: number): AsyncIterable<PersistentRepr>;

  /** The highest sequence number ever stored for the id (0 if none); deletion never lowers it. */
  highestSeqNr(persistenceId: string): Promise<number>;

  /** Deletes events up to and including `toSeqNr` (capped at the highest). */
  deleteTo(persistenceId: string, toSeqNr: number): Promise<void>;

  /**
   * Streams events carrying `tag`, in a stable order, with offsets greater than `afterOffset`
   * (0 = from the start), as of the call. Only when `capabilities.eventsByTag`.
   */
  currentEventsByTag?(tag: string, afterOffset: number, limit: number): AsyncIterable<EventEnvelope>;

  close(): Promise<void>;
}
