/**
 * The Cassandra journal. An atomic write first moves the id's head with a lightweight
 * transaction (`IF highest = expected`, or `IF NOT EXISTS` for the first write): that is the
 * single-writer guard, and a head that did not move is a `SequenceConflictError` with nothing
 * written. Only the winner then writes its events, as one single-partition batch (atomic and
 * isolated in Cassandra). Cassandra cannot batch conditional writes across partitions, so the
 * group commit here is concurrency: the writes of a call run side by side on the driver's
 * pipelined connections.
 *
 * Limits, honestly: if the event batch fails after the head moved, the call fails (outcome
 * unknown, as the SPI says) and the id may keep a hole at those seqNrs; the next writer
 * continues after the head, so no event is ever overwritten. Events by tag are not supported
 * (that needs a tag-view table): the capability says so and the conformance kit skips it.
 */
import cassandra from 'cassandra-driver';
import { describeError } from '../../../core/index.js';
import { CorruptRecordError, JournalFailureError, SequenceConflictError, StoreClosedError } from '../../spi/index.js';
import type { AtomicWrite, JournalCapabilities, JournalPlugin, PersistentRepr, WriteOutcome } from '../../spi/index.js';
import { partitionOf, partitionsToScan } from './partitions.js';

const { consistencies } = cassandra.types;

export interface CassandraJournalSettings {
  keyspace: string;
  partitionSize: number;
  maxPayloadBytes: number;
  /** Consistency of reads and writes (default LOCAL_QUORUM); LWTs use LOCAL_SERIAL. */
  consistency: number;
}

const num = (v: unknown): number => (v == null ? 0 : typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber());

export function cassandraFailure(what: string, err: unknown): Error {
  if (err instanceof SequenceConflictError || err instanceof CorruptRecordError || err instanceof StoreClosedError) return err;
  const unreachable = err instanceof cassandra.errors.NoHostAvailableError || err instanceof cassandra.errors.OperationTimedOutError;
  return new JournalFailureError(`Cassandra ${unreachable ? 'is unreachable during' : 'failed during'} ${what}: ${describeError(err)}`, { cause: err });
}

export class CassandraJournal implements JournalPlugin {
  readonly capabilities: JournalCapabilities;
  private closed = false;
  private readonly ks: string;

  constructor(
    private readonly client: cassandra.Client,
    private readonly settings: CassandraJournalSettings,
  ) {
    this.ks = settings.keyspace;
    this.capabilities = { eventsByTag: false, maxPayloadBytes: settings.maxPayloadBytes, maxBatchesInFlight: 4 };
  }

