/**
 * The LevelDB key-value store (value entities' state), in the same database as the journal,
 * with group commit: upserts and deletes that arrive while a synced write is under way go
 * together in the next one, one fsync for all of them (the SPI's `Batcher`), as the journal
 * does for events. Without it every value entity of the node waited for every other one's fsync.
 *
 * Check-and-set stays atomic: only this process writes the directory (LevelDB's lock) and one
 * batch is written at a time, so each operation's revision check is made against what storage
 * holds (a batch has one operation per key; a key's next one waits for the next batch). The
 * revisions of recently used keys are kept in memory, exactly what storage holds, so a batch
 * reads only the keys it has not seen. A conflict rejects only its own operation; a failed
 * write rejects its whole batch and forgets the cached revisions of its keys.
 *
 * A `get` of a key with a write queued or under way waits for that write, so a caller reads
 * its own writes even when it did not await them.
 */
import { describeError } from '../../../core/index.js';
import { Batcher, KeyValueStoreFailureError, RevisionConflictError, StoreClosedError, keyValueChangeBytes } from '../../spi/index.js';
import type { KeyValueChange, KeyValueStore, StoredValue } from '../../spi/index.js';
import { decodeValue, encodeValue } from './codec.js';
import { getMany, type Db } from './db.js';
import { keys } from './keys.js';
import { LruMap } from './lru.js';

export class LevelDbKeyValueStore implements KeyValueStore {
  private closed = false;
  private readonly writer: Batcher<KeyValueChange, number>;
  /** Revision per recently used key (0: no value), in step with storage. */
  private readonly revisions: LruMap<string, number>;

  constructor(
    private readonly db: Db,
    cachedKeys = 100_000,
  ) {
    this.writer = new Batcher((changes) => this.writeChanges(changes), { keyOf: (c) => c.key, bytesOf: keyValueChangeBytes });
    this.revisions = new LruMap(cachedKeys);
  }

  async get(key: string): Promise<StoredValue | undefined> {
    this.checkOpen();
    await this.writer.pending(key);
    try {
      const record = await this.db.get(keys.value(key));
      return record === undefined ? undefined : decodeValue(record);
    } catch (err) {
      throw new KeyValueStoreFailureError(`LevelDB key-value get failed: ${describeError(err)}`, { cause: err });
    }
  }

  async upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    this.checkOpen();
    return this.writer.submit({ key, value, expectedRevision });
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    this.checkOpen();
    await this.writer.submit({ key, value: undefined, expectedRevision });
  }

  /** Stops taking operations, then waits for the queued ones to be written. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writer.whenIdle();
  }

  /** One batch (one change per key): each change checked against storage, then one synced write. */
  private async writeChanges(changes: KeyValueChange[]): Promise<(number | Error)[]> {
    const current = await this.currentRevisions(changes);
    const batch = this.db.batch();
    const outcomes = changes.map((c): number | Error => {
      const revision = current.get(c.key)!;
      if (c.expectedRevision !== undefined && c.expectedRevision !== revision) return new RevisionConflictError(c.key, c.expectedRevision, revision);
      if (c.value === undefined) {
        batch.del(keys.value(c.key));
        current.set(c.key, 0);
        return 0;
      }
      batch.put(keys.value(c.key), encodeValue(revision + 1, c.value.manifest, c.value.payload));
      current.set(c.key, revision + 1);
      return revision + 1;
    });
    try {
      if (batch.length > 0) await batch.write({ sync: true });
      else await batch.close();
    } catch (err) {
      for (const c of changes) this.revisions.delete(c.key);
      throw new KeyValueStoreFailureError(`LevelDB key-value write failed: ${describeError(err)}`, { cause: err });
    }
    for (const [key, revision] of current) this.revisions.set(key, revision);
    return outcomes;
  }

  /** The stored revision of every key of the batch: from the cache, the rest read in one call. */
  private async currentRevisions(changes: KeyValueChange[]): Promise<Map<string, number>> {
    const current = new Map<string, number>();
    const unknown: string[] = [];
    for (const { key } of changes) {
      const cached = this.revisions.get(key);
      current.set(key, cached ?? -1);
      if (cached === undefined) unknown.push(key);
    }
    if (unknown.length > 0) {
      let records: (Uint8Array | undefined)[];
      try {
        records = await getMany(this.db, unknown.map((k) => keys.value(k)));
      } catch (err) {
        throw new KeyValueStoreFailureError(`LevelDB key-value read failed: ${describeError(err)}`, { cause: err });
      }
      unknown.forEach((key, i) => {
        const record = records[i];
        current.set(key, record === undefined ? 0 : decodeValue(record).revision);
      });
    }
    return current;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('LevelDB key-value store');
  }
}
