/**
 * The benchmark's raw baseline for the memory plugin: the same events put into a Map in
 * batches, with no journal around them.
 */
import type { PersistentRepr } from '../../spi/index.js';

export async function openMemoryRawBaseline() {
  const rows = new Map<string, Uint8Array>();
  return {
    name: 'Map.set',
    async writeBatches(batches: PersistentRepr[][]): Promise<void> {
      for (const batch of batches) {
        for (const e of batch) rows.set(`${e.persistenceId}\u0000${e.seqNr}`, Uint8Array.from(e.payload));
        await Promise.resolve();
      }
    },
    async close(): Promise<void> {
      rows.clear();
    },
  };
}
