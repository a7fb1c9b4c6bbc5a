import t from 'tap';
import { checkPartitionSize, partitionOf, partitionsToScan } from '../../../src/persistence/plugins/cassandra/partitions.js';
import { checkKeyspace, schemaCql } from '../../../src/persistence/plugins/cassandra/schema.js';

t.test('a write goes to the partition of its first seqNr', async (t) => {
  const table: [first: number, size: number, partition: number][] = [
    [1, 5000, 0],
    [5000, 5000, 0],
    [5001, 5000, 1],
    [10_000, 5000, 1],
    [10_001, 5000, 2],
    [1, 1000, 0],
  ];
  for (const [first, size, p] of table) t.equal(partitionOf(first, size), p, `first ${first}, size ${size}`);
});

t.test('a replay scans every partition that can hold its seqNrs, and only those', async (t) => {
  const table: [from: number, to: number, first: number, last: number][] = [
    [1, 100, 0, 0],
    [1, 5001, 0, 1],
    [5001, 5001, 0, 1],
    [12_000, 30_000, 1, 5],
    [25_001, 25_001, 4, 5],
  ];
  for (const [from, to, first, last] of table) t.same(partitionsToScan(from, to, 5000), { first, last }, `[${from}, ${to}]`);
});

t.test('every event of writes up to 1000 events lies inside the scanned partitions', async (t) => {
  const size = 1000;
  // Simulate a history of writes of varying length and check each event's partition.
  const where = new Map<number, number>();
  for (let seq = 1, n = 1; seq < 20_000; seq += n, n = (n * 7) % 1000 || 1) {
    for (let s = seq; s < seq + n; s++) where.set(s, partitionOf(seq, size));
  }
  for (const [seq, partition] of where) {
    const { first, last } = partitionsToScan(seq, seq, size);
    if (partition < first || partition > last) t.fail(`seqNr ${seq} in partition ${partition}, outside [${first}, ${last}]`);
  }
  t.pass(`checked ${where.size} events`);
  t.throws(() => checkPartitionSize(999, 1000), RangeError);
  t.equal(checkPartitionSize(5000, 1000), 5000);
});

t.test('keyspace names are validated before they reach CQL', async (t) => {
  t.equal(checkKeyspace('cloudstate_1'), 'cloudstate_1');
  t.throws(() => checkKeyspace('x; DROP KEYSPACE y'), TypeError);
  t.throws(() => schemaCql('ok', 0), RangeError);
  t.match(schemaCql('ks', 3)[0], /'replication_factor': 3/);
});
