/**
 * The Cassandra snapshot store and key-value store. Snapshots are clustered newest first, so
 * the latest matching one is near the top of the id's partition. Values change only through
 * lightweight transactions on their revision, so two nodes cannot both write over the same
 * revision.
 */
import cassandra from 'cassandra-driver';
import { describeError } from '../../../core/index.js';
import { KeyValueStoreFailureError, RevisionConflictError, SnapshotStoreFailureError, StoreClosedError, matchesCriteria } from '../../spi/index.js';
import type { KeyValueStore, SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore, StoredValue } from '../../spi/index.js';

const { consistencies } = cassandra.types;
const num = (v: unknown): number => (v == null ? 0 : typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber());
const MAX = Number.MAX_SAFE_INTEGER;

export class CassandraSnapshotStore implements SnapshotStore {
  private closed = false;

  constructor(
    private readonly client: cassandra.Client,
    private readonly ks: string,
    private readonly consistency: number,
  ) {}

  save(m: SnapshotMetadata, payload: Uint8Array): Promise<void> {
    return this.run('save', async () => {
      await this.client.execute(
        `INSERT INTO ${this.ks}.snapshots (persistence_id, seq_nr, write_timestamp, manifest, payload) VALUES (?, ?, ?, ?, ?)`,
        [m.persistenceId, m.seqNr, Math.trunc(m.timestamp), m.manifest, Buffer.from(payload)],
        { prepare: true, consistency: this.consistency },
      );
    });
  }

  loadLatest(persistenceId: string, criteria: SnapshotSelectionCriteria = {}): Promise<SelectedSnapshot | undefined> {
    return this.run('load', async () => {
      for await (const s of this.matching(persistenceId, criteria)) return s;
      return undefined;
    });
  }

  delete(persistenceId: string, criteria: SnapshotSelectionCriteria = {}): Promise<void> {
    return this.run('delete', async () => {
      for await (const s of this.matching(persistenceId, criteria)) {
        await this.client.execute(`DELETE FROM ${this.ks}.snapshots WHERE persistence_id = ? AND seq_nr = ?`, [persistenceId, s.metadata.seqNr], {
          prepare: true,
          consistency: this.consistency,
        });
      }
    });
  }

  /** Matching snapshots, newest first, read a page at a time. */
  private async *matching(persistenceId: string, c: SnapshotSelectionCriteria): AsyncGenerator<SelectedSnapshot> {
    let pageState: string | undefined;
    do {
      const res = await this.client.execute(
        `SELECT seq_nr, write_timestamp, manifest, payload FROM ${this.ks}.snapshots WHERE persistence_id = ? AND seq_nr <= ? AND seq_nr >= ?`,
        [persistenceId, c.maxSeqNr ?? MAX, c.minSeqNr ?? 0],
        { prepare: true, consistency: this.consistency, fetchSize: 20, ...(pageState ? { pageState } : {}) },
      );
      for (const row of res.rows) {
        const metadata = { persistenceId, seqNr: num(row['seq_nr']), timestamp: num(row['write_timestamp']), manifest: row['manifest'] as string };
        if (matchesCriteria(metadata, c)) yield { metadata, payload: row['payload'] as Buffer };
      }
      pageState = res.pageState ?? undefined;
    } while (pageState);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError('Cassandra snapshot store');
    try {
      return await fn();
    } catch (err) {
      throw new SnapshotStoreFailureError(`Cassandra snapshot ${what} failed: ${describeError(err)}`, { cause: err });
    }
  }
}

export class CassandraKeyValueStore implements KeyValueStore {
  private closed = false;

  constructor(
    private readonly client: cassandra.Client,
    private readonly ks: string,
    private readonly consistency: number,
  ) {}

  get(key: string): Promise<StoredValue | undefined> {
    return this.run('get', () => this.read(key));
  }

  upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    return this.run('upsert', async () => {
      // Without an expected revision, write over whatever is there: read it, then swap (retrying if raced).
      for (let attempt = 0; ; attempt++) {
        const expected = expectedRevision ?? (await this.read(key))?.revision ?? 0;
        const payload = Buffer.from(value.payload);
        const res =
          expected === 0
            ? await this.lwt(`INSERT INTO ${this.ks}.durable_state (persistence_id, revision, manifest, payload) VALUES (?, 1, ?, ?) IF NOT EXISTS`, [key, value.manifest, payload])
            : await this.lwt(`UPDATE ${this.ks}.durable_state SET revision = ?, manifest = ?, payload = ? WHERE persistence_id = ? IF revision = ?`, [expected + 1, value.manifest, payload, key, expected]);
        if (res.applied) return expected + 1;
        if (expectedRevision !== undefined || attempt >= 5) throw new RevisionConflictError(key, expected, res.revision);
      }
    });
  }

  delete(key: string, expectedRevision?: number): Promise<void> {
    return this.run('delete', async () => {
      if (expectedRevision === undefined) {
        await this.client.execute(`DELETE FROM ${this.ks}.durable_state WHERE persistence_id = ? IF EXISTS`, [key], { prepare: true, serialConsistency: consistencies.localSerial, consistency: this.consistency });
        return;
      }
      if (expectedRevision === 0) {
        const current = (await this.read(key))?.revision ?? 0;
        if (current !== 0) throw new RevisionConflictError(key, 0, current);
        return;
      }
      const res = await this.lwt(`DELETE FROM ${this.ks}.durable_state WHERE persistence_id = ? IF revision = ?`, [key, expectedRevision]);
      if (!res.applied) throw new RevisionConflictError(key, expectedRevision, res.revision);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async read(key: string): Promise<StoredValue | undefined> {
    const res = await this.client.execute(`SELECT revision, manifest, payload FROM ${this.ks}.durable_state WHERE persistence_id = ?`, [key], {
      prepare: true,
      consistency: consistencies.localSerial,
    });
    const row = res.first();
    return row ? { revision: num(row['revision']), manifest: row['manifest'] as string, payload: row['payload'] as Buffer } : undefined;
  }

  private async lwt(query: string, params: unknown[]): Promise<{ applied: boolean; revision: number }> {
    const res = await this.client.execute(query, params, { prepare: true, consistency: this.consistency, serialConsistency: consistencies.localSerial });
    const row = res.first();
    return { applied: row?.['[applied]'] === true, revision: num(row?.['revision']) };
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError('Cassandra key-value store');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RevisionConflictError) throw err;
      throw new KeyValueStoreFailureError(`Cassandra key-value ${what} failed: ${describeError(err)}`, { cause: err });
    }
  }
}
