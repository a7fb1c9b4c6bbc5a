/**
 * The Postgres snapshot store over the `snapshot` table, primary key (persistence_id, seq_nr).
 * Saving is an upsert (a snapshot at the same seqNr replaces the old one); loading takes the
 * highest seqNr inside the criteria with one backward index scan; deleting removes every
 * matching row. Criteria bounds are inclusive and passed as parameters, an absent bound being
 * the widest value, so there is one statement per operation and no SQL built from values.
 * Save and load, the statements of every recovery and snapshot, are named: each connection
 * parses and plans them once.
 */
import type pg from 'pg';
import { SnapshotStoreFailureError, StoreClosedError } from '../../spi/index.js';
import type { SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore } from '../../spi/index.js';
import { isStorableText } from './append.js';
import { namedStatement, runQuery, type NamedStatement } from './errors.js';

const MAX = Number.MAX_SAFE_INTEGER;
const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The criteria as four SQL parameters ($2–$5), absent bounds replaced by the widest. */
const bounds = (c: SnapshotSelectionCriteria = {}) => [c.maxSeqNr ?? MAX, c.minSeqNr ?? 0, c.maxTimestamp ?? MAX, c.minTimestamp ?? -MAX];
const MATCHES = 'persistence_id = $1 AND seq_nr <= $2 AND seq_nr >= $3 AND write_timestamp <= $4 AND write_timestamp >= $5';

/** Snapshots of one schema; errors are `SnapshotStoreFailureError` with the driver error as cause. */
export class PostgresSnapshotStore implements SnapshotStore {
  private closed = false;
  private readonly table: string;
  private readonly saveSql: NamedStatement;
  private readonly loadSql: NamedStatement;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.table = `${schema}.snapshot`;
    this.saveSql = namedStatement(
      this.table,
      'save',
      `INSERT INTO ${this.table} (persistence_id, seq_nr, write_timestamp, manifest, payload) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (persistence_id, seq_nr) DO UPDATE SET write_timestamp = EXCLUDED.write_timestamp, manifest = EXCLUDED.manifest, payload = EXCLUDED.payload`,
    );
    this.loadSql = namedStatement(this.table, 'load-latest', `SELECT seq_nr, write_timestamp, manifest, payload FROM ${this.table} WHERE ${MATCHES} ORDER BY seq_nr DESC LIMIT 1`);
  }

  /** Upserts the snapshot at (persistenceId, seqNr). */
  async save(m: SnapshotMetadata, payload: Uint8Array): Promise<void> {
    if (!isStorableText(m.persistenceId) || !isStorableText(m.manifest)) {
      throw new SnapshotStoreFailureError(`snapshot of ${JSON.stringify(m.persistenceId)} not saved: its id or manifest has a NUL character or a lone surrogate, which PostgreSQL text cannot hold`);
    }
    if (!Number.isSafeInteger(Math.trunc(m.timestamp))) throw new SnapshotStoreFailureError(`snapshot timestamp ${m.timestamp} is not a storable number of milliseconds`);
    await this.query('snapshot save', this.saveSql, [m.persistenceId, m.seqNr, Math.trunc(m.timestamp), m.manifest, bytes(payload)]);
  }

  /** The matching snapshot with the highest seqNr, or undefined. */
  async loadLatest(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<SelectedSnapshot | undefined> {
    if (!isStorableText(persistenceId)) return this.checkOpen();
    const { rows } = await this.query<{ seq_nr: string; write_timestamp: string; manifest: string; payload: Buffer }>('snapshot load', this.loadSql, [persistenceId, ...bounds(criteria)]);
    const r = rows[0];
    if (!r) return undefined;
    return { metadata: { persistenceId, seqNr: Number(r.seq_nr), timestamp: Number(r.write_timestamp), manifest: r.manifest }, payload: r.payload };
  }

  /** Deletes every matching snapshot of the id. */
  async delete(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<void> {
    if (!isStorableText(persistenceId)) return this.checkOpen();
    await this.query('snapshot delete', `DELETE FROM ${this.table} WHERE ${MATCHES}`, [persistenceId, ...bounds(criteria)]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): undefined {
    if (this.closed) throw new StoreClosedError('Postgres snapshot store');
    return undefined;
  }

  private query<R extends pg.QueryResultRow>(what: string, sql: string | NamedStatement, params: unknown[]): Promise<pg.QueryResult<R>> {
    this.checkOpen();
    return runQuery<R>(this.pool, (m, cause) => new SnapshotStoreFailureError(m, { cause }), what, sql, params);
  }
}
