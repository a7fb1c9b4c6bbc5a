/**
 * The LevelDB snapshot store and key-value store, in the same database as the journal.
 * Snapshots are keyed by (persistence id, seqNr), so the latest one is found by reading the
 * id's range backwards. Key-value check-and-set runs one operation at a time per store, which
 * makes it atomic within the one process that may open the directory.
 */
import { describeError } from '../../../core/index.js';
import { KeyValueStoreFailureError, RevisionConflictError, SnapshotStoreFailureError, StoreClosedError, matchesCriteria } from '../../spi/index.js';
import type { KeyValueStore, SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore, StoredValue } from '../../spi/index.js';
import { decodeSnapshot, decodeValue, encodeSnapshot, encodeValue } from './codec.js';
import { scan } from './db.js';
import type { Db } from './db.js';
import { keys, seqNrOfKey } from './keys.js';
import { LatestSnapshots } from './latest-snapshots.js';

export class LevelDbSnapshotStore implements SnapshotStore {
  private closed = false;
  /** The latest snapshot of recently used ids: a recovery then reads nothing (./latest-snapshots.ts). */
  private readonly latest = new LatestSnapshots();

  constructor(private readonly db: Db) {}

  /**
   * Written without its own fsync: a snapshot only shortens recovery (the events it covers are
   * already durable), and LevelDB's log is sequential, so the next synced write (the id's next
   * events, or a deleteTo of the events it covers) makes it durable too. A crash before then
   * loses the snapshot, never state. An fsync here would be a second one on the command's path.
   */
  async save(metadata: SnapshotMetadata, payload: Uint8Array): Promise<void> {
    await this.run('save', () => this.db.put(keys.snapshot(metadata.persistenceId, metadata.seqNr), encodeSnapshot(metadata.timestamp, metadata.manifest, payload)));
    this.latest.saved({ metadata: { ...metadata }, payload });
  }

  loadLatest(persistenceId: string, criteria: SnapshotSelectionCriteria = {}): Promise<SelectedSnapshot | undefined> {
    const known = this.closed ? undefined : this.latest.get(persistenceId);
    if (known === null) return Promise.resolve(undefined);
    if (known !== undefined && matchesCriteria(known.metadata, criteria)) return Promise.resolve(known);
    return this.run('load', async () => {
      const version = this.latest.version();
      const range = keys.snapshotRange(persistenceId, criteria.minSeqNr ?? 0, criteria.maxSeqNr ?? Number.MAX_SAFE_INTEGER);
      let found: SelectedSnapshot | undefined;
      for await (const [key, value] of scan(this.db, { ...range, reverse: true }, 16)) {
        const s = decodeSnapshot(value);
        const metadata = { persistenceId, seqNr: seqNrOfKey(key), timestamp: s.timestamp, manifest: s.manifest };
        if (matchesCriteria(metadata, criteria)) {
          found = { metadata, payload: s.payload };
          break;
        }
      }
      const unrestricted = Object.values(criteria).every((v) => v === undefined);
      if (unrestricted) this.latest.found(persistenceId, version, found);
      return found;
    });
  }

  delete(persistenceId: string, criteria: SnapshotSelectionCriteria = {}): Promise<void> {
    // Forgotten before (no read answers from the cache meanwhile) and after (a read that ran
    // meanwhile may have seen what is now deleted: it does not cache).
    this.latest.deleted(persistenceId);
    return this.deleteMatching(persistenceId, criteria).finally(() => this.latest.deleted(persistenceId));
  }

  private deleteMatching(persistenceId: string, criteria: SnapshotSelectionCriteria): Promise<void> {
    return this.run('delete', async () => {
      const batch = this.db.batch();
      const range = keys.snapshotRange(persistenceId, criteria.minSeqNr ?? 0, criteria.maxSeqNr ?? Number.MAX_SAFE_INTEGER);
      for await (const [key, value] of scan(this.db, range)) {
        const { timestamp, manifest } = decodeSnapshot(value);
        if (matchesCriteria({ persistenceId, seqNr: seqNrOfKey(key), timestamp, manifest }, criteria)) batch.del(key);
      }
      if (batch.length > 0) await batch.write({ sync: true });
      else await batch.close();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError('LevelDB snapshot store');
    try {
      return await fn();
    } catch (err) {
      throw new SnapshotStoreFailureError(`LevelDB snapshot ${what} failed: ${describeError(err)}`, { cause: err });
    }
  }
}

export class LevelDbKeyValueStore implements KeyValueStore {
  private closed = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: Db) {}

  get(key: string): Promise<StoredValue | undefined> {
    return this.serial('get', async () => this.read(key));
  }

  upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    return this.serial('upsert', async () => {
      const current = (await this.read(key))?.revision ?? 0;
      if (expectedRevision !== undefined && expectedRevision !== current) throw new RevisionConflictError(key, expectedRevision, current);
      await this.db.put(keys.value(key), encodeValue(current + 1, value.manifest, value.payload), { sync: true });
      return current + 1;
    });
  }

  delete(key: string, expectedRevision?: number): Promise<void> {
    return this.serial('delete', async () => {
      const current = (await this.read(key))?.revision ?? 0;
      if (expectedRevision !== undefined && expectedRevision !== current) throw new RevisionConflictError(key, expectedRevision, current);
      await this.db.del(keys.value(key), { sync: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async read(key: string): Promise<StoredValue | undefined> {
    const record = await this.db.get(keys.value(key));
    return record === undefined ? undefined : decodeValue(record);
  }

  /** One operation at a time, so a check and the write after it see no other change between. */
  private serial<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError('LevelDB key-value store'));
    const run = this.tail.then(fn).catch((err: unknown) => {
      if (err instanceof RevisionConflictError) throw err;
      throw new KeyValueStoreFailureError(`LevelDB key-value ${what} failed: ${describeError(err)}`, { cause: err });
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
