/**
 * Creates the Postgres plugin's tables from code: on first use when the plugin opens, or ahead
 * of time by an operator with `createPostgresSchema(url)`. Idempotent and safe when several
 * nodes start at once: when every table and index exists nothing is run (so an application
 * role without CREATE privilege can open the plugin over tables an operator made), otherwise
 * the DDL runs in one transaction under an advisory lock, because concurrent
 * CREATE TABLE IF NOT EXISTS can still fail on a race in the catalog.
 */
import pg from 'pg';
import { checkSchemaName, RELATIONS, tablesDdl } from './schema.js';

/** An arbitrary, fixed advisory-lock key for schema creation ("CSPC"). */
const SCHEMA_LOCK = 0x43535043;

/**
 * Creates the schema, tables and indexes that are missing; does nothing when all exist. Takes
 * a pool (a connection is borrowed) or a connection string (a client is opened and closed).
 * Safe to run from several processes at once. Rejects with the driver's error.
 */
export async function createPostgresSchema(target: pg.Pool | string, schema = 'public'): Promise<void> {
  const s = checkSchemaName(schema);
  const owned = typeof target === 'string';
  const client: pg.Client | pg.PoolClient = owned ? new pg.Client({ connectionString: target }) : await target.connect();
  // A connection that dies while borrowed emits 'error'; the failing query reports it.
  const ignore = () => undefined;
  client.on('error', ignore);
  let broken: unknown;
  let inTransaction = false;
  try {
    if (owned) await client.connect();
    if (await allExist(client, s)) return;
    await client.query('BEGIN');
    inTransaction = true;
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    const { rows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [s]);
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists.
    if (rows.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(tablesDdl(s));
    await client.query('COMMIT');
  } catch (err) {
    broken = err;
    if (inTransaction) await client.query('ROLLBACK').catch(ignore);
    throw err;
  } finally {
    if (owned) {
      await client.end().catch(ignore);
    } else {
      client.removeListener('error', ignore); // the pool listens again once it is released
      (client as pg.PoolClient).release(broken !== undefined); // after an error, do not reuse the connection
    }
  }
}

async function allExist(client: pg.ClientBase, s: string): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM unnest($1::text[]) AS r(name) WHERE to_regclass(r.name) IS NOT NULL',
    [RELATIONS.map((r) => `${s}.${r}`)],
  );
  return rows[0]?.n === RELATIONS.length;
}
