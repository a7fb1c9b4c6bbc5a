/**
 * The Postgres snapshot store and key-value store. Key-value check-and-set is a single
 * conditional statement (INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE revision = $n), so
 * two nodes writing one key cannot both succeed against the same revision.
 */
import type pg from 'pg';
import { KeyValueStoreFailureError, RevisionConflictError, SnapshotStoreFailureError, StoreClosedError } from '../../spi/index.js';
import type { KeyValueStore, SelectedSnapshot, SnapshotMetadata, SnapshotSelectionCriteria, SnapshotStore, StoredValue } from '../../spi/index.js';
import { failureMessage } from './errors.js';

const MAX = Number.MAX_SAFE_INTEGER;
const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The criteria as four SQL parameters, absent bounds replaced by the widest. */
const bounds = (c: SnapshotSelectionCriteria = {}) => [c.maxSeqNr ?? MAX, c.minSeqNr ?? 0, c.maxTimestamp ?? MAX, c.minTimestamp ?? -MAX];

async function run<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  fail: (message: string, cause: unknown) => Error,
  what: string,
  sql: string,
  params: unknown[],
): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(sql, params);
  } catch (err) {
    throw fail(failureMessage(what, err), err);
  }
}

export class PostgresSnapshotStore implements SnapshotStore {
  private closed = false;
  private readonly table: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.table = `${schema}.snapshot`;
  }

  async save(m: SnapshotMetadata, payload: Uint8Array): Promise<void> {
    await this.query(
      'snapshot save',
      `INSERT INTO ${this.table} (persistence_id, seq_nr, write_timestamp, manifest, payload) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (persistence_id, seq_nr) DO UPDATE SET write_timestamp = EXCLUDED.write_timestamp, manifest = EXCLUDED.manifest, payload = EXCLUDED.payload`,
      [m.persistenceId, m.seqNr, Math.trunc(m.timestamp), m.manifest, bytes(payload)],
    );
  }

  async loadLatest(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<SelectedSnapshot | undefined> {
    const { rows } = await this.query<{ seq_nr: string; write_timestamp: string; manifest: string; payload: Buffer }>(
      'snapshot load',
      `SELECT seq_nr, write_timestamp, manifest, payload FROM ${this.table}
       WHERE persistence_id = $1 AND seq_nr <= $2 AND seq_nr >= $3 AND write_timestamp <= $4 AND write_timestamp >= $5
       ORDER BY seq_nr DESC LIMIT 1`,
      [persistenceId, ...bounds(criteria)],
    );
    const r = rows[0];
    if (!r) return undefined;
    return { metadata: { persistenceId, seqNr: Number(r.seq_nr), timestamp: Number(r.write_timestamp), manifest: r.manifest }, payload: r.payload };
  }

  async delete(persistenceId: string, criteria?: SnapshotSelectionCriteria): Promise<void> {
    await this.query(
      'snapshot delete',
      `DELETE FROM ${this.table} WHERE persistence_id = $1 AND seq_nr <= $2 AND seq_nr >= $3 AND write_timestamp <= $4 AND write_timestamp >= $5`,
      [persistenceId, ...bounds(criteria)],
    );
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]) {
    if (this.closed) return Promise.reject(new StoreClosedError('Postgres snapshot store'));
    return run<R>(this.pool, (m, cause) => new SnapshotStoreFailureError(m, { cause }), what, sql, params);
  }
}

export class PostgresKeyValueStore implements KeyValueStore {
  private closed = false;
  private readonly table: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.table = `${schema}.durable_state`;
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const { rows } = await this.query<{ revision: string; manifest: string; payload: Buffer }>(
      'get',
      `SELECT revision, manifest, payload FROM ${this.table} WHERE persistence_id = $1`,
      [key],
    );
    const r = rows[0];
    return r && { revision: Number(r.revision), manifest: r.manifest, payload: r.payload };
  }

  async upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    const params = [key, value.manifest, bytes(value.payload)];
    const { rows } =
      expectedRevision === undefined
        ? await this.query<{ revision: string }>(
            'upsert',
            `INSERT INTO ${this.table} AS t (persistence_id, revision, manifest, payload) VALUES ($1, 1, $2, $3)
             ON CONFLICT (persistence_id) DO UPDATE SET revision = t.revision + 1, manifest = EXCLUDED.manifest, payload = EXCLUDED.payload
             RETURNING revision`,
            params,
          )
        : expectedRevision === 0
          ? await this.query<{ revision: string }>(
              'upsert',
              `INSERT INTO ${this.table} (persistence_id, revision, manifest, payload) VALUES ($1, 1, $2, $3) ON CONFLICT DO NOTHING RETURNING revision`,
              params,
            )
          : await this.query<{ revision: string }>(
              'upsert',
              `UPDATE ${this.table} SET revision = revision + 1, manifest = $2, payload = $3 WHERE persistence_id = $1 AND revision = $4 RETURNING revision`,
              [...params, expectedRevision],
            );
    if (rows[0]) return Number(rows[0].revision);
    throw new RevisionConflictError(key, expectedRevision!, (await this.get(key))?.revision ?? 0);
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    if (expectedRevision === undefined) {
      await this.query('delete', `DELETE FROM ${this.table} WHERE persistence_id = $1`, [key]);
      return;
    }
    const current = expectedRevision === 0 ? (await this.get(key))?.revision ?? 0 : undefined;
    if (current !== undefined) {
      if (current !== 0) throw new RevisionConflictError(key, 0, current);
      return;
    }
    const { rowCount } = await this.query('delete', `DELETE FROM ${this.table} WHERE persistence_id = $1 AND revision = $2`, [key, expectedRevision]);
    if (rowCount === 0) throw new RevisionConflictError(key, expectedRevision, (await this.get(key))?.revision ?? 0);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]) {
    if (this.closed) return Promise.reject(new StoreClosedError('Postgres key-value store'));
    return run<R>(this.pool, (m, cause) => new KeyValueStoreFailureError(m, { cause }), `key-value ${what}`, sql, params);
  }
}
