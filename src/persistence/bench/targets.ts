/**
 * What the benchmark measures against: a storage configuration, opened as a plugin, and the
 * plugin's raw-driver baseline beside it (separate table or directory, same durability).
 */
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../open-storage.js';
import type { StorageConfig } from '../open-storage.js';
import type { StoragePlugin } from '../spi/index.js';
import type { Machine } from './report.js';
import type { RawBaseline } from './runner.js';

export interface BenchTarget {
  name: string;
  open(): Promise<StoragePlugin>;
  /** Undefined when there is no raw baseline for the store. */
  openRaw?(): Promise<RawBaseline>;
}

/** The target for a store configuration; LevelDB uses `journal/` and `raw/` under its directory. */
export function benchTarget(config: StorageConfig): BenchTarget {
  switch (config.kind) {
    case 'memory':
      return { name: 'memory', open: () => openStorage(config), openRaw: async () => (await import('../plugins/memory/raw-baseline.js')).openMemoryRawBaseline() };
    case 'leveldb':
      return {
        name: 'leveldb',
        open: () => openStorage({ ...config, directory: join(config.directory, 'journal') }),
        openRaw: async () => (await import('../plugins/leveldb/raw-baseline.js')).openLevelDbRawBaseline(join(config.directory, 'raw')),
      };
    case 'postgres':
      return {
        name: 'postgres',
        open: () => openStorage(config),
        openRaw: async () => (await import('../plugins/postgres/raw-baseline.js')).openPostgresRawBaseline(config.connectionString),
      };
    case 'cassandra':
      return { name: 'cassandra', open: () => openStorage(config) };
  }
}

export function machine(): Machine {
  return {
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
  };
}
