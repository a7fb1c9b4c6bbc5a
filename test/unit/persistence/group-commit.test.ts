import t from 'tap';
import { Journal } from '../../../src/persistence/journal.js';
import { openMemoryStorage } from '../../../src/persistence/plugins/memory/index.js';
import { JournalFailureError, JournalRejectedError, SequenceConflictError } from '../../../src/persistence/spi/index.js';
import type { AtomicWrite, JournalPlugin, WriteOutcome } from '../../../src/persistence/spi/index.js';
import { collect, write } from '../../../src/persistence/testkit/index.js';

/** Wraps a plugin and records the batches the façade hands it. */
async function recording(opts: { inFlight?: number; poison?: (w: AtomicWrite) => boolean; delayMs?: number } = {}) {
  const inner = (await openMemoryStorage()).journal;
  const batches: AtomicWrite[][] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const plugin: JournalPlugin = {
    ...inner,
    capabilities: { ...inner.capabilities, maxBatchesInFlight: opts.inFlight ?? 1 },
    replay: inner.replay.bind(inner),
    highestSeqNr: inner.highestSeqNr.bind(inner),
    deleteTo: inner.deleteTo.bind(inner),
    close: inner.close.bind(inner),
    async writeBatch(writes) {
      batches.push([...writes]);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      try {
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        const ok = writes.filter((w) => !opts.poison?.(w));
        const results = await inner.writeBatch(ok);
        let i = 0;
        return writes.map((w): WriteOutcome => (opts.poison?.(w) ? new JournalRejectedError(w.persistenceId, w.events[0]!.seqNr, 'poison') : results[i++]));
      } finally {
        concurrent--;
      }
    },
  };
  return { plugin, batches, inner, maxConcurrent: () => maxConcurrent };
}

t.test('appends issued together become one storage write with one write per id', async (t) => {
  const r = await recording();
  const journal = new Journal(r.plugin);
  await Promise.all(Array.from({ length: 64 }, (_, i) => journal.append(write(`e${i}`, 1, 1))));
  t.equal(r.batches.length, 1);
  t.equal(r.batches[0]!.length, 64);
});

t.test('while a batch is stored the next one fills', async (t) => {
  const r = await recording({ delayMs: 5 });
  const journal = new Journal(r.plugin);
  const ids = Array.from({ length: 32 }, (_, i) => `w${i}`);
  await Promise.all(ids.map(async (id, i) => {
    await new Promise((res) => setTimeout(res, i % 3));
    for (let s = 1; s <= 10; s++) await journal.append(write(id, s, 1));
  }));
  t.ok(r.batches.length < 32 * 10 / 4, `320 appends took ${r.batches.length} storage writes`);
  for (const b of r.batches) t.equal(new Set(b.map((w) => w.persistenceId)).size, b.length, 'one write per id per batch');
  for (const id of ids) t.same((await collect(journal.replay(id))).map((e) => e.seqNr), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

t.test('pipelined appends of one entity are merged into one atomic write, in order', async (t) => {
  const r = await recording();
  const journal = new Journal(r.plugin);
  await Promise.all([1, 2, 3, 4].map((s) => journal.append(write('p', s, 1))));
  t.equal(r.batches.length, 1);
  t.same(r.batches[0]![0]!.events.map((e) => e.seqNr), [1, 2, 3, 4]);
  // Not contiguous: the second waits for a batch of its own and then conflicts.
  const results = await Promise.allSettled([journal.append(write('p', 5, 1)), journal.append(write('p', 9, 1))]);
  t.equal(results[0]!.status, 'fulfilled');
  t.ok(results[1]!.status === 'rejected' && results[1].reason instanceof SequenceConflictError);
  t.equal(r.batches.length, 3);
});

t.test('a merged write that storage rejects is retried write by write: the rejection reaches only its caller', async (t) => {
  const poisoned = (w: AtomicWrite) => w.events.some((e) => e.manifest === 'poison');
  const r = await recording({ poison: poisoned });
  const journal = new Journal(r.plugin);
  const w2 = write('m', 2, 1, { manifest: 'poison' });
  const results = await Promise.allSettled([journal.append(write('m', 1, 1)), journal.append(w2), journal.append(write('m', 2, 1))]);
  t.equal(results[0]!.status, 'fulfilled', 'the write before the poisoned one is stored');
  t.ok(results[1]!.status === 'rejected' && results[1].reason instanceof JournalRejectedError, 'the poisoned write is rejected');
  t.equal(results[2]!.status, 'fulfilled', 'the writer goes on at the same seqNr');
  t.same((await collect(journal.replay('m'))).map((e) => e.manifest), ['test.Event', 'test.Event']);
});

t.test('a storage failure fails every caller of that batch, and the next batch works', async (t) => {
  const r = await recording();
  let fail = true;
  const original = r.plugin.writeBatch;
  r.plugin.writeBatch = (writes) => (fail ? ((fail = false), Promise.reject(new Error('disk on fire'))) : original(writes));
  const journal = new Journal(r.plugin);
  const results = await Promise.allSettled([journal.append(write('f1', 1)), journal.append(write('f2', 1))]);
  for (const res of results) {
    t.ok(res.status === 'rejected' && res.reason instanceof JournalFailureError, 'failure is a JournalFailureError');
    t.match((res as PromiseRejectedResult).reason.message, /disk on fire/);
  }
  await journal.append(write('f1', 1));
  t.equal(await journal.highestSeqNr('f1'), 1);
});

t.test('with several batches in flight each id still keeps call order', async (t) => {
  const r = await recording({ inFlight: 4, delayMs: 2 });
  const journal = new Journal(r.plugin);
  const ids = ['a', 'b', 'c'];
  await Promise.all(ids.flatMap((id) => Array.from({ length: 20 }, (_, i) => journal.append(write(id, i + 1, 1)))));
  for (const id of ids) t.same((await collect(journal.replay(id))).map((e) => e.seqNr), Array.from({ length: 20 }, (_, i) => i + 1));
});

t.test('batch limits: at most maxBatchWrites ids per storage write', async (t) => {
  const r = await recording();
  const journal = new Journal(r.plugin, { maxBatchWrites: 10 });
  await Promise.all(Array.from({ length: 35 }, (_, i) => journal.append(write(`l${i}`, 1, 1))));
  t.same(r.batches.map((b) => b.length), [10, 10, 10, 5]);
});

t.test('close waits for queued appends, then refuses new ones', async (t) => {
  const r = await recording({ delayMs: 2 });
  const journal = new Journal(r.plugin);
  const pending = Promise.all([journal.append(write('c', 1)), journal.append(write('d', 1))]);
  await journal.close();
  await pending;
  await t.rejects(journal.append(write('c', 2)), { code: 'ERR_STORE_CLOSED' });
});
