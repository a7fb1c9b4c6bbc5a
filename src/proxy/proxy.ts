/**
 * `startProxy`: the Cloudstate proxy's runtime, wired from its parts in the order the
 * reference proxy follows: open the store, join the cluster, discover the user function
 * (retrying while it is not up), then bind the ingress, which serves only once discovery
 * succeeded and this node is up in its cluster. `close()` undoes it in reverse: stop
 * accepting calls, hand shards off and leave the cluster, close the store.
 *
 * Owns wiring and lifecycle only; each part decides its own behaviour.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { autoscalerSettingsFromEnv, scalerFromEnv, startAutoscaling, type Autoscaling } from '../autoscale/index.js';
import { Cluster } from '../cluster/index.js';
import type { Logger } from '../core/index.js';
import { Replicator } from '../crdt/index.js';
import { Journal, openStorage, type StorageConfig, type StoragePlugin } from '../persistence/index.js';
import { EntityType, packageProtoDir } from '../protocol/index.js';
import { RecoveryPermits, Sharding } from '../sharding/index.js';
import type { ProxyConfig } from './config.js';
import { CrdtSupport } from './crdt/index.js';
import { discover, type Discovered } from './discovery.js';
import { createDispatcher } from './entities/index.js';
import { EntityMetrics } from './entities/instrumentation.js';
import { startEventing } from './eventing/index.js';
import { compileHttpRules, startEndpointListener, startIngress, type Ingress } from './ingress/index.js';
import { measuredDispatcher } from './measured.js';
import { DEFAULT_CALLS_PER_TURN, pacedDispatcher, TurnBudget } from './paced.js';
import type { ProxyModel } from './model.js';
import { UserFunctionClient } from './user-function.js';

export const PROXY_NAME = 'cloudstate-proxy-core';
/** This package's version, sent as `ProxyInfo.proxy_version`. */
export const PROXY_VERSION = (JSON.parse(readFileSync(join(packageProtoDir, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The entity types this proxy serves. */
export const supportedEntityTypes = [EntityType.action, EntityType.valueEntity, EntityType.eventSourced, EntityType.crdt] as const;

export interface RunningProxy {
  /** The ingress port (the chosen one when the configuration said 0). */
  readonly httpPort: number;
  /** The port serving `/metrics` alone, when the configuration asked for one (the chosen one if it said 0). */
  readonly metricsPort: number | undefined;
  /** The port serving `/ready` and `/alive` alone, when the configuration asked for one. */
  readonly managementPort: number | undefined;
  readonly cluster: Cluster;
  readonly model: ProxyModel;
  /**
   * Graceful stop: the ingress (streams ended at once, other calls in flight given
   * `gracefulTerminationMs`), the metrics and management ports, hand-off and cluster leave,
   * store. Idempotent.
   */
  close(): Promise<void>;
}

/** The storage plugin's options for `config` (exported for its tests). Holds secrets: do not log it. */
export function storageConfig(config: ProxyConfig, logger: Logger): StorageConfig {
  switch (config.store) {
    case 'memory':
      return { kind: 'memory' };
    case 'leveldb':
      return { kind: 'leveldb', directory: config.dataDir };
    case 'postgres':
      return { kind: 'postgres', connectionString: config.postgres.connectionString, schema: config.postgres.schema, logger };
    case 'cassandra':
      return {
        kind: 'cassandra',
        contactPoints: [...config.cassandra.contactPoints],
        localDataCenter: config.cassandra.localDataCenter,
        keyspace: config.cassandra.keyspace,
        ...(config.cassandra.username !== undefined ? { username: config.cassandra.username } : {}),
        ...(config.cassandra.password !== undefined ? { password: config.cassandra.password } : {}),
      };
  }
}

/**
 * Starts a proxy. Resolves once it serves; rejects if the store cannot be opened or the user
 * function's spec is invalid (after reporting it to the user function). `signal` aborts the
 * wait for the user function.
 */
export async function startProxy(config: ProxyConfig, logger: Logger, signal?: AbortSignal): Promise<RunningProxy> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const undo = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((e: unknown) => logger.warn({ err: String(e) }, 'while stopping'));
  };
  try {
    const storage: StoragePlugin = await openStorage(storageConfig(config, logger));
    cleanups.push(() => storage.close());
    logger.info({ store: config.store }, 'store open');

    const cluster = await Cluster.start({
      host: config.clusterHost,
      port: config.clusterPort,
      seeds: config.seeds,
      preset: config.clusterPreset,
      logger: logger.child({ part: 'cluster' }),
    });
    cleanups.push(() => cluster.shutdown());
    // CRDT entities' state: one replicator per node, in memory (every node holds a copy).
    // CRDT state is kept in the store when it can hold it (LevelDB): a restarted node has it back.
    const durableStore = storage.entryStore?.('crdt');
    const replicator = await Replicator.start({ cluster, ...(durableStore ? { durableStore } : {}), logger: logger.child({ part: 'crdt' }) });
    cleanups.push(() => replicator.close());
    const journal = new Journal(storage.journal);
    const sharding = new Sharding(cluster, {
      storage: { journal, snapshots: storage.snapshotStore, keyValue: storage.keyValueStore, recoveries: new RecoveryPermits(config.maxConcurrentRecoveries) },
      logger: logger.child({ part: 'sharding' }),
    });
    cleanups.push(() => sharding.stop());

    const client = new UserFunctionClient({ host: config.userFunctionHost, port: config.userFunctionPort });
    cleanups.push(async () => client.close());
    const discovered: Discovered = await discover(client, {
      proxyName: PROXY_NAME,
      proxyVersion: PROXY_VERSION,
      supportedEntityTypes,
      protocolCompatibilityCheck: config.protocolCompatibilityCheck,
      logger: logger.child({ part: 'discovery' }),
      checkModel: (model) => {
        try {
          compileHttpRules(model);
          return [];
        } catch (error) {
          return [(error as Error).message];
        }
      },
      ...(signal ? { signal } : {}),
    });
    const { model } = discovered;

    await cluster.joined;
    const crdt = new CrdtSupport({
      model,
      client,
      replicator,
      voters: () => cluster.members().filter((m) => m.state === 'up').map((m) => m.id),
      settings: { passivationTimeoutMs: config.passivationTimeoutMs, relayTimeoutMs: config.relayTimeoutMs },
      logger: logger.child({ part: 'crdt-entities' }),
    });
    // What `/metrics` serves: process, entities (registered as the entity types are set up), ingress, autoscaler.
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics, prefix: 'cloudstate_proxy_' });
    const membersChanged = () => crdt.membersChanged();
    cluster.on('member-up', membersChanged);
    cluster.on('member-removed', membersChanged);
    cleanups.push(async () => {
      cluster.off('member-up', membersChanged);
      cluster.off('member-removed', membersChanged);
      crdt.close();
    });
    const entities = createDispatcher({
      model,
      client,
      sharding,
      crdt,
      settings: { numberOfShards: config.numberOfShards, passivationTimeoutMs: config.passivationTimeoutMs, relayTimeoutMs: config.relayTimeoutMs },
      metrics: new EntityMetrics(metrics),
      logger: logger.child({ part: 'entities' }),
    });
    let autoscaling: Autoscaling | undefined;
    if (config.autoscaler) {
      autoscaling = startAutoscaling(cluster, {
        settings: autoscalerSettingsFromEnv(process.env),
        scaler: scalerFromEnv(process.env),
        ...(process.env.APP_VERSION ? { version: process.env.APP_VERSION } : {}),
        registry: metrics,
        logger: logger.child({ component: 'autoscaler' }),
      });
      const stopAutoscaling = autoscaling.stop.bind(autoscaling);
      cleanups.push(async () => stopAutoscaling());
    }
    const dispatcher = autoscaling ? measuredDispatcher(entities, autoscaling.recorder) : entities;
    let ready = true;
    const isReady = () => ready && cluster.canHost;
    const ingress: Ingress = await startIngress({
      host: config.httpHost,
      port: config.httpPort,
      model,
      dispatcher: pacedDispatcher(dispatcher, new TurnBudget(DEFAULT_CALLS_PER_TURN)),
      ready: isReady,
      metrics,
      logger: logger.child({ part: 'ingress' }),
      closeGraceMs: config.gracefulTerminationMs,
    });
    cleanups.push(async () => {
      ready = false;
      await ingress.close();
    });
    // The reference's separate ports: Prometheus, and the probes on Akka management's. Optional
    // here; the ingress port serves all three either way.
    const endpoints = { ready: isReady, registry: metrics };
    const sideLogger = logger.child({ part: 'endpoints' });
    const metricsListener =
      config.metricsPort === undefined
        ? undefined
        : await startEndpointListener({ host: config.metricsHost, port: config.metricsPort, paths: ['/metrics'], endpoints, logger: sideLogger });
    if (metricsListener) cleanups.push(() => metricsListener.close());
    const managementListener =
      config.managementPort === undefined
        ? undefined
        : await startEndpointListener({ host: config.httpHost, port: config.managementPort, paths: ['/ready', '/alive'], endpoints, logger: sideLogger });
    if (managementListener) cleanups.push(() => managementListener.close());
    // Event-log subscriptions: consumers (cluster singletons) call the user function through the
    // same dispatcher as the ingress; stopped (offsets saved) before sharding stops.
    const eventing = startEventing({ model, cluster, journal, offsets: storage.keyValueStore, dispatcher, settings: config.eventing, logger: logger.child({ part: 'eventing' }) });
    cleanups.push(() => eventing.stop());
    logger.info(
      { httpPort: ingress.port, metricsPort: metricsListener?.port, managementPort: managementListener?.port, clusterAddress: cluster.address, memberId: cluster.self.id },
      'serving',
    );

    let closing: Promise<void> | undefined;
    return {
      httpPort: ingress.port,
      metricsPort: metricsListener?.port,
      managementPort: managementListener?.port,
      cluster,
      model,
      close: () =>
        (closing ??= (async () => {
          ready = false;
          await ingress.close();
          // A graceful leave hands this node's shards off before it exits.
          await cluster.leave().catch((e: unknown) => logger.warn({ err: String(e) }, 'cluster leave'));
          await undo();
        })()),
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
