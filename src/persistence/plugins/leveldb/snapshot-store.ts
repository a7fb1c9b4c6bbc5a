/**
 * The LevelDB snapshot store, in the same database as the journal. Snapshots are keyed by
 * (persistence id, seqNr), so the latest one is found by reading the id's range backwards.
 * Saves and deletes go through one queue (the SPI's `Batcher`), in call order: the saves that
 * arrive while a write is under way are written together in the next batch, which spares each
 * its own trip through LevelDB's thread pool (the cart saves a snapshot every 5 commands).
 */
import { describeError, toError } from '../../../core/index.js';
import { Batcher, SnapshotStoreFailureError, StoreClosedError, matchesCriteria } from '../../spi/index.js';
import type { SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore } from '../../spi/index.js';
import { decodeSnapshot, encodeSnapshot } from './codec.js';
import { scan } from './db.js';
import type { Db } from './db.js';
import { keys, seqNrOfKey } from './keys.js';
import { LatestSnapshots } from './latest-snapshots.js';

type Change =
  | { readonly save: { readonly metadata: SnapshotMetadata; readonly payload: Uint8Array } }
  | { readonly delete: { readonly persistenceId: string; readonly criteria: SnapshotSelectionCriteria } };

export class LevelDbSnapshotStore implements SnapshotStore {
  private closed = false;
  /** The latest snapshot of recently used ids: a recovery then reads nothing (./latest-snapshots.ts). */
  private readonly latest = new LatestSnapshots();
  private readonly writer: Batcher<Change, void>;

  constructor(private readonly db: Db) {
    this.writer = new Batcher((changes) => this.write(changes), { bytesOf: (c) => ('save' in c ? c.save.payload.byteLength : 0) });
  }

  /**
   * Written without its own fsync: a snapshot only shortens recovery (the events it covers are
   * already durable), and LevelDB's log is sequential, so the next synced write (the id's next
   * events, or a deleteTo of the events it covers) makes it durable too. A crash before then
   * loses the snapshot, never state. An fsync here would be a second one on the command's path.
   */
  async save(metadata: SnapshotMetadata, payload: Uint8Array): Promise<void> {
    await this.run('save', () => this.writer.submit({ save: { metadata, payload } }));
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
    return this.run('delete', () => this.writer.submit({ delete: { persistenceId, criteria } })).finally(() => this.latest.deleted(persistenceId));
  }

  /** The queue's changes in order: runs of saves as one unsynced batch each, deletes one by one in between. */
  private async write(changes: Change[]): Promise<(void | Error)[]> {
    const outcomes: (void | Error)[] = [];
    let saves: [string, Uint8Array][] = [];
    const flush = async () => {
      if (saves.length === 0) return;
      const batch = this.db.batch();
      for (const [key, value] of saves) batch.put(key, value);
      const outcome = await batch.write().then(() => undefined, toError);
      for (let i = 0; i < saves.length; i++) outcomes.push(outcome);
      saves = [];
    };
    for (const change of changes) {
      if ('save' in change) {
        const { metadata: m, payload } = change.save;
        saves.push([keys.snapshot(m.persistenceId, m.seqNr), encodeSnapshot(m.timestamp, m.manifest, payload)]);
        continue;
      }
      await flush();
      outcomes.push(await this.deleteNow(change.delete.persistenceId, change.delete.criteria).catch(toError));
    }
    await flush();
    return outcomes;
  }

  private async deleteNow(persistenceId: string, criteria: SnapshotSelectionCriteria): Promise<void> {
    const batch = this.db.batch();
    const range = keys.snapshotRange(persistenceId, criteria.minSeqNr ?? 0, criteria.maxSeqNr ?? Number.MAX_SAFE_INTEGER);
    for await (const [key, value] of scan(this.db, range)) {
      const { timestamp, manifest } = decodeSnapshot(value);
      if (matchesCriteria({ persistenceId, seqNr: seqNrOfKey(key), timestamp, manifest }, criteria)) batch.del(key);
    }
    if (batch.length > 0) await batch.write({ sync: true });
    else await batch.close();
  }

  /** Stops taking operations, then waits for the queued ones to be written. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writer.whenIdle();
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
