/**
 * Journal cases of the conformance kit: the contracts of the journal SPI as a caller sees them
 * through the `Journal` façade.
 */
import assert from 'node:assert/strict';
import { Journal } from '../journal.js';
import { JournalFailureError, JournalRejectedError, PersistenceErrorCode, SequenceConflictError } from '../spi/index.js';
import type { PersistentRepr } from '../spi/index.js';
import type { ConformanceCase, ConformanceTarget } from './conformance.js';
import { withPlugin } from './conformance.js';
import { FaultyJournal } from './faulty-journal.js';
import { collect, decode, event, payloadFor, uniqueId, write } from './fixtures.js';

async function withJournal<T>(target: ConformanceTarget, fn: (journal: Journal) => Promise<T>): Promise<T> {
  return withPlugin(target, (plugin) => fn(new Journal(plugin.journal)));
}

const needsSecondClient = (target: ConformanceTarget) => (target.openSecondClient ? undefined : 'the storage allows one client at a time');

/** Runs `fn` with a journal on the target and one on a second client of the same storage. */
async function withTwoClients(target: ConformanceTarget, fn: (journal: Journal, other: Journal) => Promise<void>): Promise<void> {
  const second = await target.openSecondClient!();
  try {
    await withJournal(target, (journal) => fn(journal, new Journal(second.journal)));
  } finally {
    await second.close();
  }
}