  async writeBatch(writes: readonly AtomicWrite[]): Promise<WriteOutcome[]> {
    this.checkOpen();
    const results = await Promise.allSettled(writes.map((w) => this.writeOne(w)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw cassandraFailure('a journal write', (failed as PromiseRejectedResult).reason);
    return results.map((r) => (r as PromiseFulfilledResult<WriteOutcome>).value);
  }

  private async writeOne(w: AtomicWrite): Promise<WriteOutcome> {
    const expected = w.events[0]!.seqNr - 1;
    const last = w.events[w.events.length - 1]!.seqNr;
    const lwt =
      expected === 0
        ? { q: `INSERT INTO ${this.ks}.heads (persistence_id, highest, deleted_to) VALUES (?, ?, 0) IF NOT EXISTS`, p: [w.persistenceId, last] }
        : { q: `UPDATE ${this.ks}.heads SET highest = ? WHERE persistence_id = ? IF highest = ?`, p: [last, w.persistenceId, expected] };
    const res = await this.client.execute(lwt.q, lwt.p, { prepare: true, consistency: this.settings.consistency, serialConsistency: consistencies.localSerial });
    const row = res.first();
    if (!row || row['[applied]'] !== true) return new SequenceConflictError(w.persistenceId, expected, row?.['highest'] == null ? undefined : num(row['highest']));
    const partition = partitionOf(w.events[0]!.seqNr, this.settings.partitionSize);
    const insert = `INSERT INTO ${this.ks}.messages (persistence_id, partition_nr, seq_nr, writer_id, write_timestamp, manifest, payload, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
    await this.client.batch(
      w.events.map((e) => ({
        query: insert,
        params: [e.persistenceId, partition, e.seqNr, e.writerId, Math.trunc(e.timestamp), e.manifest, Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength), [...e.tags]],
      })),
      { prepare: true, logged: false, consistency: this.settings.consistency },
    );
    return undefined;
  }

  private async head(persistenceId: string): Promise<{ highest: number; deletedTo: number }> {
    const res = await this.client.execute(`SELECT highest, deleted_to FROM ${this.ks}.heads WHERE persistence_id = ?`, [persistenceId], {
      prepare: true,
      consistency: consistencies.localSerial, // a serial read sees every applied LWT
    });
    const row = res.first();
    return { highest: num(row?.['highest']), deletedTo: num(row?.['deleted_to']) };
  }

  async *replay(persistenceId: string, fromSeqNr: number, toSeqNr: number, max: number): AsyncGenerator<PersistentRepr> {
    this.checkOpen();
    let head;
    try {
      head = await this.head(persistenceId);
    } catch (err) {
      throw cassandraFailure(`replay of ${persistenceId}`, err);
    }
    const from = Math.max(fromSeqNr, head.deletedTo + 1);
    const to = Math.min(toSeqNr, head.highest);
    if (from > to) return;
    const { first, last } = partitionsToScan(from, to, this.settings.partitionSize);
    let left = max;
    for (let p = first; p <= last && left > 0; p++) {
      let pageState: string | undefined;
      do {
        let res;
        try {
          res = await this.client.execute(
            `SELECT seq_nr, writer_id, write_timestamp, manifest, payload, tags FROM ${this.ks}.messages WHERE persistence_id = ? AND partition_nr = ? AND seq_nr >= ? AND seq_nr <= ?`,
            [persistenceId, p, from, to],
            { prepare: true, consistency: this.settings.consistency, fetchSize: Math.min(1000, left), ...(pageState ? { pageState } : {}) },
          );
        } catch (err) {
          throw cassandraFailure(`replay of ${persistenceId}`, err);
        }
        for (const row of res.rows) {
          if (left-- <= 0) return;
          yield this.toRepr(persistenceId, row);
        }
        pageState = res.pageState ?? undefined;
      } while (pageState && left > 0);
    }
  }

  private toRepr(persistenceId: string, row: cassandra.types.Row): PersistentRepr {
    const seqNr = num(row['seq_nr']);
    const payload = row['payload'] as Buffer | null;
    if (!payload || typeof row['manifest'] !== 'string') throw new CorruptRecordError(persistenceId, seqNr, 'row without payload or manifest');
    return {
      persistenceId,
      seqNr,
      payload,
      manifest: row['manifest'] as string,
      writerId: (row['writer_id'] as string | null) ?? '',
      timestamp: num(row['write_timestamp']),
      tags: (row['tags'] as string[] | null) ?? [],
    };
  }

  async highestSeqNr(persistenceId: string): Promise<number> {
    this.checkOpen();
    try {
      return (await this.head(persistenceId)).highest;
    } catch (err) {
      throw cassandraFailure('reading the highest seqNr', err);
    }
  }

  async deleteTo(persistenceId: string, toSeqNr: number): Promise<void> {
    this.checkOpen();
    try {
      const head = await this.head(persistenceId);
      const upTo = Math.min(toSeqNr, head.highest);
      if (upTo <= head.deletedTo) return;
      await this.client.execute(`UPDATE ${this.ks}.heads SET deleted_to = ? WHERE persistence_id = ? IF EXISTS`, [upTo, persistenceId], {
        prepare: true,
        consistency: this.settings.consistency,
        serialConsistency: consistencies.localSerial,
      });
      const { first, last } = partitionsToScan(1, upTo, this.settings.partitionSize);
      for (let p = first; p <= last; p++) {
        await this.client.execute(`DELETE FROM ${this.ks}.messages WHERE persistence_id = ? AND partition_nr = ? AND seq_nr <= ?`, [persistenceId, p, upTo], {
          prepare: true,
          consistency: this.settings.consistency,
        });
      }
    } catch (err) {
      throw cassandraFailure(`deleteTo of ${persistenceId}`, err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('Cassandra journal');
  }
}
