/**
 * Opens a storage plugin by name. Each plugin's module (and so its driver) is loaded only when
 * asked for, so an app using LevelDB never loads `pg` or `cassandra-driver`.
 */
import type { StoragePlugin } from './spi/index.js';
import type { LevelDbStorageOptions } from './plugins/leveldb/index.js';
import type { MemoryStorageOptions } from './plugins/memory/index.js';
import type { PostgresStorageOptions } from './plugins/postgres/index.js';
import type { CassandraStorageOptions } from './plugins/cassandra/index.js';

export type StorageConfig =
  | ({ kind: 'memory' } & MemoryStorageOptions)
  | ({ kind: 'leveldb' } & LevelDbStorageOptions)
  | ({ kind: 'postgres' } & PostgresStorageOptions)
  | ({ kind: 'cassandra' } & CassandraStorageOptions);

export const storageKinds = ['memory', 'leveldb', 'postgres', 'cassandra'] as const;

export async function openStorage(config: StorageConfig): Promise<StoragePlugin> {
  const kind: string = config.kind;
  switch (config.kind) {
    case 'memory':
      return (await import('./plugins/memory/index.js')).openMemoryStorage(config);
    case 'leveldb':
      return (await import('./plugins/leveldb/index.js')).openLevelDbStorage(config);
    case 'postgres':
      return (await import('./plugins/postgres/index.js')).openPostgresStorage(config);
    case 'cassandra':
      return (await import('./plugins/cassandra/index.js')).openCassandraStorage(config);
  }
  throw new TypeError(`unknown storage kind ${JSON.stringify(kind)}; expected one of ${storageKinds.join(', ')}`);
}
