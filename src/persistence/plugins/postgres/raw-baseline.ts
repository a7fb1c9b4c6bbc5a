/**
 * The benchmark's raw baseline for Postgres: the same events inserted with the driver
 * directly, one plain multi-row INSERT per group of events on one connection, autocommit with
 * `synchronous_commit` on, one statement after another, into a table of the same shape as the
 * plugin's (same columns and indexes, in schema `bench_raw`), so the comparison isolates what
 * the plugin adds: validation, group commit, the single-writer check.
 */
import pg from 'pg';
import type { PersistentRepr } from '../../spi/index.js';
import { schemaDdl } from './schema.js';

export async function openPostgresRawBaseline(connectionString: string) {
  const client = new pg.Client({ connectionString });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('SET synchronous_commit = on');
  await client.query(schemaDdl('bench_raw'));
  const sql = `INSERT INTO bench_raw.event_journal (persistence_id, seq_nr, writer_id, write_timestamp, manifest, payload)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bytea[])`;
  return {
    name: 'pg multi-row INSERT',
    async writeBatches(batches: PersistentRepr[][]): Promise<void> {
      for (const events of batches) {
        await client.query(sql, [
          events.map((e) => e.persistenceId),
          events.map((e) => e.seqNr),
          events.map((e) => e.writerId),
          events.map((e) => e.timestamp),
          events.map((e) => e.manifest),
          events.map((e) => Buffer.from(e.payload)),
        ]);
      }
    },
    close: () => client.end(),
  };
}
