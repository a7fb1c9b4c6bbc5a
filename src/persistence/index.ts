/**
 * The persistence layer's public surface: the `Journal` façade entities use, the SPI that
 * storage plugins implement, the in-memory plugin, and `openStorage` to open any plugin by
 * name (drivers are loaded only for the plugin asked for).
 */
export { Journal } from './journal.js';
export type { JournalOptions, ReplayRange } from './journal.js';
export * from './spi/index.js';
export { MemoryStorage, openMemoryStorage } from './plugins/memory/index.js';
export type { MemoryStorageOptions } from './plugins/memory/index.js';
export { openStorage, storageKinds } from './open-storage.js';
export type { StorageConfig } from './open-storage.js';
export type { LevelDbStorageOptions } from './plugins/leveldb/index.js';
export type { PostgresStorageOptions } from './plugins/postgres/index.js';
export type { CassandraStorageOptions } from './plugins/cassandra/index.js';
/** The Postgres DDL, to create the tables ahead of time (`psql`); loads no driver. */
export { schemaDdl as postgresSchemaDdl } from './plugins/postgres/schema.js';
