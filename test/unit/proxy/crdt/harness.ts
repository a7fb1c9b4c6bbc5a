/**
 * Proxy nodes for the CRDT entity tests: the scripted fake user function of the entity tests
 * (real gRPC on 127.0.0.1) with the `cloudstate.crdt.Crdt` service added, a cluster on
 * loopback with its replicator, and the CRDT support. Several nodes form one cluster, each
 * with its own user function, as proxies and their sidecars do. Everything stops in teardown.
 */
import { Cluster } from '../../../../src/cluster/index.js';
import { Replicator } from '../../../../src/crdt/index.js';
import { EntityType } from '../../../../src/protocol/index.js';
import type { EntitySpec } from '../../../../src/protocol/index.js';
import { CrdtSupport } from '../../../../src/proxy/crdt/index.js';
import type { CrdtSettings } from '../../../../src/proxy/crdt/index.js';
import type { UserFunctionReply } from '../../../../src/proxy/entities/messages.js';
import { buildProxyModel } from '../../../../src/proxy/descriptors.js';
import type { MethodModel, ProxyModel } from '../../../../src/proxy/model.js';
import { UserFunctionClient, protocolServiceDefinition } from '../../../../src/proxy/user-function.js';
import { Connection, FakeUserFunction, Inbox, descriptorSetOf, methodIn, stringField } from '../entities/fake-user-function.js';
import type * as grpc from '@grpc/grpc-js';

const field = stringField;
const method = methodIn('c');
const crdtFile = {
  name: 'c/crdt.proto',
  package: 'c',
  dependency: ['cloudstate/entity_key.proto'],
  syntax: 'proto3',
  message_type: [
    { name: 'Key', field: [field('id', 1, { '.cloudstate.entity_key': true }), field('value', 2)] },
    { name: 'Msg', field: [field('message', 1)] },
  ],
  service: [
    { name: 'Crdt', method: [method('Cmd', 'Key', 'Msg'), method('Watch', 'Key', 'Msg', { server_streaming: true })] },
    { name: 'CrdtFast', method: [method('Cmd', 'Key', 'Msg')] },
    { name: 'Two', method: [method('Call', 'Key', 'Msg')] },
  ],
};

/** `c.Crdt` (persistence id `crdt`), `c.CrdtFast` (100 ms passivation), `c.Two`: all CRDT entities. */
export function crdtSpec(): EntitySpec {
  return {
    proto: descriptorSetOf([crdtFile]),
    entities: [
      { entity_type: EntityType.crdt, service_name: 'c.Crdt', persistence_id: 'crdt' },
      { entity_type: EntityType.crdt, service_name: 'c.CrdtFast', persistence_id: 'fast', passivation_strategy: { timeout: { timeout: 100 } } },
      { entity_type: EntityType.crdt, service_name: 'c.Two', persistence_id: 'two' },
    ],
    service_info: { protocol_major_version: 0, protocol_minor_version: 2, support_library_name: 'fake' },
  };
}

let model: ProxyModel | undefined;
export const crdtModel = (): ProxyModel => (model ??= buildProxyModel(crdtSpec()));
const type = (name: string) => crdtModel().root.lookupType(name);
/** Encoded `c.Key{id}`. */
export const key = (id: string): Uint8Array => type('c.Key').encode({ id }).finish();
export const keyAny = (id: string) => ({ type_url: 'type.googleapis.com/c.Key', value: key(id) });
/** A reply payload `c.Msg{message}` as an Any. */
export const msgAny = (message: string) => ({ type_url: 'type.googleapis.com/c.Msg', value: type('c.Msg').encode({ message }).finish() });
export const msgText = (reply: UserFunctionReply): string | undefined => {
  const payload = reply.client_action?.reply?.payload;
  return payload ? (type('c.Msg').decode(payload.value!) as unknown as { message: string }).message : undefined;
};

export interface CrdtNode {
  uf: FakeUserFunction;
  /** The CRDT streams the proxy opened, in order. */
  streams: Inbox<Connection>;
  cluster: Cluster;
  replicator: Replicator;
  support: CrdtSupport;
  /** Side effects routed without a client (stream cancellation responses). */
  detached: Inbox<UserFunctionReply>;
  method(path: string): MethodModel;
  /** A unary command through the support. */
  call(path: string, id: string): Promise<UserFunctionReply>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface CrdtNodeOptions {
  seeds?: string[];
  settings?: Partial<CrdtSettings>;
  /** Where the support reaches its user function (default: the node's fake user function). */
  userFunctionPort?: number;
}

/** Membership patient with a starved process (a loaded test machine), as the entity tests use. */
const clusterConfig = { probeIntervalMs: 2000, probeTimeoutMs: 1000, suspicionMult: 20 };

/** A fake user function serving the CRDT model: each `handle` stream the proxy opens arrives in `streams`. */
export async function startCrdtUserFunction(t: Teardown): Promise<{ uf: FakeUserFunction; streams: Inbox<Connection> }> {
  const uf = new FakeUserFunction();
  const streams = new Inbox<Connection>();
  uf.server.addService(protocolServiceDefinition('cloudstate.crdt.Crdt'), {
    handle: (call: grpc.ServerDuplexStream<Record<string, unknown>, unknown>) => streams.push(new Connection(call)),
  });
  await uf.start();
  uf.spec = crdtSpec();
  t.teardown(() => uf.stop());
  return { uf, streams };
}

export async function startCrdtNode(t: Teardown, options: CrdtNodeOptions = {}): Promise<CrdtNode> {
  const { uf, streams } = await startCrdtUserFunction(t);
  const client = new UserFunctionClient({ port: options.userFunctionPort ?? uf.port });
  t.teardown(() => client.close());
  const cluster = await Cluster.start({ preset: 'local', config: clusterConfig, seeds: options.seeds ?? [] });
  t.teardown(() => cluster.shutdown());
  await cluster.joined;
  const replicator = await Replicator.start({ cluster, deltaIntervalMs: 20, gossipIntervalMs: 200 });
  t.teardown(() => replicator.close());
  const support = new CrdtSupport({
    model: crdtModel(),
    client,
    replicator,
    voters: () => cluster.members().filter((m) => m.state === 'up').map((m) => m.id),
    settings: { closeGraceMs: 1000, ...options.settings },
  });
  t.teardown(() => support.close());
  // As the proxy does: vote tallies follow membership.
  cluster.on('member-up', () => support.membersChanged());
  cluster.on('member-removed', () => support.membersChanged());
  const detached = new Inbox<UserFunctionReply>();
  support.detached = (reply) => detached.push(reply);
  const methodOf = (path: string) => crdtModel().method(path) ?? fail(path);
  return { uf, streams, cluster, replicator, support, detached, method: methodOf, call: (path, id) => support.invoke(methodOf(path), keyAny(id)) };
}

function fail(path: string): never {
  throw new Error(`no method ${path} in the CRDT test model`);
}
