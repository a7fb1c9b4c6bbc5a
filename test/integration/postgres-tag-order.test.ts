import pg from 'pg';
import t from 'tap';
import { silentLogger } from '../../src/core/index.js';
import { Journal } from '../../src/persistence/journal.js';
import { openPostgresStorage } from '../../src/persistence/plugins/postgres/index.js';
import type { PostgresStorageOptions } from '../../src/persistence/plugins/postgres/index.js';
import { appendStatement, appendValues } from '../../src/persistence/plugins/postgres/append.js';
import type { EventEnvelope, StoragePlugin } from '../../src/persistence/spi/index.js';
import { collect, uniqueId, write } from '../../src/persistence/testkit/index.js';
import { startPostgres, until } from '../support/postgres-server.js';

// Events by tag with several writers over one database: a visible ordering N means every ordering
// below N is committed or gone, so a poller that resumes after the last offset it read (as the
// proxy's eventing consumer does) never passes over an event. fsync on: commits take as long as
// they do in production, which is the window in which a later ordering could overtake.
const server = await startPostgres({ fsync: true });
t.teardown(() => server.destroy());
const open = (options: Partial<PostgresStorageOptions> = {}) => openPostgresStorage({ connectionString: server.url, logger: silentLogger, ...options });

/** A reader that tracks its offset as the eventing consumer does: each poll resumes after the last offset it read. */
function poller(journal: Journal, tag: string) {
  const seen: EventEnvelope[] = [];
  return {
    seen,
    async poll(): Promise<EventEnvelope[]> {
      const batch = await collect(journal.currentEventsByTag(tag, seen.at(-1)?.offset ?? 0, 100));
      seen.push(...batch);
      return batch;
    },
  };
}

const ids = (envelopes: readonly EventEnvelope[]) => envelopes.map((e) => `${e.event.persistenceId}#${e.event.seqNr}`);

t.test('a write committing later under a lower ordering is not passed over by a poll made in between', async (t) => {
  const storage = await open({ schema: 'held' });
  const other = new pg.Client({ connectionString: server.url });
  await other.connect();
  t.teardown(async () => {
    await other.end();
    await storage.close();
  });
  const journal = new Journal(storage.journal);
  const tag = uniqueId('held-tag');
  const [first, second] = [uniqueId('first'), uniqueId('second')];
  const reader = poller(journal, tag);
  const sequence = (await other.query<{ s: string }>("SELECT pg_get_serial_sequence('held.event_journal', 'ordering') AS s")).rows[0]!.s;
  // The sequence is not transactional: its last value shows what every writer has drawn so far.
  const drawn = async () => Number((await sqlOn<{ v: string }>(server.url, `SELECT last_value AS v FROM ${sequence}`))[0]!.v);

  // Another node's transaction: the plugin's own statement, left uncommitted.
  await other.query('BEGIN');
  const { withTags, values } = appendValues([write(first, 1, 1, { tags: [tag] })]);
  await other.query(appendStatement('held.event_journal', withTags), values);
  const firstOrdering = await drawn();

  // This node writes meanwhile; with the lock it waits until the other transaction ends.
  let secondDone = false;
  const second$ = journal.append(write(second, 1, 2, { tags: [tag] })).then(() => (secondDone = true));
  await until('the second write has committed or waits for a lock', async () => secondDone || (await waitingOnLock(server.url)));
  t.equal(await drawn(), firstOrdering, 'the waiting write has drawn no ordering yet');
  t.same(ids(await reader.poll()), [], 'a poll meanwhile returns neither event');

  await other.query('COMMIT');
  await second$;
  t.same(ids(await reader.poll()), [`${first}#1`, `${second}#1`, `${second}#2`], 'after both commit, the poll returns both writes, the first first');
  t.same(ids(await reader.poll()), [], 'and nothing again');
  t.same(ids(reader.seen), ids(await collect(journal.currentEventsByTag(tag))), 'every event read exactly once, in order');
  t.ok(reader.seen.every((e, i) => i === 0 || e.offset > reader.seen[i - 1]!.offset), 'offsets increase');
});

t.test('several nodes appending at once: a poller tracking its offset never skips an event', async (t) => {
  const nodes: StoragePlugin[] = await Promise.all(Array.from({ length: 5 }, () => open({ schema: 'stress', poolSize: 4 })));
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [readingNode, ...writingNodes] = nodes;
  const journals = writingNodes.map((n) => new Journal(n.journal));
  const tag = uniqueId('stress-tag');
  const reader = poller(new Journal(readingNode!.journal), tag);

  // Each node: 6 entities, 50 single-event writes each, all at once (group-committed batches).
  const written: string[] = [];
  const writers = journals.flatMap((journal, n) =>
    Array.from({ length: 6 }, async (_, e) => {
      const id = uniqueId(`node${n}-entity${e}`);
      for (let seqNr = 1; seqNr <= 50; seqNr++) {
        await journal.append(write(id, seqNr, 1, { tags: [tag], writerId: `node${n}` }));
        written.push(`${id}#${seqNr}`);
      }
    }),
  );
  let writing = true;
  const done = Promise.all(writers).finally(() => (writing = false));
  let polls = 0;
  while (writing) {
    await reader.poll();
    polls++;
  }
  await done;
  while ((await reader.poll()).length > 0);

  const read = ids(reader.seen);
  t.equal(read.length, written.length, `${written.length} events written, each read once (in ${polls} polls while writing)`);
  t.same([...read].sort(), [...written].sort(), 'no event skipped, none read twice');
  t.ok(reader.seen.every((e, i) => i === 0 || e.offset > reader.seen[i - 1]!.offset), 'offsets increase');
  t.ok(polls > 10, 'the poller ran while the nodes wrote');
});

/** Runs one statement on a connection of its own. */
async function sqlOn<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** True when some backend of the plugin's pools waits for a lock. */
async function waitingOnLock(url: string): Promise<boolean> {
  const rows = await sqlOn<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'cloudstate' AND wait_event_type = 'Lock'");
  return rows[0]!.n > 0;
}
