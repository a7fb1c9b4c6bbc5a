import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { protocolType, PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION } from '../../../src/protocol/index.js';
import { Action, CloudstateServer, EventSourcedEntity, ValueEntity } from '../../../src/function/index.js';
import { silentLogger } from '../../../src/core/index.js';
import { plain, protocolClient, startServer, type Plain } from './protocol-client.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const common = { protoFiles: 'model.proto', includeDirs: [fixtures] } as const;

const counter = () =>
  new EventSourcedEntity({ ...common, serviceName: 'fixture.model.Counter', persistenceId: 'counter', initialState: () => '', commandHandlers: {}, eventHandlers: {} });
const values = () =>
  new ValueEntity({ ...common, serviceName: 'fixture.model.Values', passivationTimeoutMs: 250, initialState: () => '', commandHandlers: {} });
const actions = () => new Action({ ...common, serviceName: 'fixture.model.Actions', commandHandlers: {} });

const unary = (client: grpc.Client & Record<string, (...args: unknown[]) => unknown>, method: string, request: Plain) =>
  new Promise<Plain>((resolve, reject) =>
    client[method]!(request, (error: Error | null, response: unknown) => (error ? reject(error) : resolve(plain(response)))),
  );

t.test('discover answers the entities, the descriptor set and the service info', async (t) => {
  const { port } = await startServer(t, [counter(), values(), actions()]);
  const client = protocolClient('cloudstate.EntityDiscovery', port);
  t.teardown(() => client.close());
  const spec = await unary(client, 'discover', {
    protocol_major_version: 0,
    protocol_minor_version: 2,
    proxy_name: 'test-proxy',
    supported_entity_types: ['cloudstate.eventsourced.EventSourced'],
  });
  t.same(spec.entities, [
    { entity_type: 'cloudstate.eventsourced.EventSourced', service_name: 'fixture.model.Counter', persistence_id: 'counter' },
    { entity_type: 'cloudstate.valueentity.ValueEntity', service_name: 'fixture.model.Values', persistence_id: 'Values', passivation_strategy: { timeout: { timeout: 250 } } },
    { entity_type: 'cloudstate.action.ActionProtocol', service_name: 'fixture.model.Actions' },
  ]);
  t.match(spec.service_info, {
    service_name: 'test-function',
    service_version: '1.2.3',
    support_library_name: '@cloudstate/cluster',
    protocol_minor_version: PROTOCOL_MINOR_VERSION,
  });
  t.equal(spec.service_info.protocol_major_version ?? 0, PROTOCOL_MAJOR_VERSION, '0: the proto3 default, not on the wire');
  t.match(spec.service_info.service_runtime, /^node v\d+/);
  t.match(spec.service_info.support_library_version, /^\d+\.\d+\.\d+/);

  const setType = protocolType('google.protobuf.FileDescriptorSet');
  const files = (setType.toObject(setType.decode(spec.proto), { enums: Number }) as Plain).file as Plain[];
  const model = files.find((f) => f.name === 'model.proto')!;
  t.same(model.service.map((s: Plain) => s.name), ['Counter', 'Two', 'Values', 'Actions']);
  const request = model.message_type.find((m: Plain) => m.name === 'Request');
  t.equal(request.field[0].options['.cloudstate.entity_key'], true);
  const streaming = model.service.find((s: Plain) => s.name === 'Actions').method.map((m: Plain) => [m.name, !!m.client_streaming, !!m.server_streaming]);
  t.same(streaming, [['Unary', false, false], ['In', true, false], ['Out', false, true], ['Both', true, true]]);
  t.ok(files.some((f) => f.name === 'cloudstate/entity_key.proto'));
  t.ok(files.some((f) => f.name === 'google/protobuf/empty.proto'));
});

t.test('reportError is logged and kept', async (t) => {
  const { server, port } = await startServer(t, [actions()]);
  const client = protocolClient('cloudstate.EntityDiscovery', port);
  t.teardown(() => client.close());
  await unary(client, 'reportError', { message: 'Service fixture.model.Actions is bad' });
  t.same(server.reportedErrors, ['Service fixture.model.Actions is bad']);
});

t.test('only the protocol services of the entity types in use are served', async (t) => {
  const { port } = await startServer(t, [actions()]);
  const es = protocolClient('cloudstate.eventsourced.EventSourced', port);
  t.teardown(() => es.close());
  const call = es.handle!() as grpc.ClientDuplexStream<Plain, unknown>;
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    call.on('status', resolve);
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.end();
  });
  t.equal(status.code, grpc.status.UNIMPLEMENTED);
});

t.test('configuration errors are thrown early and clearly', async (t) => {
  t.throws(() => new CloudstateServer({ entities: [] }), /at least one entity/);
  t.throws(() => new CloudstateServer({ entities: [actions(), actions()], logger: silentLogger }), /served twice/);
  t.throws(() => new Action({ ...common, serviceName: 'fixture.model.Nope', commandHandlers: {} }), /no such service/);
  t.throws(() => new Action({ ...common, serviceName: 'fixture.model.Actions', commandHandlers: { Typo: () => undefined } }), /Typo matches no method/);
  t.throws(() => new Action({ protoFiles: 'missing.proto', includeDirs: [fixtures], serviceName: 'x.Y', commandHandlers: {} }), /missing\.proto/);
});

t.test('start resolves the bound port; shutdown stops serving', async (t) => {
  const server = new CloudstateServer({ entities: [actions()], logger: silentLogger });
  const port = await server.start({ port: 0 });
  t.ok(port > 0);
  await t.rejects(server.start({ port: 0 }), /already started/);
  await server.shutdown();
  const client = protocolClient('cloudstate.EntityDiscovery', port);
  t.teardown(() => client.close());
  await t.rejects(
    new Promise((resolve, reject) => client.discover!({}, { deadline: Date.now() + 500 }, (error: Error | null, r: unknown) => (error ? reject(error) : resolve(r)))),
  );
});
