/**
 * The Postgres plugin's tables (Akka's R2DBC plugin uses the same three names) as DDL text, and
 * the check of the one name written into SQL, the schema. Pure: it loads no driver, so the
 * package's persistence entry point re-exports `schemaDdl` (as `postgresSchemaDdl`) for the
 * documented `… | psql` command without loading `pg`. Creating the tables from code is
 * ./create-schema.ts.
 */

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** Validates a schema name: it is written into SQL, so only plain lower-case identifiers. */
export function checkSchemaName(schema: string): string {
  if (!IDENTIFIER.test(schema)) throw new TypeError(`schema name ${JSON.stringify(schema)} must match ${IDENTIFIER}`);
  return schema;
}

/** The tables and indexes, without the CREATE SCHEMA; idempotent. */
export function tablesDdl(s: string): string {
  return `
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

/** The relations (tables and indexes) the DDL creates, by name within the schema. */
export const RELATIONS = ['event_journal', 'event_journal_ordering_idx', 'event_journal_tags_idx', 'snapshot', 'durable_state'];

/**
 * The DDL for `schema` (default `public`) as one idempotent script, for operators who create
 * the tables themselves (`… | psql "$URL"`). A plugin opened later finds them all and runs no
 * DDL, so its database role needs no CREATE privilege.
 */
export function schemaDdl(schema = 'public'): string {
  const s = checkSchemaName(schema);
  return `${s === 'public' ? '' : `CREATE SCHEMA IF NOT EXISTS ${s};`}${tablesDdl(s)}\n`;
}
