/**
 * The Cassandra plugin's keyspace and tables, created on first use (idempotent CQL).
 *
 * - `messages`: journal rows, partitioned by (persistence_id, partition_nr), ordered by seq_nr.
 * - `heads`: per id, the highest seqNr ever written and the seqNr deleted up to. Updated only
 *   with lightweight transactions: this row is the single-writer guard.
 * - `snapshots`: newest first within an id. `durable_state`: values with a revision.
 */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function checkKeyspace(keyspace: string): string {
  if (!IDENTIFIER.test(keyspace)) throw new TypeError(`keyspace ${JSON.stringify(keyspace)} must match ${IDENTIFIER}`);
  return keyspace;
}

export function schemaCql(keyspace: string, replicationFactor: number): string[] {
  const ks = checkKeyspace(keyspace);
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) throw new RangeError(`replicationFactor must be a positive integer, got ${replicationFactor}`);
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': ${replicationFactor}}`,
    `CREATE TABLE IF NOT EXISTS ${ks}.messages (
       persistence_id text, partition_nr bigint, seq_nr bigint,
       writer_id text, write_timestamp bigint, manifest text, payload blob, tags list<text>,
       PRIMARY KEY ((persistence_id, partition_nr), seq_nr)
     ) WITH CLUSTERING ORDER BY (seq_nr ASC)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.heads (persistence_id text PRIMARY KEY, highest bigint, deleted_to bigint)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.snapshots (
       persistence_id text, seq_nr bigint, write_timestamp bigint, manifest text, payload blob,
       PRIMARY KEY (persistence_id, seq_nr)
     ) WITH CLUSTERING ORDER BY (seq_nr DESC)`,
    `CREATE TABLE IF NOT EXISTS ${ks}.durable_state (persistence_id text PRIMARY KEY, revision bigint, manifest text, payload blob)`,
  ];
}
