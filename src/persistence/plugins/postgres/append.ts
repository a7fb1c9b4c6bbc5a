/**
 * Group commit for the Postgres journal: a batch of atomic writes (at most one per persistence
 * id) stored by ONE statement. The events of every write arrive as parallel arrays and are
 * unnested; inside the same statement each write's expected highest seqNr is compared with the
 * stored one (an index-only backward scan of the primary key per id, not a scan of the table),
 * and the writes that do not follow it are left out and reported as conflicts with the highest
 * found. Nothing else in the batch is affected by a conflict.
 *
 * The primary key (persistence_id, seq_nr) is the storage-level single-writer guard: when a
 * writer on another node wins the race between the check and the insert, the statement fails
 * with a unique violation and the batch is stored again write by write, so exactly the losers
 * get `SequenceConflictError`. Values Postgres cannot hold are rejections of their own write:
 * NUL characters and lone surrogates in text are found before the statement, and a data error
 * from the server (anything else about the values) also falls back to write by write.
 *
 * Orderings become visible in order: the statement first takes a transaction-scoped advisory
 * lock of the table (`orderingLockKey`), and only then do its rows draw `ordering` from the
 * sequence; the lock is released at commit, after the rows became visible. So writers on every
 * node draw orderings one transaction at a time, and commit order is ordering order (see
 * ./journal.ts for what events by tag rely on). This module does not read or delete.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { JournalFailureError, JournalRejectedError, SequenceConflictError } from '../../spi/index.js';
import type { AtomicWrite, WriteOutcome } from '../../spi/index.js';
import { failureMessage, isDataError, sqlState, UNIQUE_VIOLATION } from './errors.js';

/** A NUL character, or a UTF-16 surrogate without its pair (in `u` mode a pair is one code point). */
const UNSTORABLE_TEXT = /\u0000|\p{Cs}/u;

/** False for text Postgres cannot hold as given; no stored id, tag or manifest is such text. */
export function isStorableText(s: string): boolean {
  return !UNSTORABLE_TEXT.test(s);
}

/**
 * Why Postgres cannot store the write as given, or undefined. Text columns cannot hold NUL, a
 * lone surrogate would be stored as U+FFFD (a different id or manifest on replay), and the
 * timestamp must fit a BIGINT of milliseconds.
 */
export function unstorableReason(w: AtomicWrite): string | undefined {
  if (UNSTORABLE_TEXT.test(w.persistenceId)) return 'persistenceId contains a NUL character or a lone surrogate, which PostgreSQL text cannot hold';
  for (const e of w.events) {
    if (UNSTORABLE_TEXT.test(e.manifest) || UNSTORABLE_TEXT.test(e.writerId) || e.tags.some((t) => UNSTORABLE_TEXT.test(t))) {
      return `seqNr ${e.seqNr} has a NUL character or a lone surrogate in its manifest, writerId or tags, which PostgreSQL text cannot hold`;
    }
    if (!Number.isSafeInteger(Math.trunc(e.timestamp))) return `timestamp ${e.timestamp} of seqNr ${e.seqNr} is not a storable number of milliseconds`;
  }
  return undefined;
}

/**
 * The group-commit statement. Events arrive as parallel arrays ($1–$6, tags as JSON arrays in
 * $7 when any event has tags, since Postgres arrays cannot be ragged); the writes' ids and
 * expected highest seqNrs follow. It returns the ids whose expectation did not hold, with the
 * highest found; their events are not inserted. `ORDER BY n` gives events their `ordering` in
 * batch order. The rows to insert are joined with the `ordering_lock` CTE, so no row reaches the
 * INSERT (whose column default calls nextval, above the sort) before the lock is held.
 */
export function appendStatement(table: string, withTags: boolean): string {
  const [ids, expected] = withTags ? ['$8', '$9'] : ['$7', '$8'];
  return `
WITH ordering_lock AS MATERIALIZED (
  SELECT pg_advisory_xact_lock(${orderingLockKey(table)}::bigint)
),
conflicts AS (
  SELECT x.persistence_id, h.highest
  FROM unnest(${ids}::text[], ${expected}::bigint[]) AS x(persistence_id, expected)
  CROSS JOIN LATERAL (SELECT COALESCE(max(j.seq_nr), 0) AS highest FROM ${table} j WHERE j.persistence_id = x.persistence_id) AS h
  WHERE h.highest <> x.expected
),
inserted AS (
  INSERT INTO ${table} (persistence_id, seq_nr, writer_id, write_timestamp, manifest, payload${withTags ? ', tags' : ''})
  SELECT i.persistence_id, i.seq_nr, i.writer_id, i.write_timestamp, i.manifest, i.payload${withTags ? ', ARRAY(SELECT json_array_elements_text(i.tags_json::json))' : ''}
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bytea[]${withTags ? ', $7::text[]' : ''})
    WITH ORDINALITY AS i(persistence_id, seq_nr, writer_id, write_timestamp, manifest, payload${withTags ? ', tags_json' : ''}, n)
  CROSS JOIN ordering_lock
  WHERE i.persistence_id NOT IN (SELECT persistence_id FROM conflicts)
  ORDER BY i.n
  RETURNING 1
)
SELECT persistence_id, highest FROM conflicts`;
}

