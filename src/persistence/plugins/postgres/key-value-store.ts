/**
 * The Postgres key-value store (value entities) over the `durable_state` table, one row per
 * key with its revision. Every check-and-set is a single conditional statement, so two nodes
 * writing one key cannot both succeed against the same revision:
 *
 * - no expected revision: INSERT … ON CONFLICT DO UPDATE SET revision = revision + 1;
 * - expected 0 (the key must hold no value): INSERT … ON CONFLICT DO NOTHING;
 * - expected n: UPDATE … WHERE revision = n.
 *
 * When the statement changed nothing, the stored revision is read only to name it in the
 * `RevisionConflictError`; the decision was already made atomically. The statements are named,
 * so each connection parses and plans them once.
 */
import type pg from 'pg';
import { KeyValueStoreFailureError, RevisionConflictError, StoreClosedError } from '../../spi/index.js';
import type { KeyValueStore, StoredValue } from '../../spi/index.js';
import { isStorableText } from './append.js';
import { namedStatement, runQuery, type NamedStatement } from './errors.js';

const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** Values of one schema; errors are `KeyValueStoreFailureError` with the driver error as cause. */
export class PostgresKeyValueStore implements KeyValueStore {
  private closed = false;
  private readonly sql: Record<'get' | 'upsert' | 'insertNew' | 'updateAt' | 'delete' | 'deleteAt', NamedStatement>;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    const table = `${schema}.durable_state`;
    const named = (name: string, text: string) => namedStatement(table, name, text);
    this.sql = {
      get: named('get', `SELECT revision, manifest, payload FROM ${table} WHERE persistence_id = $1`),
      upsert: named(
        'upsert',
        `INSERT INTO ${table} AS t (persistence_id, revision, manifest, payload) VALUES ($1, 1, $2, $3)
         ON CONFLICT (persistence_id) DO UPDATE SET revision = t.revision + 1, manifest = EXCLUDED.manifest, payload = EXCLUDED.payload
         RETURNING revision`,
      ),
      insertNew: named(
        'insert-new',
        `INSERT INTO ${table} (persistence_id, revision, manifest, payload) VALUES ($1, 1, $2, $3)
         ON CONFLICT (persistence_id) DO NOTHING RETURNING revision`,
      ),
      updateAt: named(
        'update-at',
        `UPDATE ${table} SET revision = revision + 1, manifest = $2, payload = $3
         WHERE persistence_id = $1 AND revision = $4 RETURNING revision`,
      ),
      delete: named('delete', `DELETE FROM ${table} WHERE persistence_id = $1`),
      deleteAt: named('delete-at', `DELETE FROM ${table} WHERE persistence_id = $1 AND revision = $2`),
    };
  }

  /** The value under `key`, or undefined. */
  async get(key: string): Promise<StoredValue | undefined> {
    if (!isStorableText(key)) return this.checkOpen(); // never stored (see upsert)
    const { rows } = await this.query<{ revision: string; manifest: string; payload: Buffer }>('get', this.sql.get, [key]);
    const r = rows[0];
    return r && { revision: Number(r.revision), manifest: r.manifest, payload: r.payload };
  }

  /** Stores the value and resolves to its new revision (1 on first); see the module comment. */
  async upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    if (!isStorableText(key) || !isStorableText(value.manifest)) {
      throw new KeyValueStoreFailureError(`value for ${JSON.stringify(key)} not stored: its key or manifest has a NUL character or a lone surrogate, which PostgreSQL text cannot hold`);
    }
    const params: unknown[] = [key, value.manifest, bytes(value.payload)];
    if (expectedRevision !== undefined && expectedRevision !== 0) params.push(expectedRevision);
    const sql = expectedRevision === undefined ? this.sql.upsert : expectedRevision === 0 ? this.sql.insertNew : this.sql.updateAt;
    const { rows } = await this.query<{ revision: string }>('upsert', sql, params);
    if (rows[0]) return Number(rows[0].revision);
    throw new RevisionConflictError(key, expectedRevision ?? 0, await this.revisionOf(key));
  }

  /** Removes the value; with `expectedRevision`, only if the stored revision is that one (0: no value). */
  async delete(key: string, expectedRevision?: number): Promise<void> {
    if (expectedRevision === 0) {
      // "Must hold no value": nothing to delete, or a conflict.
      const actual = await this.revisionOf(key);
      if (actual !== 0) throw new RevisionConflictError(key, 0, actual);
      return;
    }
    if (!isStorableText(key)) {
      this.checkOpen();
      if (expectedRevision !== undefined) throw new RevisionConflictError(key, expectedRevision, 0);
      return;
    }
    const { rowCount } =
      expectedRevision === undefined
        ? await this.query('delete', this.sql.delete, [key])
        : await this.query('delete', this.sql.deleteAt, [key, expectedRevision]);
    if (expectedRevision !== undefined && rowCount === 0) throw new RevisionConflictError(key, expectedRevision, await this.revisionOf(key));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async revisionOf(key: string): Promise<number> {
    return (await this.get(key))?.revision ?? 0;
  }

  private checkOpen(): undefined {
    if (this.closed) throw new StoreClosedError('Postgres key-value store');
    return undefined;
  }

  private query<R extends pg.QueryResultRow>(what: string, sql: NamedStatement, params: unknown[]): Promise<pg.QueryResult<R>> {
    this.checkOpen();
    return runQuery<R>(this.pool, (m, cause) => new KeyValueStoreFailureError(m, { cause }), `key-value ${what}`, sql, params);
  }
}
