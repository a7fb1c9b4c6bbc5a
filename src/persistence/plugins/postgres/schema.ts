/**
 * The Postgres plugin's tables (Akka's R2DBC plugin uses the same three names) and how they
 * are created: on first use, or ahead of time with `createPostgresSchema` (see README). The
 * DDL is idempotent and runs under an advisory lock, so nodes starting together do not race.
 */
import type pg from 'pg';

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** Validates a schema name: it is written into SQL, so only plain lower-case identifiers. */
export function checkSchemaName(schema: string): string {
  if (!IDENTIFIER.test(schema)) throw new TypeError(`schema name ${JSON.stringify(schema)} must match ${IDENTIFIER}`);
  return schema;
}

/** The DDL for `schema` (default `public`), as one script. */
export function schemaDdl(schema = 'public'): string {
  const s = checkSchemaName(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.event_journal (
  ordering        BIGSERIAL,
  persistence_id  TEXT    NOT NULL,
  seq_nr          BIGINT  NOT NULL,
  writer_id       TEXT    NOT NULL,
  write_timestamp BIGINT  NOT NULL,
  manifest        TEXT    NOT NULL,
  payload         BYTEA   NOT NULL,
  tags            TEXT[]  NOT NULL DEFAULT '{}',
  deleted         BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (persistence_id, seq_nr)
);
CREATE INDEX IF NOT EXISTS event_journal_ordering_idx ON ${s}.event_journal (ordering);
CREATE INDEX IF NOT EXISTS event_journal_tags_idx ON ${s}.event_journal USING GIN (tags);
CREATE TABLE IF NOT EXISTS ${s}.snapshot (
  persistence_id  TEXT   NOT NULL,
  seq_nr          BIGINT NOT NULL,
  write_timestamp BIGINT NOT NULL,
  manifest        TEXT   NOT NULL,
  payload         BYTEA  NOT NULL,
  PRIMARY KEY (persistence_id, seq_nr)
);
CREATE TABLE IF NOT EXISTS ${s}.durable_state (
  persistence_id TEXT   PRIMARY KEY,
  revision       BIGINT NOT NULL,
  manifest       TEXT   NOT NULL,
  payload        BYTEA  NOT NULL
);`;
}

/** An arbitrary, fixed advisory-lock key for schema creation. */
const SCHEMA_LOCK = 0x43535043; // "CSPC"

/** Creates the tables if they are missing. Safe to run from several processes at once. */
export async function createPostgresSchema(pool: pg.Pool, schema = 'public'): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(schemaDdl(schema));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
