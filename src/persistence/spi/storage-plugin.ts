/**
 * A storage plugin: the journal, snapshot store and key-value store of one backend, opened
 * together because they usually share a connection pool or a database directory.
 */
import type { JournalPlugin } from './journal.js';
import type { KeyValueStore } from './key-value-store.js';
import type { SnapshotStore } from './snapshot-store.js';

export interface StoragePlugin {
  /** A short name: `memory`, `leveldb`, `postgres`, `cassandra`. */
  readonly name: string;
  readonly journal: JournalPlugin;
  readonly snapshotStore: SnapshotStore;
  readonly keyValueStore: KeyValueStore;
  /** Closes all three stores and releases the backend. */
  close(): Promise<void>;
}
