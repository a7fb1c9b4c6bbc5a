import pg from 'pg';
import { pino } from 'pino';
import t from 'tap';
import { silentLogger } from '../../src/core/index.js';
import type { Logger } from '../../src/core/index.js';
import { Journal } from '../../src/persistence/journal.js';
import { openPostgresStorage } from '../../src/persistence/plugins/postgres/index.js';
import { PostgresKeyValueStore } from '../../src/persistence/plugins/postgres/key-value-store.js';
import type { PostgresStorageOptions } from '../../src/persistence/plugins/postgres/index.js';
import {
  JournalFailureError,
  JournalRejectedError,
  KeyValueStoreFailureError,
  RevisionConflictError,
  SequenceConflictError,
  SnapshotStoreFailureError,
} from '../../src/persistence/spi/index.js';
import { collect, event, uniqueId, write } from '../../src/persistence/testkit/index.js';
import { startPostgres, until } from '../support/postgres-server.js';

// fsync on: these tests are about what survives.
const server = await startPostgres({ fsync: true });
t.teardown(() => server.destroy());
const open = (options: Partial<PostgresStorageOptions> = {}) =>
  openPostgresStorage({ connectionString: server.url, logger: silentLogger, connectTimeoutMs: 1000, ...options });

const writerIds = async (journal: Journal, id: string) => (await collect(journal.replay(id))).map((e) => `${e.seqNr}:${e.writerId}`);

t.test('nodes opening at once create the schema once, without racing', async (t) => {
  const plugins = await Promise.all([open({ schema: 'race_a' }), open({ schema: 'race_a' }), open({ schema: 'race_a' }), open({ schema: 'race_a' })]);
  await new Journal(plugins[0]!.journal).append(write('schema-race', 1, 1));
  t.equal(await new Journal(plugins[3]!.journal).highestSeqNr('schema-race'), 1);
  await Promise.all(plugins.map((p) => p.close()));
});

t.test('values PostgreSQL cannot hold are rejections of their own write; the rest of the batch is stored', async (t) => {
  const storage = await open();
  t.teardown(() => storage.close());
  const ids = Array.from({ length: 6 }, (_, i) => uniqueId(`unstorable-${i}`));
  const outcomes = await storage.journal.writeBatch([
    { persistenceId: ids[0]!, events: [event(ids[0]!, 1), event(ids[0]!, 2, { manifest: 'a\u0000b' })] },
    write(ids[1]!, 1, 2),
    write(ids[2]!, 1, 1, { tags: ['ok', 'half a pair \uD83D'] }),
    write(ids[3]!, 1, 1, { timestamp: 1e300 }),
    write(`${ids[4]!}\u0000`, 1, 1),
    write(ids[5]!, 1, 3, { writerId: 'w-\uD83D\uDE00' }),
  ]);
  t.same(
    outcomes.map((o) => o?.constructor.name),
    ['JournalRejectedError', undefined, 'JournalRejectedError', 'JournalRejectedError', 'JournalRejectedError', undefined],
    'one outcome per write, in order',
  );
  t.match(outcomes[0], { code: 'ERR_JOURNAL_REJECTED', message: /NUL/ });
  const journal = new Journal(storage.journal);
  t.same(await Promise.all(ids.map((id) => journal.highestSeqNr(id))), [0, 2, 0, 0, 0, 3], 'nothing of a rejected write is stored');
  t.same(await writerIds(journal, ids[5]!), ['1:w-\uD83D\uDE00', '2:w-\uD83D\uDE00', '3:w-\uD83D\uDE00'], 'a proper surrogate pair is fine');

  // Through the façade: the caller with the bad write is told, its neighbour is not disturbed.
  const [bad, good] = await Promise.allSettled([
    journal.append({ persistenceId: ids[0]!, events: [event(ids[0]!, 1, { manifest: 'a\u0000b' })] }),
    journal.append(write(uniqueId('beside-nul'), 1, 2)),
  ]);
  t.ok(bad.status === 'rejected' && bad.reason instanceof JournalRejectedError, 'the write with NUL is rejected');
  t.equal(good.status, 'fulfilled', 'the write beside it is stored');
  await journal.append(write(ids[0]!, 1, 1));
  t.equal(await journal.highestSeqNr(ids[0]!), 1, 'the writer goes on');

  // The stores have no rejection outcome: a clear failure of that call, and the store goes on.
  await t.rejects(storage.keyValueStore.upsert('k\u0000', { payload: new Uint8Array(1), manifest: '' }), KeyValueStoreFailureError);
  t.equal(await storage.keyValueStore.get('k\u0000'), undefined);
  await t.rejects(storage.snapshotStore.save({ persistenceId: 's', seqNr: 1, timestamp: 0, manifest: '\u0000' }, new Uint8Array(1)), SnapshotStoreFailureError);
  t.equal(await storage.keyValueStore.upsert(uniqueId('kv-after-nul'), { payload: new Uint8Array(1), manifest: '' }), 1);
});

