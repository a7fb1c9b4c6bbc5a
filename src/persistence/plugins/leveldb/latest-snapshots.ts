/**
 * The latest snapshot of recently used persistence ids, kept by the LevelDB snapshot store so a
 * recovery (an entity started again after passivation, a hand-off) needs no read: LevelDB finds
 * the latest snapshot with a reverse scan, its slowest read, and a burst of recoveries queued
 * them behind the journal's synced writes. Exact, not a guess: only this process writes the
 * directory (LevelDB's lock), and every save and delete goes through the store that owns this.
 *
 * What is known of an id: its latest snapshot, or that it has none (`null`); nothing (absent)
 * means "read storage". A save newer than (or as new as) the known latest replaces it; a save of
 * an older seqNr changes nothing; a delete forgets the id. A read caches what it found only when
 * it looked for the latest without criteria and no save or delete of the id happened meanwhile
 * (`version`, `found`). Bounded: least recently used ids go first; payloads over `maxPayloadBytes` are
 * not kept (the id is then read from storage). Payloads are copied in, and shared with callers
 * from then on: read only.
 */
import type { SelectedSnapshot } from '../../spi/index.js';
import { LruMap } from './lru.js';

export interface LatestSnapshotsOptions {
  /** Ids kept (default 10,000). */
  maxEntries?: number;
  /** Larger payloads are not kept (default 64 KiB). */
  maxPayloadBytes?: number;
}

export class LatestSnapshots {
  private readonly known: LruMap<string, SelectedSnapshot | null>;
  /** Counts saves and deletes; `lastWrite` holds its value at each id's last one. */
  private counter = 0;
  private readonly lastWrite = new Map<string, number>();
  /** `lastWrite` was emptied at this count: reads that began before it do not cache. */
  private clearedAt = 0;
  private readonly maxEntries: number;
  private readonly maxPayloadBytes: number;

  constructor(options: LatestSnapshotsOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 64 * 1024;
    this.known = new LruMap(this.maxEntries);
  }

  /** The latest snapshot (`null`: none), or undefined when storage must be read. */
  get(persistenceId: string): SelectedSnapshot | null | undefined {
    return this.known.get(persistenceId);
  }

  /** A token to take before reading storage and pass to `found` after. */
  version(): number {
    return this.counter;
  }

  /** What a read of the latest (no criteria) found, if the id was not written since `version`. */
  found(persistenceId: string, version: number, latest: SelectedSnapshot | undefined): void {
    if (version < this.clearedAt || (this.lastWrite.get(persistenceId) ?? 0) > version) return;
    this.remember(persistenceId, latest ?? null);
  }

  /** A snapshot was stored. */
  saved(snapshot: SelectedSnapshot): void {
    const id = snapshot.metadata.persistenceId;
    this.bump(id);
    const entry = this.known.get(id);
    if (entry === undefined) return; // the latest is not known: it may be newer still
    if (entry === null || snapshot.metadata.seqNr >= entry.metadata.seqNr) this.remember(id, snapshot);
  }

  /** Some snapshots of the id were deleted. */
  deleted(persistenceId: string): void {
    this.bump(persistenceId);
    this.known.delete(persistenceId);
  }

  private bump(persistenceId: string): void {
    this.lastWrite.set(persistenceId, ++this.counter);
    if (this.lastWrite.size > 4 * this.maxEntries) {
      this.lastWrite.clear();
      this.clearedAt = this.counter;
    }
  }

  private remember(persistenceId: string, entry: SelectedSnapshot | null): void {
    this.known.delete(persistenceId);
    if (entry !== null && entry.payload.byteLength > this.maxPayloadBytes) return;
    // A copy: the payload may be a view of a much larger buffer (a network read), which the
    // cache would otherwise keep alive.
    this.known.set(persistenceId, entry === null ? null : { metadata: entry.metadata, payload: new Uint8Array(entry.payload) });
  }
}
