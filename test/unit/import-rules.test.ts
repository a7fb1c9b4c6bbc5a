import t from 'tap';
import { importViolation } from '../../scripts/import-rules.js';

// [importing file (relative to src/), specifier, allowed?]
const cases: [string, string, boolean][] = [
  ['cluster/state.ts', '../core/index.js', true],
  ['cluster/state.ts', './formulas.js', true],
  ['cluster/state.ts', 'node:dgram', true],
  ['cluster/state.ts', 'eventemitter3', true],
  ['core/clock.ts', '../cluster/index.js', false],
  ['cluster/state.ts', '../persistence/index.js', false],
  ['cluster/state.ts', '../core/clock.js', false],
  ['persistence/journal.ts', '../core/index.js', true],
  ['persistence/journal.ts', '../cluster/index.js', false],
  ['crdt/replicator.ts', '../cluster/index.js', true],
  ['crdt/replicator.ts', '../cluster/membership.js', false],
  ['sharding/shard.ts', '../persistence/index.js', true],
  ['sharding/shard.ts', '../crdt/index.js', true],
  ['sharding/shard.ts', '../proxy/index.js', false],
  ['autoscale/decide.ts', '../persistence/index.js', false],
  ['proxy/discovery.ts', '../sharding/index.js', true],
  ['proxy/discovery.ts', '../sharding/region.js', false],
  ['function/server.ts', '../cluster/index.js', false],
  ['function/server.ts', '../core/index.js', true],
  ['testkit/index.ts', '../persistence/testkit/index.js', true],
  ['index.ts', './sharding/index.js', true],
  ['index.ts', './proxy/index.js', false],
  ['persistence/plugins/postgres/journal.ts', 'pg', true],
  ['persistence/plugins/postgres/journal.ts', './schema.js', true],
  ['persistence/plugins/postgres/journal.ts', '../../spi/index.js', true],
  ['persistence/plugins/postgres/journal.ts', '../../../core/index.js', true],
  ['persistence/plugins/postgres/journal.ts', '../../journal.js', false],
  ['persistence/plugins/postgres/journal.ts', '../../spi/journal.js', false],
  ['persistence/plugins/postgres/journal.ts', '../leveldb/index.js', false],
  ['persistence/plugins/postgres/journal.ts', 'level', false],
  ['persistence/plugins/postgres/journal.ts', 'pino', false],
  ['persistence/plugins/leveldb/db.ts', 'level', true],
  ['persistence/plugins/leveldb/db.ts', 'node:zlib', true],
  ['persistence/journal.ts', 'pg', false],
  ['sharding/x.ts', 'cassandra-driver', false],
  ['core/x.ts', '../../outside.js', false],
];

for (const [file, spec, allowed] of cases) {
  const why = importViolation(file, spec);
  t.equal(why === undefined, allowed, `${file} → ${spec}: ${allowed ? 'allowed' : 'forbidden'}${why ? ` (${why})` : ''}`);
}
