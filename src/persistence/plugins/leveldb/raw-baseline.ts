/**
 * The benchmark's raw baseline for LevelDB: the same events, encoded the same way, written
 * with the driver directly: one chained batch per group of events, `write({ sync: true })`,
 * one batch after another. That is the most group commit can do with the same durability.
 */
import type { PersistentRepr } from '../../spi/index.js';
import { encodeEvent } from './codec.js';
import { openDb } from './db.js';
import { keys } from './keys.js';

export async function openLevelDbRawBaseline(directory: string) {
  const db = await openDb(directory);
  return {
    name: 'level chained batch, sync',
    async writeBatches(batches: PersistentRepr[][]): Promise<void> {
      for (const events of batches) {
        const batch = db.batch();
        for (const e of events) batch.put(keys.event(e.persistenceId, e.seqNr), encodeEvent({ ...e, ordering: 0 }));
        await batch.write({ sync: true });
      }
    },
    close: () => db.close(),
  };
}
