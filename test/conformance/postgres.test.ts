import pg from 'pg';
import t from 'tap';
import { silentLogger } from '../../src/core/index.js';
import { createPostgresSchema, openPostgresStorage, schemaDdl } from '../../src/persistence/plugins/postgres/index.js';
import type { PostgresStorageOptions } from '../../src/persistence/plugins/postgres/index.js';
import { postgresSchemaDdl } from '../../src/persistence/index.js';
import { SequenceConflictError } from '../../src/persistence/spi/index.js';
import { collect, runStorageConformance, uniqueId, write } from '../../src/persistence/testkit/index.js';
import { startPostgres } from '../support/postgres-server.js';

// A real PostgreSQL server, started for this file (fsync off: durability is not what these
// cases measure; the fault tests run with fsync on).
const server = await startPostgres({ fsync: false });
t.teardown(() => server.destroy());

const open = (extra: Partial<PostgresStorageOptions> = {}) => openPostgresStorage({ connectionString: server.url, logger: silentLogger, ...extra });
runStorageConformance(t, { name: 'postgres', durable: true, open: () => open(), openSecondClient: () => open() });

// What the kit cannot see from outside: paging, the deleted marker row, the schema commands.

/** Runs `sql` on a connection of its own. */
async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

t.test('replay and events by tag page through more than one query and honour max and limit across pages', async (t) => {
  const storage = await open();
  t.teardown(() => storage.close());
  const { journal } = storage;
  const [id, tag] = [uniqueId('pages'), uniqueId('pages-tag')];
  for (let s = 1; s <= 2500; s += 500) t.same(await journal.writeBatch([write(id, s, 500, { tags: [tag] })]), [undefined]);
  const seqNrs = (events: { seqNr: number }[]) => events.map((e) => e.seqNr);
  const all = await collect(journal.replay(id, 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
  t.same(seqNrs(all), Array.from({ length: 2500 }, (_, i) => i + 1), 'every event once, in order, across three pages');
  const capped = await collect(journal.replay(id, 1, Number.MAX_SAFE_INTEGER, 1500));
  t.equal(capped.length, 1500, 'max is honoured across pages');
  t.equal(capped.at(-1)?.seqNr, 1500);
  t.same(seqNrs(await collect(journal.replay(id, 999, 1001, 10))), [999, 1000, 1001], 'a range across a page boundary');

  const tagged = await collect(journal.currentEventsByTag!(tag, 0, Number.MAX_SAFE_INTEGER));
  t.equal(tagged.length, 2500);
  t.ok(tagged.every((e, i) => i === 0 || e.offset > tagged[i - 1]!.offset), 'offsets increase across pages');
  t.same(await collect(journal.currentEventsByTag!(tag, tagged[999]!.offset, 1200)), tagged.slice(1000, 2200), 'resume + limit across pages');
});

t.test('deleteTo keeps only the highest row, marked deleted, and a stale writer learns the stored highest', async (t) => {
  const storage = await open();
  t.teardown(() => storage.close());
  const { journal } = storage;
  const id = uniqueId('marker');
  const tag = uniqueId('marker-tag');
  await journal.writeBatch([write(id, 1, 10, { tags: [tag] })]);
  await journal.deleteTo(id, 4);
  t.same((await sql<{ n: number }>('SELECT count(*)::int AS n FROM event_journal WHERE persistence_id = $1', [id]))[0]?.n, 6, 'rows 1–4 are gone');
  await journal.deleteTo(id, 10);
  const rows = await sql<{ seq_nr: string; deleted: boolean; size: number }>(
    'SELECT seq_nr, deleted, length(payload) AS size FROM event_journal WHERE persistence_id = $1',
    [id],
  );
  t.same(rows, [{ seq_nr: '10', deleted: true, size: 0 }], 'one marker row: the highest, deleted, payload dropped');
  t.equal(await journal.highestSeqNr(id), 10);
  t.same(await collect(journal.currentEventsByTag!(tag, 0, 100)), [], 'the marker is not an event by tag');
  const [outcome] = await journal.writeBatch([write(id, 6, 1, { writerId: 'stale' })]);
  t.ok(outcome instanceof SequenceConflictError, 'a stale writer conflicts');
  t.equal((outcome as SequenceConflictError).actualHighestSeqNr, 10, 'and is told the stored highest');
  t.equal((outcome as SequenceConflictError).expectedHighestSeqNr, 5);
});

t.test('the schema: created ahead of time from code or by the documented psql command, then opened without DDL', async (t) => {
  await createPostgresSchema(server.url, 'ahead_of_time');
  await createPostgresSchema(server.url, 'ahead_of_time'); // idempotent
  const storage = await open({ schema: 'ahead_of_time', createSchema: false });
  await storage.journal.writeBatch([write('in-ahead', 1, 2)]);
  t.equal(await storage.journal.highestSeqNr('in-ahead'), 2);
  await storage.close();
  t.equal((await sql<{ n: number }>('SELECT count(*)::int AS n FROM ahead_of_time.event_journal'))[0]?.n, 2, 'stored in that schema');

  // The README's command: postgresSchemaDdl from the package's persistence entry, piped to psql.
  const ddl = postgresSchemaDdl('by_hand');
  t.equal(ddl, schemaDdl('by_hand'));
  t.match(ddl, /CREATE SCHEMA IF NOT EXISTS by_hand;[\s\S]*CREATE TABLE IF NOT EXISTS by_hand\.event_journal/);
  await sql(ddl); // an operator runs it, twice
  await sql(ddl);
  const tables = await sql<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'by_hand' ORDER BY 1");
  t.same(tables.map((r) => r.t), ['durable_state', 'event_journal', 'snapshot']);
  // An application role that may not run DDL opens the plugin over them (it runs none).
  await sql(`CREATE ROLE app LOGIN; GRANT USAGE ON SCHEMA by_hand TO app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA by_hand TO app; GRANT USAGE ON ALL SEQUENCES IN SCHEMA by_hand TO app`);
  const asApp = await open({ schema: 'by_hand', connectionString: server.url.replace('postgres@', 'app@') });
  t.same(await asApp.journal.writeBatch([write('in-by-hand', 1, 2, { tags: ['x'] })]), [undefined]);
  t.equal(await asApp.keyValueStore.upsert('k', { payload: new Uint8Array(1), manifest: '' }), 1);
  await asApp.close();
  await t.rejects(open({ schema: 'not_prepared', connectionString: server.url.replace('postgres@', 'app@') }), {
    code: 'ERR_JOURNAL_FAILURE',
    message: /PostgreSQL schema creation failed: permission denied/,
  }, 'where it would need DDL, it says so');

  for (const bad of ['Public', 'a-b', 'x; DROP TABLE event_journal', '1abc', '']) {
    await t.rejects(open({ schema: bad }), TypeError, `schema name ${JSON.stringify(bad)} is refused`);
  }
  t.throws(() => schemaDdl('a"b'), TypeError);
});

t.test('opening fails clearly when the tables cannot be there', async (t) => {
  const err = await open({ schema: 'never_made', createSchema: false })
    .then((s) => s.journal.highestSeqNr('x').finally(() => s.close()))
    .catch((e: unknown) => e);
  t.match(err, { code: 'ERR_JOURNAL_FAILURE', message: /PostgreSQL highest seqNr failed: .*never_made\.event_journal.* does not exist/ });
});
