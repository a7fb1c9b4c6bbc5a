/**
 * The data behind the in-memory plugin. Separate from the stores so that a test can close a
 * plugin and open a new one over the same data, as it would reopen a database.
 */
import type { SelectedSnapshot, StoredValue } from '../../spi/index.js';

export interface MemoryEntity {
  highest: number;
  deletedTo: number;
  /**
   * Each event as one encoded record (./record.ts) by seqNr. One object per event instead of
   * an object, a payload copy and a tags array: a store holding a run's hundreds of thousands
   * of events keeps the garbage collector's old-generation work (and the pauses callers see)
   * in proportion.
   */
  readonly events: Map<number, Uint8Array>;
}

export class MemoryStorage {
  readonly entities = new Map<string, MemoryEntity>();
  /**
   * Tagged events in write order, as parallel columns: entry i has offset i + 1 (every tag of
   * every event takes the next offset), its tag, and the event's persistence id and seqNr.
   */
  readonly tagged = { tags: [] as string[], persistenceIds: [] as string[], seqNrs: [] as number[] };
  /** Snapshots per persistence id, sorted by seqNr. */
  readonly snapshots = new Map<string, SelectedSnapshot[]>();
  readonly values = new Map<string, StoredValue>();

  entity(persistenceId: string): MemoryEntity {
    let e = this.entities.get(persistenceId);
    if (!e) {
      e = { highest: 0, deletedTo: 0, events: new Map() };
      this.entities.set(persistenceId, e);
    }
    return e;
  }
}