/**
 * The advisory lock key under which writers of `table` (schema-qualified) draw orderings: the
 * first 8 bytes of a SHA-256 of the name, as a signed BIGINT. Every node derives the same key
 * for the same table, and different schemas do not wait for each other.
 */
export function orderingLockKey(table: string): bigint {
  return createHash('sha256').update(`cloudstate event_journal ordering ${table}`).digest().readBigInt64BE(0);
}

/** The parameters of `appendStatement(table, withTags)` for `writes`, and which of the two statements they are for. */
export function appendValues(writes: readonly AtomicWrite[]): { withTags: boolean; values: unknown[] } {
  const events = writes.flatMap((w) => w.events);
  const withTags = events.some((e) => e.tags.length > 0);
  const values: unknown[] = [
    events.map((e) => e.persistenceId),
    events.map((e) => e.seqNr),
    events.map((e) => e.writerId),
    events.map((e) => Math.trunc(e.timestamp)),
    events.map((e) => e.manifest),
    events.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength)),
    ...(withTags ? [events.map((e) => JSON.stringify(e.tags))] : []),
    writes.map((w) => w.persistenceId),
    writes.map((w) => w.events[0]!.seqNr - 1),
  ];
  return { withTags, values };
}

/** Stores batches of atomic writes into one journal table. */
export class BatchAppender {
  private readonly sqlWithTags: string;
  private readonly sqlNoTags: string;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
  ) {
    this.sqlWithTags = appendStatement(table, true);
    this.sqlNoTags = appendStatement(table, false);
  }

  /**
   * One outcome per write, in order: undefined (stored), `JournalRejectedError` or
   * `SequenceConflictError` (nothing of it stored). Rejects with `JournalFailureError` when
   * storage failed; the outcome of every write is then unknown.
   */
  async writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = writes.map((w) => {
      const reason = unstorableReason(w);
      return reason === undefined ? undefined : new JournalRejectedError(w.persistenceId, w.events[0]!.seqNr, reason);
    });
    const storable = writes.filter((_, i) => outcomes[i] === undefined);
    if (storable.length === 0) return outcomes;
    let conflicts: Map<string, number>;
    try {
      conflicts = await this.insert(storable);
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION && !isDataError(err)) throw this.failure(err);
      return this.writeOneByOne(writes, outcomes);
    }
    return writes.map((w, i) => {
      const highest = conflicts.get(w.persistenceId);
      return outcomes[i] ?? (highest === undefined ? undefined : conflict(w, highest));
    });
  }

  /**
   * The batch statement failed on one of its writes (another node stored a key first, or a
   * value the server refused): store each write on its own to find out which.
   */
  private async writeOneByOne(writes: readonly AtomicWrite[], outcomes: readonly WriteOutcome[]): Promise<WriteOutcome[]> {
    const result: WriteOutcome[] = [];
    for (const [i, w] of writes.entries()) {
      if (outcomes[i] !== undefined) {
        result.push(outcomes[i]);
        continue;
      }
      try {
        const highest = (await this.insert([w])).get(w.persistenceId);
        result.push(highest === undefined ? undefined : conflict(w, highest));
      } catch (err) {
        if (sqlState(err) === UNIQUE_VIOLATION) result.push(conflict(w, undefined));
        else if (isDataError(err)) result.push(new JournalRejectedError(w.persistenceId, w.events[0]!.seqNr, `PostgreSQL refused a value: ${(err as Error).message}`, { cause: err }));
        else throw this.failure(err);
      }
    }
    return result;
  }

  /** Runs the batch statement; resolves to the ids whose expected seqNr did not hold, with the highest found. */
  private async insert(writes: readonly AtomicWrite[]): Promise<Map<string, number>> {
    const { withTags, values } = appendValues(writes);
    // Named, so each pooled connection parses and plans it once (about a third of its cost).
    const { rows } = await this.pool.query<{ persistence_id: string; highest: string }>({
      name: `${this.table}-append${withTags ? '-tags' : ''}`,
      text: withTags ? this.sqlWithTags : this.sqlNoTags,
      values,
    });
    return new Map(rows.map((r) => [r.persistence_id, Number(r.highest)]));
  }

  private failure(err: unknown): JournalFailureError {
    return new JournalFailureError(failureMessage('journal write', err), { cause: err });
  }
}

/** The write expected highest = its first seqNr - 1; storage has `highest` (undefined: another writer's insert won the race). */
function conflict(w: AtomicWrite, highest: number | undefined): SequenceConflictError {
  return new SequenceConflictError(w.persistenceId, w.events[0]!.seqNr - 1, highest);
}
