/**
 * The Cassandra storage plugin: for clusters that outgrow one database server. Journal rows
 * are partitioned so a hot entity never makes an unbounded partition; the single writer is
 * enforced with lightweight transactions on a per-id head row (see ./journal.ts for how, and
 * for its limits). No events-by-tag query.
 */
import cassandra from 'cassandra-driver';
import type { StoragePlugin } from '../../spi/index.js';
import { CassandraJournal, cassandraFailure } from './journal.js';
import { checkPartitionSize } from './partitions.js';
import { checkKeyspace, schemaCql } from './schema.js';
import { CassandraKeyValueStore, CassandraSnapshotStore } from './stores.js';

export { schemaCql } from './schema.js';

export interface CassandraStorageOptions {
  /** Hosts to contact first, e.g. `['10.0.0.1', '10.0.0.2:9042']`. */
  contactPoints: string[];
  /** The data center the driver treats as local (required by the driver). */
  localDataCenter: string;
  /** Keyspace (default `cloudstate`), created if missing when `createSchema` is on. */
  keyspace?: string;
  /** Replication factor of a keyspace this plugin creates (default 1). */
  replicationFactor?: number;
  /** SeqNrs per journal partition (default 5000; at least 1000, the most events in one write). */
  partitionSize?: number;
  /** Create keyspace and tables if missing (default true). */
  createSchema?: boolean;
  /** Largest payload accepted (default 8 MiB). */
  maxPayloadBytes?: number;
  username?: string;
  password?: string;
  /** How long to wait for a connection, in ms (default 5000). */
  connectTimeoutMs?: number;
}

export async function openCassandraStorage(options: CassandraStorageOptions): Promise<StoragePlugin> {
  const keyspace = checkKeyspace(options.keyspace ?? 'cloudstate');
  const partitionSize = checkPartitionSize(options.partitionSize ?? 5000, 1000);
  const client = new cassandra.Client({
    contactPoints: options.contactPoints,
    localDataCenter: options.localDataCenter,
    socketOptions: { connectTimeout: options.connectTimeoutMs ?? 5000 },
    ...(options.username !== undefined ? { credentials: { username: options.username, password: options.password ?? '' } } : {}),
  });
  try {
    await client.connect();
    if (options.createSchema !== false) {
      for (const cql of schemaCql(keyspace, options.replicationFactor ?? 1)) await client.execute(cql);
    }
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    throw cassandraFailure(`connecting to ${options.contactPoints.join(', ')}`, err);
  }
  const consistency = cassandra.types.consistencies.localQuorum;
  const journal = new CassandraJournal(client, { keyspace, partitionSize, maxPayloadBytes: options.maxPayloadBytes ?? 8 * 1024 * 1024, consistency });
  const snapshotStore = new CassandraSnapshotStore(client, keyspace, consistency);
  const keyValueStore = new CassandraKeyValueStore(client, keyspace, consistency);
  let closing: Promise<void> | undefined;
  return {
    name: 'cassandra',
    journal,
    snapshotStore,
    keyValueStore,
    close() {
      closing ??= (async () => {
        await Promise.all([journal.close(), snapshotStore.close(), keyValueStore.close()]);
        await client.shutdown();
      })();
      return closing;
    },
  };
}
