/**
 * `cloudstate-bench`: the persistence benchmark against a store the user names. Argument
 * parsing is pure (`parseBenchArgs`); `main` runs the measurements, prints progress to
 * stderr, the table to stdout, and writes JSON where asked.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { StorageConfig } from '../open-storage.js';
import { buildReport, formatTable } from './report.js';
import { fullSizes, measurePlugin, quickSizes } from './runner.js';
import type { PluginMeasurement } from './runner.js';
import { benchTarget, machine } from './targets.js';
import type { BenchTarget } from './targets.js';

export const usage = `Usage: cloudstate-bench --store <memory|leveldb|postgres|cassandra> [options]

Measures a persistence store: append throughput with 1 writer and with 64 concurrent
entities, the raw driver doing the same work in batches of 64, replay throughput, and the
time to persist and recover 10,000 events of one entity. Durable settings only.

  --store <kind>             memory | leveldb | postgres | cassandra
  --directory <dir>          LevelDB: where to write (journal/ and raw/ are created in it)
  --url <postgres-url>       Postgres: e.g. postgres://user:pass@127.0.0.1:5432/db
  --contact-points <a,b>     Cassandra: hosts
  --local-dc <name>          Cassandra: local data center (default datacenter1)
  --keyspace <name>          Cassandra: keyspace (default cloudstate_bench)
  --quick                    smaller sizes, under a minute
  --json <file>              also write the results as JSON
  --help                     this text
`;

export type BenchArgs = { help: true } | { help: false; config: StorageConfig; quick: boolean; json: string | undefined };

/** Parses the command line; throws an Error with a message for the user on bad input. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      store: { type: 'string' },
      directory: { type: 'string' },
      url: { type: 'string' },
      'contact-points': { type: 'string' },
      'local-dc': { type: 'string' },
      keyspace: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  const need = (name: string, v: string | undefined) => {
    if (!v) throw new Error(`--store ${values.store} needs --${name}`);
    return v;
  };
  let config: StorageConfig;
  switch (values.store) {
    case 'memory':
      config = { kind: 'memory' };
      break;
    case 'leveldb':
      config = { kind: 'leveldb', directory: need('directory', values.directory) };
      break;
    case 'postgres':
      config = { kind: 'postgres', connectionString: need('url', values.url) };
      break;
    case 'cassandra':
      config = {
        kind: 'cassandra',
        contactPoints: need('contact-points', values['contact-points']).split(',').filter(Boolean),
        localDataCenter: values['local-dc'] ?? 'datacenter1',
        keyspace: values.keyspace ?? 'cloudstate_bench',
      };
      break;
    case undefined:
      throw new Error('--store is required (memory, leveldb, postgres or cassandra)');
    default:
      throw new Error(`unknown store ${JSON.stringify(values.store)}: use memory, leveldb, postgres or cassandra`);
  }
  return { help: false, config, quick: values.quick, json: values.json };
}

/** Measures each target in turn; a target that fails to open is reported as skipped. */
export async function runTargets(targets: BenchTarget[], quick: boolean, skipped: Record<string, string> = {}) {
  const results: Record<string, PluginMeasurement> = {};
  for (const target of targets) {
    const plugin = await target.open();
    const raw = await target.openRaw?.();
    try {
      results[target.name] = await measurePlugin(plugin, raw, quick ? quickSizes : fullSizes, (m) => process.stderr.write(`${m}\n`));
    } finally {
      await raw?.close();
      await plugin.close();
    }
  }
  return { results, report: buildReport(results, machine(), quick ? 'quick' : 'full', skipped, new Date().toISOString()), table: formatTable(results) };
}

export async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`cloudstate-bench: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(usage);
    return 0;
  }
  const { report, table } = await runTargets([benchTarget(args.config)], args.quick);
  process.stdout.write(`${table}\n`);
  if (args.json) writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