t.test('another node wins the race between the check and the insert: exactly that write conflicts, the rest of the batch is stored', async (t) => {
  const storage = await open();
  const other = new pg.Client({ connectionString: server.url, application_name: 'other-node' });
  await other.connect();
  t.teardown(async () => {
    await other.end();
    await storage.close();
  });
  const waitingOnALock = async () =>
    (await other.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'cloudstate' AND wait_event_type = 'Lock'")).rows.length > 0;
  const journal = new Journal(storage.journal);

  for (const otherNode of ['COMMIT', 'ROLLBACK'] as const) {
    const [contested, a, b] = [uniqueId('contested'), uniqueId('bystander'), uniqueId('bystander')];
    // The other node's insert of seqNr 1 is not committed yet: our check sees highest 0, and
    // our insert waits on the primary key until the other node's transaction ends.
    await other.query('BEGIN');
    await other.query(
      "INSERT INTO event_journal (persistence_id, seq_nr, writer_id, write_timestamp, manifest, payload) VALUES ($1, 1, 'other-node', 0, '', '\\x')",
      [contested],
    );
    const batch = storage.journal.writeBatch([write(a, 1, 2), write(contested, 1, 2, { writerId: 'us' }), write(b, 1, 1)]);
    await until('our batch waits on the other node', waitingOnALock);
    await other.query(otherNode);
    const outcomes = await batch;
    if (otherNode === 'COMMIT') {
      t.same(outcomes.map((o) => o?.constructor.name), [undefined, 'SequenceConflictError', undefined], 'the other node won: only that write conflicts');
      t.same(await writerIds(journal, contested), ['1:other-node'], 'nothing of ours is stored for the contested id');
    } else {
      t.same(outcomes, [undefined, undefined, undefined], 'the other node rolled back: no conflict at all');
      t.same(await writerIds(journal, contested), ['1:us', '2:us']);
    }
    t.same(await writerIds(journal, a), ['1:writer-1', '2:writer-1'], 'the writes beside it are stored');
    t.same(await writerIds(journal, b), ['1:writer-1']);
  }
});

t.test('two nodes racing on many ids and keys: one winner each, nothing of the loser stored', async (t) => {
  const [a, b] = await Promise.all([open(), open()]);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const [ja, jb] = [new Journal(a.journal), new Journal(b.journal)];
  const ids = Array.from({ length: 50 }, () => uniqueId('duel'));
  const results = await Promise.all(
    ids.map((id) => Promise.allSettled([ja.append(write(id, 1, 2, { writerId: 'a' })), jb.append(write(id, 1, 2, { writerId: 'b' }))])),
  );
  for (const [i, r] of results.entries()) {
    t.equal(r.filter((x) => x.status === 'fulfilled').length, 1, `${ids[i]}: one winner`);
    const lost = r.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    t.ok(lost.reason instanceof SequenceConflictError, `${ids[i]}: the loser gets a sequence conflict`);
    const stored = await collect(ja.replay(ids[i]!));
    t.same(stored.map((e) => e.seqNr), [1, 2]);
    t.equal(new Set(stored.map((e) => e.writerId)).size, 1, `${ids[i]}: events of one writer only`);
  }

  const keys = Array.from({ length: 20 }, () => uniqueId('kv-duel'));
  await Promise.all(keys.map((k) => a.keyValueStore.upsert(k, { payload: new Uint8Array([0]), manifest: '' })));
  for (const k of keys) {
    const r = await Promise.allSettled([
      a.keyValueStore.upsert(k, { payload: new Uint8Array([1]), manifest: 'a' }, 1),
      b.keyValueStore.upsert(k, { payload: new Uint8Array([2]), manifest: 'b' }, 1),
    ]);
    t.equal(r.filter((x) => x.status === 'fulfilled').length, 1, `${k}: one upsert wins`);
    t.ok((r.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason instanceof RevisionConflictError);
    const stored = await b.keyValueStore.get(k);
    t.equal(stored?.revision, 2);
    t.equal(stored?.manifest, r[0]!.status === 'fulfilled' ? 'a' : 'b', `${k}: the winner's value`);
  }
});

t.test('a key-value batch that loses a lock conflict with another node (deadlock) is made again one statement each', async (t) => {
  const storage = await open({ schema: 'kv_deadlock' });
  t.teardown(() => storage.close());
  const pool = new pg.Pool({ connectionString: server.url, max: 4 });
  t.teardown(() => pool.end());
  let injected = 0;
  // The pool as the store sees it: its first batch statement fails as PostgreSQL reports a deadlock.
  const losing = new Proxy(pool, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop !== 'query') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return (config: unknown, values?: unknown[]) => {
        const name = (config as { name?: string }).name ?? '';
        if (name.endsWith('-upsert-batch') && injected++ === 0) return Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' }));
        return target.query(config as pg.QueryConfig, values);
      };
    },
  });
  const kv = new PostgresKeyValueStore(losing, 'kv_deadlock');
  const [fresh, kept, stale] = [uniqueId('dl-fresh'), uniqueId('dl-kept'), uniqueId('dl-stale')];
  await Promise.all([kept, stale].map((k) => storage.keyValueStore.upsert(k, { payload: new Uint8Array([0]), manifest: 'old' })));
  const outcomes = await Promise.allSettled([
    kv.upsert(fresh, { payload: new Uint8Array([1]), manifest: 'new' }, 0),
    kv.upsert(kept, { payload: new Uint8Array([1]), manifest: 'new' }, 1),
    kv.upsert(stale, { payload: new Uint8Array([1]), manifest: 'new' }, 5),
  ]);
  t.equal(injected, 1, 'the batch statement failed once');
  t.same(outcomes.slice(0, 2).map((o) => (o.status === 'fulfilled' ? o.value : o.reason)), [1, 2], 'made again one by one: each change applied');
  t.ok(outcomes[2]!.status === 'rejected' && outcomes[2]!.reason instanceof RevisionConflictError, 'a stale expectation still conflicts');
  t.same([(await kv.get(fresh))?.manifest, (await kv.get(kept))?.manifest, (await kv.get(stale))?.manifest], ['new', 'new', 'old']);
  await kv.close();
});