const seqNrs = (events: readonly PersistentRepr[]) => events.map((e) => e.seqNr);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Asserts the promise rejects with an error of `type` and returns it. */
async function rejectsWith<E extends Error>(p: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    return err as E;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

export const journalCases: ConformanceCase[] = [
  {
    name: 'an unknown persistence id has highest seqNr 0 and replays nothing',
    run: (target) =>
      withJournal(target, async (journal) => {
        const id = uniqueId('empty');
        assert.equal(await journal.highestSeqNr(id), 0);
        assert.deepEqual(await collect(journal.replay(id)), []);
      }),
  },
  {
    name: 'stores events with all their fields and replays ranges in order',
    run: (target) =>
      withJournal(target, async (journal) => {
        const id = uniqueId('roundtrip/ñ日本:!"\'%_');
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
        await journal.append({ persistenceId: id, events: [event(id, 1, { payload: bytes, manifest: 'type.googleapis.com/x.Y', writerId: 'w-ü', timestamp: 1_234_567, tags: ['t1', 't-ß'] })] });
        await journal.append({ persistenceId: id, events: [event(id, 2, { payload: new Uint8Array(0), manifest: '' })] });
        await journal.append(write(id, 3, 5));
        const all = await collect(journal.replay(id));
        assert.deepEqual(seqNrs(all), range(1, 7));
        const first = all[0]!;
        assert.equal(first.persistenceId, id);
        assert.deepEqual(Array.from(first.payload), Array.from(bytes));
        assert.equal(first.manifest, 'type.googleapis.com/x.Y');
        assert.equal(first.writerId, 'w-ü');
        assert.equal(first.timestamp, 1_234_567);
        assert.deepEqual([...first.tags].sort(), ['t-ß', 't1']);
        assert.equal(all[1]!.payload.byteLength, 0);
        assert.equal(all[1]!.manifest, '');
        assert.equal(decode(all[6]!.payload), `${id}#7`);
        assert.equal(await journal.highestSeqNr(id), 7);
        assert.deepEqual(seqNrs(await collect(journal.replay(id, { fromSeqNr: 3, toSeqNr: 5 }))), [3, 4, 5]);
        assert.deepEqual(seqNrs(await collect(journal.replay(id, { fromSeqNr: 2, max: 2 }))), [2, 3]);
        assert.deepEqual(seqNrs(await collect(journal.replay(id, { fromSeqNr: 6, toSeqNr: 100 }))), [6, 7]);
        assert.deepEqual(await collect(journal.replay(id, { fromSeqNr: 8 })), []);
        assert.deepEqual(await collect(journal.replay(id, { max: 0 })), []);
      }),
  },
  {
    name: 'persistence ids that are prefixes of each other do not mix',
    run: (target) =>
      withJournal(target, async (journal) => {
        const base = uniqueId('prefix');
        const ids = [base, `${base}!b`, `${base}/1`, `${base}1`, `${base}\u0001`, `${base}|`];
        await Promise.all(ids.map((id, i) => journal.append(write(id, 1, i + 1))));
        for (const [i, id] of ids.entries()) {
          const events = await collect(journal.replay(id));
          assert.deepEqual(seqNrs(events), range(1, i + 1), `events of ${JSON.stringify(id)}`);
          assert.ok(events.every((e) => e.persistenceId === id && decode(e.payload).startsWith(`${id}#`)));
          assert.equal(await journal.highestSeqNr(id), i + 1);
        }
      }),
  },
  {
    name: 'a write whose first seqNr does not follow the stored highest is a sequence conflict and stores nothing',
    run: (target) =>
      withJournal(target, async (journal) => {
        const id = uniqueId('conflict');
        await journal.append(write(id, 1, 3));
        const dup = await rejectsWith(journal.append(write(id, 3, 2, { writerId: 'second' })), SequenceConflictError);
        assert.equal(dup.code, PersistenceErrorCode.SequenceConflict);
        assert.equal(dup.persistenceId, id);
        await rejectsWith(journal.append(write(id, 6, 1, { writerId: 'second' })), SequenceConflictError);
        await rejectsWith(journal.append(write(id, 1, 1, { writerId: 'second' })), SequenceConflictError);
        const events = await collect(journal.replay(id));
        assert.deepEqual(seqNrs(events), [1, 2, 3]);
        assert.ok(events.every((e) => e.writerId === 'writer-1'), 'nothing of the conflicting writes is stored');
        assert.equal(await journal.highestSeqNr(id), 3);
        await journal.append(write(id, 4, 1));
        assert.equal(await journal.highestSeqNr(id), 4);
      }),
  },
  {
    name: 'two writers racing on one persistence id: exactly one wins, nothing of the loser is stored',
    run: (target) =>
      withJournal(target, async (journal) => {
        for (let round = 0; round < 5; round++) {
          const id = uniqueId('race');
          await journal.append(write(id, 1, 1));
          const results = await Promise.allSettled([
            journal.append(write(id, 2, 3, { writerId: 'a' })),
            journal.append(write(id, 2, 2, { writerId: 'b' })),
          ]);
          const won = results.filter((r) => r.status === 'fulfilled');
          assert.equal(won.length, 1, `round ${round}: one winner`);
          const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
          assert.ok(lost.reason instanceof SequenceConflictError, `loser gets a sequence conflict, got ${String(lost.reason)}`);
          const winner = results[0]!.status === 'fulfilled' ? 'a' : 'b';
          const events = await collect(journal.replay(id, { fromSeqNr: 2 }));
          assert.deepEqual(seqNrs(events), winner === 'a' ? [2, 3, 4] : [2, 3]);
          assert.ok(events.every((e) => e.writerId === winner));
        }
      }),
  },
  {
    name: 'two clients of the same storage racing: exactly one wins (when the plugin allows a second client)',
    skip: needsSecondClient,
    run: (target) =>
      withTwoClients(target, async (journal, other) => {
        for (let round = 0; round < 5; round++) {
          const id = uniqueId('two-clients');
          await journal.append(write(id, 1, 1));
          const results = await Promise.allSettled([
            journal.append(write(id, 2, 2, { writerId: 'node-a' })),
            other.append(write(id, 2, 2, { writerId: 'node-b' })),
          ]);
          assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one winner`);
          const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
          assert.ok(lost.reason instanceof SequenceConflictError, `got ${String(lost.reason)}`);
          const events = await collect(journal.replay(id, { fromSeqNr: 2 }));
          assert.equal(new Set(events.map((e) => e.writerId)).size, 1);
          assert.deepEqual(seqNrs(events), [2, 3]);
        }
      }),
  },
  {
    // A client may not trust what it last wrote: another node may have written ahead and then
    // deleted rows, and the primary key alone would not see the gap (seqNr 4 is free again).
    name: 'a stale client after another wrote ahead and deleted up to its highest: conflict, nothing stored (when the plugin allows a second client)',
    skip: needsSecondClient,
    run: (target) =>
      withTwoClients(target, async (journal, other) => {
        const id = uniqueId('stale-two-clients');
        await journal.append(write(id, 1, 3));
        await other.append(write(id, 4, 5, { writerId: 'node-b' }));
        await other.deleteTo(id, 7);
        await rejectsWith(journal.append(write(id, 4, 1, { writerId: 'node-a' })), SequenceConflictError);
        assert.deepEqual(seqNrs(await collect(journal.replay(id))), [8]);
        assert.ok((await collect(journal.replay(id))).every((e) => e.writerId === 'node-b'));
      }),
  },
  {
    name: 'a rejected write stores nothing, the writes beside it are stored and the writer goes on',
    run: (target) =>
      withJournal(target, async (journal) => {
        const id = uniqueId('reject');
        const other = uniqueId('reject-neighbour');
        await journal.append(write(id, 1, 1));
        const tooBig = new Uint8Array(journal.capabilities.maxPayloadBytes + 1);
        const [big, neighbour] = await Promise.allSettled([
          journal.append({ persistenceId: id, events: [event(id, 2), event(id, 3, { payload: tooBig })] }),
          journal.append(write(other, 1, 2)),
        ]);
        assert.equal(big.status, 'rejected');
        assert.ok((big as PromiseRejectedResult).reason instanceof JournalRejectedError);
        assert.equal(neighbour.status, 'fulfilled');
        await rejectsWith(journal.append({ persistenceId: id, events: [event(id, 2), event(id, 4)] }), JournalRejectedError);
        await rejectsWith(journal.append({ persistenceId: id, events: [] }), JournalRejectedError);
        assert.equal(await journal.highestSeqNr(id), 1, 'nothing of the rejected writes is stored');
        await journal.append(write(id, 2, 1));
        assert.deepEqual(seqNrs(await collect(journal.replay(id))), [1, 2]);
        assert.deepEqual(seqNrs(await collect(journal.replay(other))), [1, 2]);
      }),
  },
  {
    name: 'rejections and failures from storage reach only the callers they belong to',
    run: (target) =>
      withPlugin(target, async (plugin) => {
        const faulty = new FaultyJournal(plugin.journal);
        const journal = new Journal(faulty);
        const [a, b] = [uniqueId('faulty-a'), uniqueId('faulty-b')];
        faulty.rejectNext(1);
        const [ra, rb] = await Promise.allSettled([journal.append(write(a, 1, 2)), journal.append(write(b, 1, 2))]);
        assert.ok(ra.status === 'rejected' && ra.reason instanceof JournalRejectedError, 'first write of the batch is rejected');
        assert.equal(rb.status, 'fulfilled', 'the other write of the batch is stored');
        assert.equal(await journal.highestSeqNr(a), 0);
        faulty.failNext(1);
        const failure = await rejectsWith(journal.append(write(a, 1, 1)), JournalFailureError);
        assert.equal(failure.code, PersistenceErrorCode.Failure);
        await journal.append(write(a, 1, 1));
        faulty.failNext(1, 'replay');
        await rejectsWith(collect(journal.replay(a)), JournalFailureError);
        assert.deepEqual(seqNrs(await collect(journal.replay(a))), [1]);
        assert.deepEqual(seqNrs(await collect(journal.replay(b))), [1, 2]);
      }),
  },
  {
    name: 'group commit: 64 entities appending concurrently, each awaiting its own appends, keep their order',
    run: (target) =>
      withJournal(target, async (journal) => {
        const ids = Array.from({ length: 64 }, () => uniqueId('group'));
        const perEntity = 20;
        await Promise.all(
          ids.map(async (id) => {
            for (let s = 1; s <= perEntity; s++) await journal.append(write(id, s, 1));
          }),
        );
        // Appends for one id issued without awaiting are stored in call order.
        const burst = uniqueId('burst');
        await Promise.all(range(1, 30).map((s) => journal.append(write(burst, s, 1))));
        for (const id of [...ids, burst]) {
          const events = await collect(journal.replay(id));
          assert.deepEqual(seqNrs(events), range(1, id === burst ? 30 : perEntity));
          events.forEach((e) => assert.equal(Buffer.compare(e.payload, payloadFor(id, e.seqNr)), 0, `payload of ${id} #${e.seqNr}`));
        }
      }),
  },
  {
    name: 'deleteTo removes a prefix, the highest seqNr never goes down, and a stale writer still conflicts',
    run: (target) =>
      withJournal(target, async (journal) => {
        const id = uniqueId('delete');
        await journal.append(write(id, 1, 10));
        await journal.deleteTo(id, 4);
        assert.deepEqual(seqNrs(await collect(journal.replay(id))), range(5, 10));
        await journal.deleteTo(id, 100);
        assert.deepEqual(await collect(journal.replay(id)), []);
        assert.equal(await journal.highestSeqNr(id), 10);
        await rejectsWith(journal.append(write(id, 6, 1, { writerId: 'stale' })), SequenceConflictError);
        await rejectsWith(journal.append(write(id, 1, 1, { writerId: 'stale' })), SequenceConflictError);
        await journal.append(write(id, 11, 2));
        assert.deepEqual(seqNrs(await collect(journal.replay(id))), [11, 12]);
        assert.equal(await journal.highestSeqNr(id), 12);
      }),
  },
  {
    name: 'replays a large history as a stream, and a consumer may stop early',
    run: (target) =>
      withJournal(target, async (journal) => {
        const id = uniqueId('large');
        const total = target.largeReplayEvents ?? 10_000;
        for (let s = 1; s <= total; s += 100) await journal.append(write(id, s, Math.min(100, total - s + 1)));
        let expected = 1;
        for await (const e of journal.replay(id)) {
          assert.equal(e.seqNr, expected++);
        }
        assert.equal(expected, total + 1);
        let seen = 0;
        for await (const e of journal.replay(id, { fromSeqNr: 500 })) {
          assert.equal(e.seqNr, 500 + seen);
          if (++seen === 10) break;
        }
        assert.deepEqual(seqNrs(await collect(journal.replay(id, { fromSeqNr: total - 2 }))), [total - 2, total - 1, total]);
      }),
  },
  {
    name: 'after close and reopen, everything acknowledged is there',
    skip: (target) => (target.durable ? undefined : 'storage is not durable'),
    run: async (target) => {
      const id = uniqueId('reopen');
      const tag = uniqueId('reopen-tag');
      let offsetBefore = 0;
      await withJournal(target, async (journal) => {
        await journal.append(write(id, 1, 3, { tags: [tag] }));
        await journal.deleteTo(id, 1);
        if (journal.capabilities.eventsByTag) offsetBefore = (await collect(journal.currentEventsByTag(tag))).at(-1)!.offset;
      });
      await withJournal(target, async (journal) => {
        assert.equal(await journal.highestSeqNr(id), 3);
        assert.deepEqual(seqNrs(await collect(journal.replay(id))), [2, 3]);
        await rejectsWith(journal.append(write(id, 3, 1)), SequenceConflictError);
        await journal.append(write(id, 4, 1, { tags: [tag] }));
        if (journal.capabilities.eventsByTag) {
          const tagged = await collect(journal.currentEventsByTag(tag, offsetBefore));
          assert.deepEqual(tagged.map((t) => t.event.seqNr), [4], 'offsets keep growing after reopen');
        }
      });
    },
  },
  {
    name: 'events by tag come in a stable order and resume after an offset',
    skip: (target) => (target.eventsByTag === false ? 'no events-by-tag capability' : undefined),
    run: (target) =>
      withJournal(target, async (journal) => {
        assert.equal(journal.capabilities.eventsByTag, true, 'the plugin declares the events-by-tag capability');
        const [blue, green] = [uniqueId('blue'), uniqueId('green')];
        const ids = [uniqueId('tagged'), uniqueId('tagged'), uniqueId('tagged')];
        for (let s = 1; s <= 4; s++) {
          await Promise.all(ids.map((id, i) => journal.append(write(id, s, 1, { tags: (s + i) % 2 === 0 ? [blue] : [blue, green] }))));
        }
        const all = await collect(journal.currentEventsByTag(blue));
        assert.equal(all.length, 12);
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.offset > all[i - 1]!.offset, 'offsets increase');
        for (const id of ids) assert.deepEqual(all.filter((e) => e.event.persistenceId === id).map((e) => e.event.seqNr), [1, 2, 3, 4]);
        assert.deepEqual(await collect(journal.currentEventsByTag(blue)), all, 'the same order every time');
        const resumed = await collect(journal.currentEventsByTag(blue, all[4]!.offset));
        assert.deepEqual(resumed, all.slice(5));
        assert.deepEqual(await collect(journal.currentEventsByTag(blue, 0, 3)), all.slice(0, 3));
        const greens = await collect(journal.currentEventsByTag(green));
        assert.equal(greens.length, 6);
        assert.ok(greens.every((g) => g.event.tags.includes(green)));
        assert.deepEqual(await collect(journal.currentEventsByTag(uniqueId('no-such-tag'))), []);
      }),
  },
];

