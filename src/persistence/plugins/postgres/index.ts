/**
 * The Postgres storage plugin: for clusters whose nodes share one database. A `pg` pool shared
 * by the journal, snapshot store and key-value store; parameterized SQL only (the one name
 * written into SQL, the schema, is validated); tables created on first use (or ahead of time
 * with `createPostgresSchema`, or `schemaDdl` and psql); durable commits (`synchronous_commit`
 * is left as the server has it, on by default). When the server goes away, the calls in flight fail with
 * an error saying the database is unreachable, an idle connection dying never crashes the
 * process, and the pool opens new connections once the server is back.
 */
import pg from 'pg';
import { createLogger, describeError } from '../../../core/index.js';
import type { Logger } from '../../../core/index.js';
import { JournalFailureError } from '../../spi/index.js';
import type { StoragePlugin } from '../../spi/index.js';
import { createPostgresSchema } from './create-schema.js';
import { failureMessage } from './errors.js';
import { PostgresJournal } from './journal.js';
import { PostgresKeyValueStore } from './key-value-store.js';
import { checkSchemaName } from './schema.js';
import { PostgresSnapshotStore } from './snapshot-store.js';

export { createPostgresSchema } from './create-schema.js';
export { schemaDdl } from './schema.js';

export interface PostgresStorageOptions {
  /** e.g. `postgres://user:password@127.0.0.1:5432/db` */
  connectionString: string;
  /** Schema holding the tables (default `public`); must match /^[a-z_][a-z0-9_]*$/. */
  schema?: string;
  /** Connections in the pool (default 8). */
  poolSize?: number;
  /** Create the tables if missing when opening (default true). */
  createSchema?: boolean;
  /** Largest payload accepted, in bytes (default 8 MiB). */
  maxPayloadBytes?: number;
  /**
   * Journal batches the façade may have in flight at once (default: half the pool, 1 to 4).
   * More overlaps commits; each batch holds a connection while it runs.
   */
  maxBatchesInFlight?: number;
  /** How long a call waits for a connection before it fails, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** Logs lost idle connections (default: a logger named `postgres-plugin`). */
  logger?: Logger;
}

/**
 * Opens the plugin: creates the pool, creates the tables unless `createSchema: false`, and
 * resolves once they exist. Rejects with `JournalFailureError` when the database cannot be
 * reached or the tables cannot be created (the pool is closed again), with `TypeError` for a
 * bad schema name.
 */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<StoragePlugin> {
  const schema = checkSchemaName(options.schema ?? 'public');
  const poolSize = Math.max(1, options.poolSize ?? 8);
  const logger = options.logger ?? createLogger({ name: 'postgres-plugin' });
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // TCP keepalive, so a connection to a server that vanished without closing it is noticed.
    keepAlive: true,
    application_name: 'cloudstate',
  });
  // An idle connection that dies (server restart) is reported here; without a listener the
  // process would crash. The pool drops it and opens a new one when needed.
  pool.on('error', (err) => logger.warn({ err: describeError(err) }, 'idle PostgreSQL connection lost'));
  if (options.createSchema !== false) {
    try {
      await createPostgresSchema(pool, schema);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new JournalFailureError(failureMessage('schema creation', err), { cause: err });
    }
  }
  const maxBatchesInFlight = options.maxBatchesInFlight ?? Math.min(4, Math.max(1, Math.floor(poolSize / 2)));
  const journal = new PostgresJournal(pool, schema, options.maxPayloadBytes ?? 8 * 1024 * 1024, maxBatchesInFlight);
  const snapshotStore = new PostgresSnapshotStore(pool, schema);
  const keyValueStore = new PostgresKeyValueStore(pool, schema);
  let closing: Promise<void> | undefined;
  return {
    name: 'postgres',
    journal,
    snapshotStore,
    keyValueStore,
    close() {
      closing ??= (async () => {
        await Promise.all([journal.close(), snapshotStore.close(), keyValueStore.close()]);
        await pool.end();
      })();
      return closing;
    },
  };
}
