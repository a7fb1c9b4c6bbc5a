import { randomBytes } from 'node:crypto';
import t from 'tap';
import { openCassandraStorage } from '../../src/persistence/plugins/cassandra/index.js';
import { JournalFailureError } from '../../src/persistence/spi/index.js';
import { runStorageConformance } from '../../src/persistence/testkit/index.js';

t.test('with no reachable host, opening fails promptly with a clear error', async (t) => {
  const started = Date.now();
  const err = await openCassandraStorage({ contactPoints: ['127.0.0.1:1'], localDataCenter: 'dc1', connectTimeoutMs: 1000 }).catch((e: unknown) => e);
  t.ok(err instanceof JournalFailureError, 'a JournalFailureError');
  t.match((err as Error).message, /Cassandra is unreachable during connecting to 127\.0\.0\.1:1/);
  t.ok(Date.now() - started < 10_000, 'without hanging');
});

const contactPoints = process.env.CASSANDRA_CONTACT_POINTS;
if (!contactPoints) {
  const why = 'Cassandra conformance SKIPPED: no Cassandra server here; set CASSANDRA_CONTACT_POINTS=host1,host2 (and CASSANDRA_LOCAL_DC, default datacenter1) to run it';
  process.stderr.write(`${why}\n`);
  t.test('cassandra conformance kit', { skip: why }, async () => undefined);
} else {
  const keyspace = `cs_test_${randomBytes(4).toString('hex')}`;
  runStorageConformance(t, {
    name: 'cassandra',
    durable: true,
    eventsByTag: false,
    open: () => openCassandraStorage({ contactPoints: contactPoints.split(','), localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1', keyspace }),
    openSecondClient: () => openCassandraStorage({ contactPoints: contactPoints.split(','), localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1', keyspace }),
  });
}
