/**
 * One proxy node for the entity tests: the fake user function, the proxy's client to it, a
 * one-node cluster on 127.0.0.1 with sharding over the memory storage plugin, the model from
 * the test spec and the dispatcher. Everything is stopped in the test's teardown.
 */
import { Cluster } from '../../../../src/cluster/index.js';
import { openMemoryStorage } from '../../../../src/persistence/index.js';
import type { JournalPlugin, StoragePlugin } from '../../../../src/persistence/index.js';
import { entityStorage, Sharding } from '../../../../src/sharding/index.js';
import type { EntityStorage } from '../../../../src/sharding/index.js';
import { buildProxyModel } from '../../../../src/proxy/descriptors.js';
import type { MetadataEntry } from '../../../../src/protocol/index.js';
import type { Dispatcher, Response } from '../../../../src/proxy/dispatch.js';
import { createDispatcher } from '../../../../src/proxy/entities/index.js';
import type { EntitySettings } from '../../../../src/proxy/entities/index.js';
import type { MethodModel, ProxyModel } from '../../../../src/proxy/model.js';
import { UserFunctionClient } from '../../../../src/proxy/user-function.js';
import { FakeUserFunction, testSpec } from './fake-user-function.js';

export interface Node {
  uf: FakeUserFunction;
  client: UserFunctionClient;
  model: ProxyModel;
  dispatcher: Dispatcher;
  storage: EntityStorage;
  plugin: StoragePlugin;
  method(path: string): MethodModel;
  /** A unary call through the dispatcher. */
  call(path: string, payload: Uint8Array, metadata?: MetadataEntry[]): Promise<Response>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface NodeOptions {
  settings?: Partial<EntitySettings>;
  /** Wraps the memory journal plugin (to gate or fail writes). */
  wrapJournal?: (plugin: JournalPlugin) => JournalPlugin;
}

/** The parts below the dispatcher: the fake user function and the proxy's client to it, a one-node cluster, sharding over memory storage, the test model. */
export async function startParts(t: Teardown, options: Pick<NodeOptions, 'wrapJournal'> = {}) {
  const uf = await new FakeUserFunction().start();
  uf.spec = testSpec();
  t.teardown(() => uf.stop());
  const client = new UserFunctionClient({ port: uf.port });
  t.teardown(() => client.close());
  const cluster = await Cluster.start({ preset: 'local', seeds: [] });
  t.teardown(() => cluster.shutdown());
  await cluster.joined;
  const plugin = await openMemoryStorage();
  const storage = entityStorage(options.wrapJournal ? { ...plugin, journal: options.wrapJournal(plugin.journal) } : plugin);
  const sharding = new Sharding(cluster, { storage });
  t.teardown(() => sharding.stop());
  const model = buildProxyModel(testSpec());
  return { uf, client, plugin, storage, sharding, model };
}

export async function startNode(t: Teardown, options: NodeOptions = {}): Promise<Node> {
  const settings = options.settings ?? {};
  const { uf, client, plugin, storage, sharding, model } = await startParts(t, options);
  const dispatcher = createDispatcher({ model, client, sharding, settings: { numberOfShards: 10, ...settings } });
  const method = (path: string) => model.method(path) ?? assertNever(path);
  return {
    uf,
    client,
    model,
    dispatcher,
    storage,
    plugin,
    method,
    call: (path, payload, metadata = []) => dispatcher.unary(method(path), payload, metadata, new AbortController()),
  };
}

function assertNever(path: string): never {
  throw new Error(`no method ${path} in the test model`);
}
