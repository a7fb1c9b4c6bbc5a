/**
 * The Postgres journal: reads, deletion and events by tag over the `event_journal` table, with
 * writes delegated to ./append.ts (one statement per group-committed batch, the single-writer
 * check inside it). Replay and events by tag are streamed: keyset pagination, one page of rows
 * in memory at a time, so a consumer that stops early stops the queries.
 *
 * deleteTo keeps the highest row, marked deleted (payload dropped), so the highest seqNr never
 * goes down and a stale writer still conflicts; replay and tag queries skip deleted rows.
 * Events by tag use the global `ordering` column as offset, and orderings become visible in
 * order: once a reader sees ordering N, every ordering below N is committed or permanently gone
 * (an aborted write's), whichever node wrote it. Writers draw orderings under an advisory lock
 * held until commit (./append.ts), so a poller that resumes after the last offset it read never
 * passes over an event. This holds while every writer of the table is this plugin and the
 * sequence keeps its default CACHE 1.
 */
import type pg from 'pg';
import { JournalFailureError, StoreClosedError } from '../../spi/index.js';
import type { AtomicWrite, EventEnvelope, JournalCapabilities, JournalPlugin, PersistentRepr, WriteOutcome } from '../../spi/index.js';
import { BatchAppender, isStorableText } from './append.js';
import { runQuery } from './errors.js';

/** Rows per query when streaming. */
const PAGE = 1000;

interface EventRow {
  ordering: string;
  persistence_id: string;
  seq_nr: string;
  writer_id: string;
  write_timestamp: string;
  manifest: string;
  payload: Buffer;
  tags: string[];
}

const toRepr = (r: EventRow): PersistentRepr => ({
  persistenceId: r.persistence_id,
  seqNr: Number(r.seq_nr),
  payload: r.payload,
  manifest: r.manifest,
  writerId: r.writer_id,
  timestamp: Number(r.write_timestamp),
  tags: r.tags,
});

const MAX = Number.MAX_SAFE_INTEGER;

/** The journal of one schema; the pool is shared with the other stores and owned by the plugin. */
export class PostgresJournal implements JournalPlugin {
  readonly capabilities: JournalCapabilities;
  private closed = false;
  private readonly table: string;
  private readonly appender: BatchAppender;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    maxPayloadBytes: number,
    maxBatchesInFlight: number,
  ) {
    this.capabilities = { eventsByTag: true, maxPayloadBytes, maxBatchesInFlight };
    this.table = `${schema}.event_journal`;
    this.appender = new BatchAppender(pool, this.table);
  }

  /** See `BatchAppender.writeBatch`: one statement for the batch, outcomes in write order. */
  async writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]> {
    this.checkOpen();
    return this.appender.writeBatch(writes);
  }

  /** Streams the id's live events in `[fromSeqNr, toSeqNr]`, `PAGE` rows per query, at most `max`. */
  async *replay(persistenceId: string, fromSeqNr: number, toSeqNr: number, max: number): AsyncGenerator<PersistentRepr> {
    this.checkOpen();
    if (!isStorableText(persistenceId)) return; // never stored (see append.ts); would match a U+FFFD id
    let from = fromSeqNr;
    let left = max;
    while (left > 0) {
      const rows = await this.query<EventRow>(
        'replay',
        `SELECT persistence_id, seq_nr, writer_id, write_timestamp, manifest, payload, tags FROM ${this.table}
         WHERE persistence_id = $1 AND seq_nr >= $2 AND seq_nr <= $3 AND NOT deleted ORDER BY seq_nr LIMIT $4`,
        [persistenceId, from, Math.min(toSeqNr, MAX), Math.min(PAGE, left)],
      );
      for (const r of rows) yield toRepr(r);
      if (rows.length < Math.min(PAGE, left)) return;
      left -= rows.length;
      from = Number(rows[rows.length - 1]!.seq_nr) + 1;
    }
  }

  /** max(seq_nr) of the id, deleted rows included (deleteTo keeps the highest row); 0 if none. */
  async highestSeqNr(persistenceId: string): Promise<number> {
    this.checkOpen();
    if (!isStorableText(persistenceId)) return 0;
    const rows = await this.query<{ m: string | null }>('highest seqNr', `SELECT max(seq_nr) AS m FROM ${this.table} WHERE persistence_id = $1`, [persistenceId]);
    return Number(rows[0]?.m ?? 0);
  }

  /**
   * Deletes the rows with seq_nr <= toSeqNr in one statement, except the highest row of the id,
   * which is kept with `deleted = true` and an empty payload so that max(seq_nr) never goes down.
   */
  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.checkOpen();
    if (!isStorableText(persistenceId)) return;
    await this.query(
      'deleteTo',
      `WITH h AS (SELECT max(seq_nr) AS m FROM ${this.table} WHERE persistence_id = $1),
       gone AS (DELETE FROM ${this.table} WHERE persistence_id = $1 AND seq_nr <= $2 AND seq_nr < (SELECT m FROM h))
       UPDATE ${this.table} SET deleted = true, payload = '\\x'::bytea WHERE persistence_id = $1 AND seq_nr = (SELECT m FROM h) AND seq_nr <= $2`,
      [persistenceId, Math.min(toSeqNr, MAX)],
    );
  }

  /**
   * Streams live events carrying `tag` with ordering in (afterOffset, the highest ordering at the
   * call], in ordering order, `PAGE` rows per query, at most `limit`. Offset = `ordering`.
   */
  async *currentEventsByTag(tag: string, afterOffset: number, limit: number): AsyncGenerator<EventEnvelope> {
    this.checkOpen();
    if (!isStorableText(tag)) return;
    const [{ m } = { m: null }] = await this.query<{ m: string | null }>('events by tag', `SELECT max(ordering) AS m FROM ${this.table}`, []);
    const upTo = Number(m ?? 0);
    let after = afterOffset;
    let left = limit;
    while (left > 0) {
      const rows = await this.query<EventRow>(
        'events by tag',
        `SELECT ordering, persistence_id, seq_nr, writer_id, write_timestamp, manifest, payload, tags FROM ${this.table}
         WHERE tags @> ARRAY[$1]::text[] AND ordering > $2 AND ordering <= $3 AND NOT deleted ORDER BY ordering LIMIT $4`,
        [tag, after, upTo, Math.min(PAGE, left)],
      );
      for (const r of rows) yield { offset: Number(r.ordering), event: toRepr(r) };
      if (rows.length < Math.min(PAGE, left)) return;
      left -= rows.length;
      after = Number(rows[rows.length - 1]!.ordering);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<R[]> {
    return (await runQuery<R>(this.pool, (m, cause) => new JournalFailureError(m, { cause }), what, sql, params)).rows;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('Postgres journal');
  }
}
