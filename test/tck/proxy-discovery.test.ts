// TCK proxy tests, proxy-wide (reference: ProxyTCK): the discovery handshake the proxy makes
// with the user function (seen by the interceptor), and gRPC server reflection on the proxy's
// port. The user function is the TCK model user function (test/tck/model).
import t from 'tap';
import { EntityType, PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION } from '../../src/protocol/index.js';
import { startModelUserFunction } from './model/server.js';
import { startTck } from './support/harness.js';
import { servicesInDescriptorSet } from './support/test-protocol.js';

const tck = await startTck({ startUserFunction: startModelUserFunction });
t.teardown(() => tck.stop());
t.afterEach(() => tck.interceptor.verifyNoMoreInteractions());
const { proxyInfo, entitySpec } = tck.discovery;
const serviceNames = (entitySpec?.entities ?? []).map((e) => e.service_name ?? '');

t.test('verify proxy info and entity discovery', async (t) => {
  t.equal(proxyInfo.protocol_major_version ?? 0, PROTOCOL_MAJOR_VERSION, 'protocol major version 0');
  t.equal(proxyInfo.protocol_minor_version ?? 0, PROTOCOL_MINOR_VERSION, 'protocol minor version 2');
  t.ok(proxyInfo.proxy_name, 'the proxy names itself');
  // As the reference TCK expects: ActionProtocol, ValueEntity, EventSourced (a journal is
  // configured: --store memory) and Crdt, exactly.
  t.same(
    [...(proxyInfo.supported_entity_types ?? [])].sort(),
    [EntityType.action, EntityType.valueEntity, EntityType.eventSourced, EntityType.crdt].sort(),
    'supported entity types: actions, value entities, event sourced, CRDT',
  );
  t.ok(entitySpec, 'the user function answered discovery');
  const discovered = servicesInDescriptorSet(entitySpec?.proto ?? new Uint8Array());
  t.ok(serviceNames.length > 0, 'the user function declares entities');
  for (const name of serviceNames) t.ok(discovered.includes(name), `${name} is in the descriptor set`);
});

t.test('verify that the proxy supports server reflection', async (t) => {
  const expectedServices = ['grpc.reflection.v1alpha.ServerReflection', ...[...serviceNames].sort()].map((name) => ({ name }));
  const reflection = await tck.client.reflection();
  const ask = async (request: object) => {
    reflection.send(request);
    const response = await reflection.nextMessage();
    return response;
  };
  const listed = await ask({ list_services: '' });
  t.same(listed.list_services_response?.service, expectedServices, 'ListServices("") lists reflection and every entity service, sorted');
  const nonsense = await ask({ list_services: 'nonsense.blabla.' });
  t.same(nonsense.list_services_response?.service, expectedServices, 'ListServices ignores its argument');
  const unknown = await ask({ file_containing_symbol: 'nonsense.blabla.Void' });
  t.ok(unknown.file_descriptor_response, 'FileContainingSymbol of an unknown symbol answers a FileDescriptorResponse');
  t.same(unknown.file_descriptor_response?.file_descriptor_proto ?? [], [], 'with no files');
  reflection.complete();
  await reflection.chain().expectClosed();
});
