// `npm run bench:persistence [-- --quick]`: every plugin in one run, each beside its raw
// driver. Starts its own PostgreSQL server (fsync on); LevelDB in a temp directory;
// Cassandra only when CASSANDRA_CONTACT_POINTS is set. Prints a table and writes
// benchmarks/results/persistence.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.js';
import { runTargets } from '../src/persistence/bench/cli.js';
import { benchTarget } from '../src/persistence/bench/targets.js';
import type { BenchTarget } from '../src/persistence/bench/targets.js';
import { startPostgres } from '../test/support/postgres-server.js';

const quick = process.argv.includes('--quick');
const directory = mkdtempSync(join(tmpdir(), 'cs-bench-'));
process.stderr.write('starting PostgreSQL (fsync on, synchronous_commit on)…\n');
const postgres = await startPostgres({ fsync: true });
try {
  const targets: BenchTarget[] = [
    benchTarget({ kind: 'memory' }),
    benchTarget({ kind: 'leveldb', directory }),
    benchTarget({ kind: 'postgres', connectionString: postgres.url, logger: silentLogger }),
  ];
  const skipped: Record<string, string> = {};
  const contactPoints = process.env.CASSANDRA_CONTACT_POINTS;
  if (contactPoints) {
    targets.push(benchTarget({ kind: 'cassandra', contactPoints: contactPoints.split(','), localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1', keyspace: 'cloudstate_bench' }));
  } else {
    skipped.cassandra = 'no Cassandra server here (set CASSANDRA_CONTACT_POINTS to measure it)';
    process.stderr.write(`cassandra: SKIPPED, ${skipped.cassandra}\n`);
  }
  const { report, table } = await runTargets(targets, quick, skipped);
  const out = join(import.meta.dirname, 'results', 'persistence.json');
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const m = report.machine;
  process.stdout.write(`\n${table}\n\nmachine: ${m.cores} cores, ${m.memoryGiB} GiB, ${m.cpuModel}, node ${m.node}; mode ${report.mode}\nwrote ${out}\n`);
} finally {
  await postgres.destroy();
  rmSync(directory, { recursive: true, force: true });
}
