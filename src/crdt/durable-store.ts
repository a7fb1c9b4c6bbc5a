/**
 * The durable storage SPI of the replicator: a node that restarts with the same store gets its
 * keys back (Akka Distributed Data's `durable.store-actor-class`, LMDB there, LevelDB here).
 * It sees opaque bytes per key: the replicator writes each key's envelope (data, pruning
 * markers, or tombstone: deleted keys stay deleted across restarts). The LevelDB adapter lives
 * with the LevelDB plugin (this layer may not import a driver); `MemoryDurableStore` is for
 * tests and for a store shared by a simulated node's incarnations.
 */

export interface DurableStore {
  /** Every stored entry, read once when the replicator starts. */
  load(): Promise<Iterable<readonly [key: string, value: Uint8Array]>>;
  /** Writes these entries, replacing earlier values of their keys; resolves once they are durable (one batch where the store can). */
  write(entries: ReadonlyArray<readonly [key: string, value: Uint8Array]>): Promise<void>;
  /** Releases the store (the replicator calls it on `close`). */
  close(): Promise<void>;
}

/** A `DurableStore` in memory: survives a replicator's restart within one process. */
export class MemoryDurableStore implements DurableStore {
  readonly entries = new Map<string, Uint8Array>();
  writes = 0;

  async load(): Promise<Iterable<readonly [string, Uint8Array]>> {
    return [...this.entries];
  }

  async write(entries: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
    this.writes++;
    for (const [k, v] of entries) this.entries.set(k, v);
  }

  async close(): Promise<void> {}
}
