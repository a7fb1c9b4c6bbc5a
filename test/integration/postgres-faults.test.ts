import t from 'tap';
import { silentLogger } from '../../src/core/index.js';
import { Journal } from '../../src/persistence/journal.js';
import { openPostgresStorage } from '../../src/persistence/plugins/postgres/index.js';
import { JournalFailureError, JournalRejectedError, KeyValueStoreFailureError, SequenceConflictError } from '../../src/persistence/spi/index.js';
import { collect, event, write } from '../../src/persistence/testkit/index.js';
import { startPostgres } from '../support/postgres-server.js';

// fsync on: these tests are about what survives.
const server = await startPostgres({ fsync: true });
t.teardown(() => server.destroy());
const open = (schema?: string) =>
  openPostgresStorage({ connectionString: server.url, logger: silentLogger, connectTimeoutMs: 1000, ...(schema ? { schema } : {}) });

t.test('nodes opening at once create the schema once, without racing', async (t) => {
  const plugins = await Promise.all([open('race_a'), open('race_a'), open('race_a'), open('race_a')]);
  const journal = new Journal(plugins[0]!.journal);
  await journal.append(write('schema-race', 1, 1));
  t.equal(await new Journal(plugins[3]!.journal).highestSeqNr('schema-race'), 1);
  await Promise.all(plugins.map((p) => p.close()));
});

t.test('a NUL character is rejected for its own write only', async (t) => {
  const storage = await open();
  t.teardown(() => storage.close());
  const journal = new Journal(storage.journal);
  const [bad, good] = await Promise.allSettled([
    journal.append({ persistenceId: 'nul', events: [event('nul', 1, { manifest: 'a\u0000b' })] }),
    journal.append(write('beside-nul', 1, 2)),
  ]);
  t.ok(bad.status === 'rejected' && bad.reason instanceof JournalRejectedError, 'the write with NUL is rejected');
  t.match((bad as PromiseRejectedResult).reason.message, /NUL/);
  t.equal(good.status, 'fulfilled', 'the write beside it is stored');
  await journal.append(write('nul', 1, 1));
  t.equal(await journal.highestSeqNr('nul'), 1, 'the writer goes on');
});

t.test('two nodes racing on many ids: one winner per id, the loser stores nothing', async (t) => {
  const [a, b] = await Promise.all([open(), open()]);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const [ja, jb] = [new Journal(a.journal), new Journal(b.journal)];
  const ids = Array.from({ length: 50 }, (_, i) => `duel-${i}`);
  const results = await Promise.all(
    ids.map((id) => Promise.allSettled([ja.append(write(id, 1, 2, { writerId: 'a' })), jb.append(write(id, 1, 2, { writerId: 'b' }))])),
  );
  for (const [i, r] of results.entries()) {
    const won = r.filter((x) => x.status === 'fulfilled').length;
    t.equal(won, 1, `${ids[i]}: one winner`);
    const lost = r.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    t.ok(lost.reason instanceof SequenceConflictError, `${ids[i]}: the loser gets a sequence conflict`);
    const events = await collect(ja.replay(ids[i]!));
    t.equal(new Set(events.map((e) => e.writerId)).size, 1, `${ids[i]}: events of one writer only`);
  }
});

t.test('the server dies mid-write: calls fail clearly, nothing acknowledged is lost, and calls work once it is back', async (t) => {
  const storage = await open();
  t.teardown(() => storage.close());
  const journal = new Journal(storage.journal);
  const acked = new Map<string, number>();
  const outcomes: unknown[] = [];
  let stop = false;
  const writers = Array.from({ length: 16 }, async (_, i) => {
    const id = `crash-${i}`;
    for (let s = 1; !stop; s++) {
      try {
        await journal.append(write(id, s, 1));
        acked.set(id, s);
      } catch (err) {
        outcomes.push(err);
        return;
      }
    }
  });
  while ([...acked.values()].reduce((n, v) => n + v, 0) < 300) await new Promise((r) => setTimeout(r, 5));
  await server.kill();
  stop = true;
  await Promise.all(writers);
  t.ok(outcomes.length > 0, 'writes in flight when the server died failed');
  for (const err of outcomes) {
    t.ok(err instanceof JournalFailureError, 'as JournalFailureError');
    t.match((err as Error).message, /PostgreSQL/);
  }

  // While it is down: clear, prompt errors from every store.
  const down = await journal.append(write('while-down', 1, 1)).catch((e: unknown) => e);
  t.ok(down instanceof JournalFailureError, 'append while down fails');
  t.match((down as Error).message, /unreachable/);
  await t.rejects(storage.keyValueStore.get('x'), KeyValueStoreFailureError);

  await server.restart();
  for (const [id, last] of acked) {
    const events = await collect(journal.replay(id));
    t.ok(events.length >= last, `${id}: ${events.length} stored, ${last} acknowledged`);
    t.same(events.map((e) => e.seqNr), Array.from({ length: events.length }, (_, i) => i + 1), `${id}: in order, no gaps`);
  }
  await journal.append(write('after-restart', 1, 3));
  t.equal(await journal.highestSeqNr('after-restart'), 3, 'appends work again');
  t.equal(await storage.keyValueStore.upsert('after-restart', { payload: new Uint8Array(1), manifest: '' }), 1);
});
