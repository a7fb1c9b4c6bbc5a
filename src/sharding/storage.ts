/**
 * The storage entities use, from an opened persistence plugin: one `Journal` façade (group
 * commit for every entity of the node), the snapshot store, the key-value store, and the
 * node's bound on concurrent recoveries (`maxConcurrentRecoveries`, default 50, as Akka's).
 */
import { Journal } from '../persistence/index.js';
import type { JournalOptions, StoragePlugin } from '../persistence/index.js';
import { RecoveryPermits } from './recovery-permits.js';
import type { EntityStorage } from './types.js';

/** Wraps an opened plugin (`openStorage(...)`) for `new Sharding(cluster, { storage })`. */
export function entityStorage(plugin: StoragePlugin, options?: JournalOptions & { maxConcurrentRecoveries?: number }): EntityStorage {
  return {
    journal: new Journal(plugin.journal, options),
    snapshots: plugin.snapshotStore,
    keyValue: plugin.keyValueStore,
    recoveries: new RecoveryPermits(options?.maxConcurrentRecoveries),
  };
}
