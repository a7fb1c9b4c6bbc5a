/**
 * The persistence SPI: everything a storage plugin may import from this package besides
 * `src/core`. A plugin sees these types and its own driver, nothing else.
 */
export * from './errors.js';
export { Batcher } from './batcher.js';
export type { BatcherOptions } from './batcher.js';
export type { AtomicWrite, EventEnvelope, JournalCapabilities, JournalPlugin, PersistentRepr, WriteOutcome } from './journal.js';
export type { KeyValueChange, KeyValueStore, StoredValue } from './key-value-store.js';
export { keyValueChangeBytes } from './key-value-store.js';
export type { SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore } from './snapshot-store.js';
export { matchesCriteria } from './snapshot-store.js';
export type { EntryStore, StoragePlugin } from './storage-plugin.js';
