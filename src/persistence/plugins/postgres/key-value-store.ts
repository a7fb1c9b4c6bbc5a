/**
 * The Postgres key-value store (value entities) over the `durable_state` table, one row per
 * key with its revision, with group commit: the changes that arrive while a statement runs go
 * together in the next one (the SPI's `Batcher`, one change per key per batch, a key's changes
 * in call order), one round trip and one commit for all of them.
 *
 * Every check-and-set is made by the statement itself, row by row, so two nodes writing one key
 * cannot both succeed against the same revision. The batch statement has one part per kind:
 *
 * - no expected revision: INSERT … ON CONFLICT DO UPDATE SET revision = revision + 1;
 * - expected 0 (the key must hold no value): INSERT … ON CONFLICT DO NOTHING;
 * - expected n: UPDATE … WHERE revision = n.
 *
 * A change the statement did not apply is a `RevisionConflictError`; the stored revision is
 * then read only to name it. Should the batch statement fail on a lock conflict with another
 * node's (a deadlock or serialization failure), its changes are made again one statement each.
 * Deletes are single statements, run beside the batch (a batch has one change per key). The
 * statements are named, so each connection parses and plans them once.
 */
import type pg from 'pg';
import { toError } from '../../../core/index.js';
import { Batcher, KeyValueStoreFailureError, RevisionConflictError, StoreClosedError, keyValueChangeBytes } from '../../spi/index.js';
import type { KeyValueChange, KeyValueStore, StoredValue } from '../../spi/index.js';
import { isStorableText } from './append.js';
import { namedStatement, runQuery, sqlState, type NamedStatement } from './errors.js';

const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
/** SQLSTATEs of a statement that lost a lock conflict and may simply be run again. */
const LOCK_CONFLICT = new Set(['40P01', '40001']);

type Statements = Record<'get' | 'revisions' | 'upsertBatch' | 'upsert' | 'insertNew' | 'updateAt' | 'delete' | 'deleteAt', NamedStatement>;

