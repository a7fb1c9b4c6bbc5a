/**
 * The data behind the in-memory plugin. Separate from the stores so that a test can close a
 * plugin and open a new one over the same data, as it would reopen a database.
 */
import type { PersistentRepr, SelectedSnapshot, StoredValue } from '../../spi/index.js';

export interface MemoryEntity {
  highest: number;
  deletedTo: number;
  readonly events: Map<number, PersistentRepr>;
}

export class MemoryStorage {
  readonly entities = new Map<string, MemoryEntity>();
  /** Tagged events in write order; `offset` is the global position. */
  readonly tagged: { offset: number; tag: string; event: PersistentRepr }[] = [];
  ordering = 0;
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
