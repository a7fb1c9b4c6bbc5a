/**
 * The in-memory storage plugin. Fast and complete, and gone when the process exits: for tests,
 * the `--store memory` development mode, and as the reference behaviour of every SPI.
 */
import type { StoragePlugin } from '../../spi/index.js';
import { MemoryJournal } from './journal.js';
import { MemoryStorage } from './storage.js';
import { MemoryKeyValueStore, MemorySnapshotStore } from './stores.js';

export { MemoryStorage } from './storage.js';

export interface MemoryStorageOptions {
  /** Reopen over this data (e.g. to test recovery); a new, empty one by default. */
  storage?: MemoryStorage;
  /** Largest payload accepted (default 8 MiB). */
  maxPayloadBytes?: number;
}

export async function openMemoryStorage(options: MemoryStorageOptions = {}): Promise<StoragePlugin> {
  const storage = options.storage ?? new MemoryStorage();
  const journal = new MemoryJournal(storage, options.maxPayloadBytes ?? 8 * 1024 * 1024);
  const snapshotStore = new MemorySnapshotStore(storage);
  const keyValueStore = new MemoryKeyValueStore(storage);
  return {
    name: 'memory',
    journal,
    snapshotStore,
    keyValueStore,
    async close() {
      await Promise.all([journal.close(), snapshotStore.close(), keyValueStore.close()]);
    },
  };
}