t.test('the server dies mid-write: calls fail clearly, nothing acknowledged is lost, and calls work once it is back', async (t) => {
  const storage = await open();
  t.teardown(() => storage.close());
  const journal = new Journal(storage.journal);
  const acked = new Map<string, number>();
  const failures: unknown[] = [];
  let stop = false;
  const writers = Array.from({ length: 16 }, async () => {
    const id = uniqueId('crash');
    for (let s = 1; !stop; s++) {
      try {
        await journal.append(write(id, s, 1));
        acked.set(id, s);
      } catch (err) {
        failures.push(err);
        return;
      }
    }
  });
  await until('300 appends are acknowledged', () => [...acked.values()].reduce((n, v) => n + v, 0) >= 300);
  await server.kill();
  stop = true;
  await Promise.all(writers);
  t.ok(failures.length > 0, 'writes in flight when the server died failed');
  for (const err of failures) t.match(err, { name: 'JournalFailureError', code: 'ERR_JOURNAL_FAILURE', message: /PostgreSQL/ });

  // While it is down: clear, prompt errors from every store.
  const down = await journal.append(write('while-down', 1, 1)).catch((e: unknown) => e);
  t.ok(down instanceof JournalFailureError, 'append while down fails');
  t.match(down, { code: 'ERR_JOURNAL_FAILURE', message: /PostgreSQL is unreachable/ });
  t.ok((down as Error).cause, 'with the driver error as cause');
  await t.rejects(collect(journal.replay('while-down')), JournalFailureError);
  await t.rejects(storage.keyValueStore.get('x'), KeyValueStoreFailureError);
  await t.rejects(storage.snapshotStore.loadLatest('x'), SnapshotStoreFailureError);

  await server.restart();
  for (const [id, last] of acked) {
    const events = await collect(journal.replay(id));
    t.ok(events.length >= last, `${id}: ${events.length} stored, ${last} acknowledged`);
    t.same(events.map((e) => e.seqNr), Array.from({ length: events.length }, (_, i) => i + 1), `${id}: in order, no gaps`);
  }
  await journal.append(write('after-restart', 1, 3));
  t.equal(await journal.highestSeqNr('after-restart'), 3, 'appends work again');
  t.equal(await storage.keyValueStore.upsert(uniqueId('after-restart'), { payload: new Uint8Array(1), manifest: '' }), 1);
});

t.test('a server restart drops idle connections: logged, not a crash, and the next calls work', async (t) => {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }) as unknown as Logger;
  const storage = await open({ logger, poolSize: 4 });
  t.teardown(() => storage.close());
  const journal = new Journal(storage.journal);
  const id = uniqueId('idle');
  await journal.append(write(id, 1, 2));
  await Promise.all(Array.from({ length: 4 }, () => journal.highestSeqNr(id))); // four idle connections

  await server.stop(); // fast shutdown: the server closes every connection
  await until('the pool reported its idle connections lost', () => warnings.length > 0);
  t.match(warnings[0], /idle PostgreSQL connection lost/);
  await t.rejects(journal.append(write(id, 3, 1)), { code: 'ERR_JOURNAL_FAILURE', message: /unreachable/ });

  await server.restart();
  await journal.append(write(id, 3, 1));
  t.same((await collect(journal.replay(id))).map((e) => e.seqNr), [1, 2, 3], 'acknowledged events kept, new ones stored');
});
