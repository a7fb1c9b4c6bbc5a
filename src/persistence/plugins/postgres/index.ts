/**
 * The Postgres storage plugin: for clusters whose nodes share one database. A `pg` pool,
 * parameterized SQL only, schema created on first use (or ahead of time with
 * `createPostgresSchema`), durable commits (`synchronous_commit` is left on). When the server
 * goes away the calls in flight fail with a clear error and the pool reconnects once it is
 * back; an idle connection dying never crashes the process.
 */
import pg from 'pg';
import { createLogger, describeError } from '../../../core/index.js';
import type { Logger } from '../../../core/index.js';
import { JournalFailureError } from '../../spi/index.js';
import type { StoragePlugin } from '../../spi/index.js';
import { failureMessage } from './errors.js';
import { PostgresJournal } from './journal.js';
import { checkSchemaName, createPostgresSchema } from './schema.js';
import { PostgresKeyValueStore, PostgresSnapshotStore } from './stores.js';

export { createPostgresSchema, schemaDdl } from './schema.js';

export interface PostgresStorageOptions {
  /** e.g. `postgres://user:password@127.0.0.1:5432/db` */
  connectionString: string;
  /** Schema holding the tables (default `public`). */
  schema?: string;
  /** Connections in the pool (default 8). */
  poolSize?: number;
  /** Create the tables if missing when opening (default true). */
  createSchema?: boolean;
  /** Largest payload accepted (default 8 MiB). */
  maxPayloadBytes?: number;
  /** How long to wait for a connection before failing a call, in ms (default 5000). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export async function openPostgresStorage(options: PostgresStorageOptions): Promise<StoragePlugin> {
  const schema = checkSchemaName(options.schema ?? 'public');
  const poolSize = options.poolSize ?? 8;
  const logger = options.logger ?? createLogger({ name: 'postgres-plugin' });
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
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
  const journal = new PostgresJournal(pool, schema, options.maxPayloadBytes ?? 8 * 1024 * 1024, Math.max(1, Math.floor(poolSize / 2)));
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
