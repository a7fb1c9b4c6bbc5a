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
  /**
   * Optional: a store of opaque byte entries under `namespace`, in the same backend, for state
   * other layers keep durable beside the journal (the CRDT replicator's `DurableStore` has this
   * shape). Absent when the plugin has none. Closing it releases nothing the plugin needs.
   */
  readonly entryStore?: (namespace: string) => EntryStore;
  /** Closes all three stores and releases the backend. */
  close(): Promise<void>;
}

/** Opaque byte entries by key, loaded all at once (see `StoragePlugin.entryStore`). */
export interface EntryStore {
  /** Every entry of the namespace. */
  load(): Promise<Iterable<readonly [key: string, value: Uint8Array]>>;
  /** Writes these entries (replacing earlier values of their keys) in one batch; resolves once durable. */
  write(entries: ReadonlyArray<readonly [key: string, value: Uint8Array]>): Promise<void>;
  close(): Promise<void>;
}
