/**
 * The LevelDB storage plugin: the embedded default. One directory per node holds the journal,
 * snapshots and values, so a single node keeps its state across restarts with no server.
 */
import type { StoragePlugin } from '../../spi/index.js';
import { keys } from './keys.js';
import { openDb } from './db.js';
import { LevelDbJournal } from './journal.js';
import { LevelDbKeyValueStore } from './key-value-store.js';
import { LevelDbSnapshotStore } from './snapshot-store.js';

export { LEVELDB_LOCKED } from './db.js';

export interface LevelDbStorageOptions {
  /** The node's data directory (created if missing). Only one process may open it at a time. */
  directory: string;
  /** Largest payload accepted (default 8 MiB). */
  maxPayloadBytes?: number;
}

export async function openLevelDbStorage(options: LevelDbStorageOptions): Promise<StoragePlugin> {
  const db = await openDb(options.directory);
  const journal = await LevelDbJournal.open(db, options.maxPayloadBytes ?? 8 * 1024 * 1024);
  const snapshotStore = new LevelDbSnapshotStore(db);
  const keyValueStore = new LevelDbKeyValueStore(db);
  let closing: Promise<void> | undefined;
  return {
    name: 'leveldb',
    journal,
    snapshotStore,
    keyValueStore,
    entryStore: (namespace) => {
      const range = keys.entryRange(namespace);
      const prefixLength = range.gt.length;
      return {
        async load() {
          const out: [string, Uint8Array][] = [];
          for await (const [key, value] of db.iterator(range)) out.push([key.slice(prefixLength), value]);
          return out;
        },
        async write(entries) {
          const batch = db.batch();
          for (const [key, value] of entries) batch.put(keys.entry(namespace, key), value);
          await batch.write();
        },
        // The database belongs to the plugin; its close releases it.
        close: async () => undefined,
      };
    },
    close() {
      closing ??= (async () => {
        await Promise.all([journal.close(), snapshotStore.close(), keyValueStore.close()]);
        await db.close();
      })();
      return closing;
    },
  };
}