function statements(table: string): Statements {
  const named = (name: string, text: string) => namedStatement(table, name, text);
  return {
    get: named('get', `SELECT revision, manifest, payload FROM ${table} WHERE persistence_id = $1`),
    revisions: named('revisions', `SELECT persistence_id, revision FROM ${table} WHERE persistence_id = ANY($1::text[])`),
    // $2 holds each change's expected revision, NULL for none. Every key appears once, so no
    // row is touched by two parts.
    upsertBatch: named(
      'upsert-batch',
      `WITH i AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[]) AS i(persistence_id, expected, manifest, payload)),
       updated AS (
         UPDATE ${table} AS t SET revision = t.revision + 1, manifest = i.manifest, payload = i.payload
         FROM i WHERE i.expected > 0 AND t.persistence_id = i.persistence_id AND t.revision = i.expected
         RETURNING t.persistence_id, t.revision),
       created AS (
         INSERT INTO ${table} (persistence_id, revision, manifest, payload)
         SELECT persistence_id, 1, manifest, payload FROM i WHERE i.expected = 0
         ON CONFLICT (persistence_id) DO NOTHING
         RETURNING persistence_id, revision),
       upserted AS (
         INSERT INTO ${table} AS t (persistence_id, revision, manifest, payload)
         SELECT persistence_id, 1, manifest, payload FROM i WHERE i.expected IS NULL
         ON CONFLICT (persistence_id) DO UPDATE SET revision = t.revision + 1, manifest = EXCLUDED.manifest, payload = EXCLUDED.payload
         RETURNING persistence_id, revision)
       SELECT persistence_id, revision FROM updated UNION ALL SELECT persistence_id, revision FROM created UNION ALL SELECT persistence_id, revision FROM upserted`,
    ),
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

/** Values of one schema; errors are `KeyValueStoreFailureError` with the driver error as cause. */
export class PostgresKeyValueStore implements KeyValueStore {
  private closed = false;
  private readonly sql: Statements;
  private readonly writer: Batcher<KeyValueChange, number>;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.sql = statements(`${schema}.durable_state`);
    this.writer = new Batcher((changes) => this.writeChanges(changes), { keyOf: (c) => c.key, maxItems: 500, bytesOf: keyValueChangeBytes });
  }

  /** The value under `key`, or undefined; waits for this store's queued changes of the key. */
  async get(key: string): Promise<StoredValue | undefined> {
    this.checkOpen();
    if (!isStorableText(key)) return undefined; // never stored (see upsert)
    await this.writer.pending(key);
    const { rows } = await this.query<{ revision: string; manifest: string; payload: Buffer }>('get', this.sql.get, [key]);
    const r = rows[0];
    return r && { revision: Number(r.revision), manifest: r.manifest, payload: r.payload };
  }

  /** Stores the value and resolves to its new revision (1 on first); see the module comment. */
  async upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number> {
    if (!isStorableText(key) || !isStorableText(value.manifest)) {
      throw new KeyValueStoreFailureError(`value for ${JSON.stringify(key)} not stored: its key or manifest has a NUL character or a lone surrogate, which PostgreSQL text cannot hold`);
    }
    this.checkOpen();
    return this.writer.submit({ key, value, expectedRevision });
  }

  /** Removes the value; with `expectedRevision`, only if the stored revision is that one (0: no value). */
  async delete(key: string, expectedRevision?: number): Promise<void> {
    this.checkOpen();
    if (!isStorableText(key)) {
      if (expectedRevision !== undefined && expectedRevision !== 0) throw new RevisionConflictError(key, expectedRevision, 0);
      return;
    }
    await this.writer.submit({ key, value: undefined, expectedRevision });
  }

  /** Stops taking changes, then waits for the queued ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writer.whenIdle();
  }

  /** One batch: the upserts in one statement, each delete in its own beside it. One outcome per change. */
  private async writeChanges(changes: KeyValueChange[]): Promise<(number | Error)[]> {
    const upserts = changes.filter((c) => c.value !== undefined);
    const [upserted, deleted] = await Promise.all([
      this.upsertBatch(upserts),
      Promise.all(changes.filter((c) => c.value === undefined).map((c) => this.deleteOne(c).then(() => 0, toError))),
    ]);
    let u = 0;
    let d = 0;
    return changes.map((c) => (c.value !== undefined ? upserted[u++]! : deleted[d++]!));
  }

  private async upsertBatch(upserts: KeyValueChange[]): Promise<(number | Error)[]> {
    if (upserts.length === 0) return [];
    if (upserts.length === 1) return [await this.upsertOne(upserts[0]!).catch(toError)];
    let rows: { persistence_id: string; revision: string }[];
    try {
      ({ rows } = await this.query<{ persistence_id: string; revision: string }>('upsert', this.sql.upsertBatch, [
        upserts.map((c) => c.key),
        upserts.map((c) => c.expectedRevision ?? null),
        upserts.map((c) => c.value!.manifest),
        upserts.map((c) => bytes(c.value!.payload)),
      ]));
    } catch (err) {
      // `query` keeps the driver's error as the cause.
      if (LOCK_CONFLICT.has(sqlState((err as Error).cause) ?? '')) return Promise.all(upserts.map((c) => this.upsertOne(c).catch(toError)));
      return upserts.map(() => toError(err));
    }
    const applied = new Map(rows.map((r) => [r.persistence_id, Number(r.revision)]));
    const missed = upserts.filter((c) => !applied.has(c.key)).map((c) => c.key);
    const stored = missed.length > 0 ? await this.revisions(missed).catch(toError) : new Map<string, number>();
    return upserts.map((c) => {
      const revision = applied.get(c.key);
      if (revision !== undefined) return revision;
      if (stored instanceof Error) return stored;
      return new RevisionConflictError(c.key, c.expectedRevision ?? 0, stored.get(c.key) ?? 0);
    });
  }

  /** One upsert as its own statement (a batch of one, or after a lock conflict). */
  private async upsertOne({ key, value, expectedRevision }: KeyValueChange): Promise<number> {
    const params: unknown[] = [key, value!.manifest, bytes(value!.payload)];
    if (expectedRevision !== undefined && expectedRevision !== 0) params.push(expectedRevision);
    const sql = expectedRevision === undefined ? this.sql.upsert : expectedRevision === 0 ? this.sql.insertNew : this.sql.updateAt;
    const { rows } = await this.query<{ revision: string }>('upsert', sql, params);
    if (rows[0]) return Number(rows[0].revision);
    throw new RevisionConflictError(key, expectedRevision ?? 0, await this.revisionOf(key));
  }

  private async deleteOne({ key, expectedRevision }: KeyValueChange): Promise<void> {
    if (expectedRevision === 0) {
      // "Must hold no value": nothing to delete, or a conflict.
      const actual = await this.revisionOf(key);
      if (actual !== 0) throw new RevisionConflictError(key, 0, actual);
      return;
    }
    const { rowCount } =
      expectedRevision === undefined
        ? await this.query('delete', this.sql.delete, [key])
        : await this.query('delete', this.sql.deleteAt, [key, expectedRevision]);
    if (expectedRevision !== undefined && rowCount === 0) throw new RevisionConflictError(key, expectedRevision, await this.revisionOf(key));
  }

  /** The stored revision (0: no value), read now: for naming a conflict inside a batch, which `get` would wait for. */
  private async revisionOf(key: string): Promise<number> {
    return (await this.revisions([key])).get(key) ?? 0;
  }

  private async revisions(keys: string[]): Promise<Map<string, number>> {
    const { rows } = await this.query<{ persistence_id: string; revision: string }>('revision read', this.sql.revisions, [keys]);
    return new Map(rows.map((r) => [r.persistence_id, Number(r.revision)]));
  }

  private checkOpen(): undefined {
    if (this.closed) throw new StoreClosedError('Postgres key-value store');
    return undefined;
  }

  private query<R extends pg.QueryResultRow>(what: string, sql: NamedStatement, params: unknown[]): Promise<pg.QueryResult<R>> {
    return runQuery<R>(this.pool, (m, cause) => new KeyValueStoreFailureError(m, { cause }), `key-value ${what}`, sql, params);
  }
}
