import t from 'tap';
import { parseBenchArgs } from '../../../src/persistence/bench/cli.js';
import { buildReport, formatTable } from '../../../src/persistence/bench/report.js';
import { measurePlugin } from '../../../src/persistence/bench/runner.js';
import { benchTarget } from '../../../src/persistence/bench/targets.js';

t.test('cloudstate-bench arguments: each store, and clear errors', async (t) => {
  t.same(parseBenchArgs(['--store', 'leveldb', '--directory', '/d', '--quick']), { help: false, config: { kind: 'leveldb', directory: '/d' }, quick: true, json: undefined });
  t.same(parseBenchArgs(['--store', 'postgres', '--url', 'postgres://x', '--json', 'o.json']), { help: false, config: { kind: 'postgres', connectionString: 'postgres://x' }, quick: false, json: 'o.json' });
  t.same(parseBenchArgs(['--store', 'cassandra', '--contact-points', 'a,b']), {
    help: false,
    config: { kind: 'cassandra', contactPoints: ['a', 'b'], localDataCenter: 'datacenter1', keyspace: 'cloudstate_bench' },
    quick: false,
    json: undefined,
  });
  t.same(parseBenchArgs(['--help']), { help: true });
  t.throws(() => parseBenchArgs([]), /--store is required/);
  t.throws(() => parseBenchArgs(['--store', 'leveldb']), /needs --directory/);
  t.throws(() => parseBenchArgs(['--store', 'mongo']), /unknown store "mongo"/);
  t.throws(() => parseBenchArgs(['--store', 'memory', '--bogus']), /Unknown option/);
});

t.test('a small real run against the memory plugin reports every figure, and the report judges the targets', async (t) => {
  const target = benchTarget({ kind: 'memory' });
  const plugin = await target.open();
  const raw = await target.openRaw!();
  const progress: string[] = [];
  const m = await measurePlugin(plugin, raw, { singleWriterEvents: 20, entities: 8, eventsPerEntity: 5, replayEvents: 200, payloadBytes: 10, rounds: 1 }, (s) => progress.push(s));
  await raw.close();
  await plugin.close();
  for (const [k, v] of Object.entries(m)) t.ok(Number.isFinite(v) && (v as number) > 0, `${k} = ${v}`);
  t.ok(progress.some((p) => p.startsWith('[memory] round 1/1')), 'progress names the plugin and the round');

  const fake = { ...m, ratio: 0.79, persist10kMs: 999, recover10kMs: 1000 };
  const report = buildReport({ leveldb: fake }, { cores: 2, memoryGiB: 24, node: 'v20', cpuModel: 'x' }, 'quick', { cassandra: 'why' }, 'now');
  const leveldb = report.leveldb as { ratio: number; targets: { ratio: { met: boolean }; persist10kMs: { met: boolean }; recover10kMs: { met: boolean } } };
  t.equal(leveldb.targets.ratio.met, false, '0.79 misses the 0.8 target');
  t.equal(leveldb.targets.persist10kMs.met, true);
  t.equal(leveldb.targets.recover10kMs.met, false, '1000 ms is not under 1000 ms');
  t.same(report.skipped, { cassandra: 'why' });
  const table = formatTable({ leveldb: fake });
  t.match(table, /\| leveldb \| .* \| 0\.79 ✗ \|/);
});
