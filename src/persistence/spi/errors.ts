/**
 * The persistence layer's errors, each with a stable code. The distinction that matters to a
 * caller (after Akka's AsyncWriteJournal):
 *
 * - `JournalRejectedError`: this one write cannot be stored (too large, bad data). Nothing of it
 *   was stored; the journal is healthy and the caller may go on with its next write.
 * - `SequenceConflictError`: another writer got there first (the stored highest sequence number
 *   is not the one this write expected). Nothing of it was stored; the caller's view of the
 *   entity is stale and it must stop and recover from the journal.
 * - `JournalFailureError`: storage trouble (connection lost, disk error). The outcome of the
 *   write is unknown; the caller must stop, and later calls work again once storage is back.
 */
import { CloudstateError } from '../../core/index.js';

export const PersistenceErrorCode = {
  Rejected: 'ERR_JOURNAL_REJECTED',
  SequenceConflict: 'ERR_JOURNAL_SEQUENCE_CONFLICT',
  Failure: 'ERR_JOURNAL_FAILURE',
  CorruptRecord: 'ERR_JOURNAL_CORRUPT_RECORD',
  SnapshotFailure: 'ERR_SNAPSHOT_STORE_FAILURE',
  KeyValueFailure: 'ERR_KEY_VALUE_STORE_FAILURE',
  RevisionConflict: 'ERR_KEY_VALUE_REVISION_CONFLICT',
  Closed: 'ERR_STORE_CLOSED',
  InvalidArgument: 'ERR_PERSISTENCE_INVALID_ARGUMENT',
} as const;

export class JournalRejectedError extends CloudstateError {
  constructor(
    readonly persistenceId: string,
    readonly fromSeqNr: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(PersistenceErrorCode.Rejected, `write for ${persistenceId} from seqNr ${fromSeqNr} rejected: ${reason}`, options);
  }
}

export class SequenceConflictError extends CloudstateError {
  constructor(
    readonly persistenceId: string,
    /** The highest sequence number the write expected to follow. */
    readonly expectedHighestSeqNr: number,
    /** The highest sequence number found in storage, when the plugin knows it. */
    readonly actualHighestSeqNr: number | undefined,
  ) {
    super(
      PersistenceErrorCode.SequenceConflict,
      `sequence conflict on ${persistenceId}: the write expected highest seqNr ${expectedHighestSeqNr}` +
        (actualHighestSeqNr === undefined ? ' but another writer stored that range' : `, storage has ${actualHighestSeqNr}`) +
        ' (a second writer for this persistence id?)',
    );
  }
}

export class JournalFailureError extends CloudstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(PersistenceErrorCode.Failure, message, options);
  }
}

export class CorruptRecordError extends CloudstateError {
  constructor(
    readonly persistenceId: string,
    readonly seqNr: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(PersistenceErrorCode.CorruptRecord, `corrupt journal record ${persistenceId} seqNr ${seqNr}: ${reason}`, options);
  }
}

export class SnapshotStoreFailureError extends CloudstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(PersistenceErrorCode.SnapshotFailure, message, options);
  }
}

export class KeyValueStoreFailureError extends CloudstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(PersistenceErrorCode.KeyValueFailure, message, options);
  }
}

export class RevisionConflictError extends CloudstateError {
  constructor(
    readonly key: string,
    readonly expectedRevision: number,
    readonly actualRevision: number,
  ) {
    super(
      PersistenceErrorCode.RevisionConflict,
      `revision conflict on ${key}: expected revision ${expectedRevision}, storage has ${actualRevision}`,
    );
  }
}

export class StoreClosedError extends CloudstateError {
  constructor(what: string) {
    super(PersistenceErrorCode.Closed, `${what} is closed`);
  }
}
