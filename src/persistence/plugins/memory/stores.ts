/**
 * In-memory snapshot and key-value stores: the reference behaviour of those SPIs.
 */
import { RevisionConflictError, StoreClosedError, matchesCriteria } from '../../spi/index.js';
import type { KeyValueStore, SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore, StoredValue } from '../../spi/index.js';
import type { MemoryStorage } from './storage.js';

export class MemorySnapshotStore implements SnapshotStore {
  private closed = false;

  constructor(private readonly storage: MemoryStorage) {}

  async save(metadata: SnapshotMetadata, payload: Uint8Array): Promise<void> {
    this.checkOpen();
    const list = (this.storage.snapshots.get(metadata.persistenceId) ?? []).filter((s) => s.metadata.seqNr !== metadata.seqNr);
    list.push({ metadata: { ...metadata }, payload: Uint8Array.from(payload) });
    list.sort((a, b) => a.metadata.seqNr - b.metadata.seqNr);
    this.storage.snapshots.set(metadata.persistenceId, list);
  }

  async loadLatest(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<SelectedSnapshot | undefined> {
    this.checkOpen();
    const list = this.storage.snapshots.get(persistenceId) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (matchesCriteria(list[i]!.metadata, criteria)) return list[i];
    return undefined;
  }

  async delete(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<void> {
    this.checkOpen();
    const list = this.storage.snapshots.get(persistenceId) ?? [];
    this.storage.snapshots.set(persistenceId, list.filter((s) => !matchesCriteria(s.metadata, criteria)));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('memory snapshot store');
  }
}

export class MemoryKeyValueStore implements KeyValueStore {
  private closed = false;

  constructor(private readonly storage: MemoryStorage) {}

  async get(key: string): Promise<StoredValue | undefined> {
    this.checkOpen();
    return this.storage.values.get(key);
  }

  async upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    this.checkOpen();
    const current = this.storage.values.get(key)?.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== current) throw new RevisionConflictError(key, expectedRevision, current);
    const revision = current + 1;
    this.storage.values.set(key, { payload: Uint8Array.from(value.payload), manifest: value.manifest, revision });
    return revision;
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    this.checkOpen();
    const current = this.storage.values.get(key)?.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== current) throw new RevisionConflictError(key, expectedRevision, current);
    this.storage.values.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('memory key-value store');
  }
}
