/**
 * The snapshot store SPI (after Akka's SnapshotStore). A snapshot is the serialized state of
 * an entity as of a sequence number; recovery loads the latest one matching the criteria and
 * replays the events after it.
 */

export interface SnapshotMetadata {
  readonly persistenceId: string;
  /** The sequence number of the last event the snapshot reflects. */
  readonly seqNr: number;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  /** What the payload is, for the deserializer. */
  readonly manifest: string;
}

export interface SelectedSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly payload: Uint8Array;
}

/** Bounds, all inclusive; an absent bound does not restrict. */
export interface SnapshotSelectionCriteria {
  readonly maxSeqNr?: number;
  readonly maxTimestamp?: number;
  readonly minSeqNr?: number;
  readonly minTimestamp?: number;
}

export interface SnapshotStore {
  /** Saves a snapshot; one with the same persistence id and seqNr is replaced. */
  save(metadata: SnapshotMetadata, payload: Uint8Array): Promise<void>;
  /** The matching snapshot with the highest seqNr, or undefined. */
  loadLatest(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<SelectedSnapshot | undefined>;
  /** Deletes every matching snapshot of the id. */
  delete(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<void>;
  close(): Promise<void>;
}

/** True when the metadata falls inside the criteria (shared by plugins that filter in memory). */
export function matchesCriteria(m: SnapshotMetadata, c: SnapshotSelectionCriteria = {}): boolean {
  return (
    (c.maxSeqNr === undefined || m.seqNr <= c.maxSeqNr) &&
    (c.minSeqNr === undefined || m.seqNr >= c.minSeqNr) &&
    (c.maxTimestamp === undefined || m.timestamp <= c.maxTimestamp) &&
    (c.minTimestamp === undefined || m.timestamp >= c.minTimestamp)
  );
}
