import t from 'tap';
import { silentLogger } from '../../../src/core/index.js';
import { EntityType } from '../../../src/protocol/index.js';
import type { EntitySpec } from '../../../src/protocol/index.js';
import { DiscoveryError } from '../../../src/proxy/descriptors.js';
import { backoffDelay, discover } from '../../../src/proxy/discovery.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import { UserFunctionClient } from '../../../src/proxy/user-function.js';
import { descriptorSetOf, FakeUserFunction, testFiles, testSpec } from './entities/fake-user-function.js';
import { testProxyConfig } from './test-proxy.js';

const allTypes = [EntityType.action, EntityType.eventSourced, EntityType.valueEntity];
const options = { proxyName: 'cloudstate-ts-proxy', proxyVersion: '0.1.0', supportedEntityTypes: allTypes, backoff: { minMs: 10, maxMs: 40, randomFactor: 0 } };

t.test('backoffDelay doubles from min to max and stretches by the random factor', async (t) => {
  const b = { minMs: 1000, maxMs: 10_000, randomFactor: 0.2 };
  const cases: [number, number, number][] = [
    [0, 0, 1000],
    [1, 0, 2000],
    [3, 0, 8000],
    [4, 0, 10_000],
    [50, 0, 10_000],
    [0, 0.5, 1100],
    [4, 0.999, 10_000 * 1.1998],
  ];
  for (const [attempt, random, expected] of cases) t.equal(Math.round(backoffDelay(attempt, b, random)), Math.round(expected), `attempt ${attempt}, random ${random}`);
});

t.test('retries while the user function is not up, then returns the spec and the model', async (t) => {
  const probe = await new FakeUserFunction().start();
  const port = probe.port;
  probe.stop();
  const client = new UserFunctionClient({ port, reconnectBackoff: { minMs: 20, maxMs: 50 } });
  t.teardown(() => client.close());
  let failures = 0;
  let uf: FakeUserFunction | undefined;
  t.teardown(() => uf?.stop());
  const counting = Object.assign(Object.create(client) as UserFunctionClient, {
    discover: async (...args: Parameters<UserFunctionClient['discover']>) => {
      try {
        return await client.discover(...args);
      } catch (err) {
        if (++failures === 2) {
          uf = await new FakeUserFunction().start(port);
          uf.spec = testSpec();
        }
        throw err;
      }
    },
  });
  const { model } = await discover(counting, options);
  t.ok(failures >= 2, `retried (${failures} failed attempts)`);
  t.same([...model.services.keys()], ['t.Es', 't.EsFast', 't.Ve', 't.Act', 't.Two']);
  t.same(await uf!.discoveries.next(), {
    protocol_minor_version: 2,
    proxy_name: 'cloudstate-ts-proxy',
    proxy_version: '0.1.0',
    supported_entity_types: allTypes,
  }, 'ProxyInfo: protocol 0.2 (major 0 is the default), name, version, supported types');
});

t.test('discovery stops when aborted while retrying', async (t) => {
  const probe = await new FakeUserFunction().start();
  probe.stop();
  const client = new UserFunctionClient({ port: probe.port });
  t.teardown(() => client.close());
  const controller = new AbortController();
  const running = discover(client, { ...options, backoff: { minMs: 60_000, maxMs: 60_000, randomFactor: 0 }, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('shutting down')), 50);
  await t.rejects(running, { message: 'shutting down' });
});

// A second file: an event-sourced service with a streamed method, one whose input has no key and
// one whose key is a message.
const badFile = {
  name: 'b/bad.proto',
  package: 'b',
  syntax: 'proto3',
  message_type: [
    { name: 'Key', field: [{ name: 'id', number: 1, label: 1, type: 9, json_name: 'id', options: { '.cloudstate.entity_key': true } }] },
    { name: 'Plain', field: [{ name: 'id', number: 1, label: 1, type: 9, json_name: 'id' }] },
    { name: 'ByKey', field: [{ name: 'key', number: 1, label: 1, type: 11, type_name: '.b.Key', json_name: 'key', options: { '.cloudstate.entity_key': true } }] },
  ],
  service: [
    { name: 'Streamy', method: [{ name: 'Watch', input_type: '.b.Key', output_type: '.b.Key', server_streaming: true }] },
    { name: 'Keyless', method: [{ name: 'Get', input_type: '.b.Plain', output_type: '.b.Key' }] },
    { name: 'MessageKeyed', method: [{ name: 'Get', input_type: '.b.ByKey', output_type: '.b.Key' }] },
  ],
};
const good = testSpec();
const v02 = { protocol_major_version: 0, protocol_minor_version: 2 };
const withEntities = (entities: EntitySpec['entities'], info: EntitySpec['service_info'] = v02): EntitySpec => ({ proto: descriptorSetOf([testFiles.testFile, badFile]), entities, service_info: info });

t.test('an invalid spec is reported to the user function, and discovery ends with DiscoveryError', async (t) => {
  const uf = await new FakeUserFunction().start();
  t.teardown(() => uf.stop());
  const client = new UserFunctionClient({ port: uf.port });
  t.teardown(() => client.close());
  const cases: [string, EntitySpec, RegExp][] = [
    ['no protocol version', { ...good, service_info: { support_library_name: 'cloudstate', support_library_version: '0.0.3' } }, /Protocol version 0\.0 of cloudstate 0\.0\.3 is not supported by this proxy, which speaks 0\.2/],
    ['another version', { ...good, service_info: { protocol_major_version: 1, protocol_minor_version: 0 } }, /Protocol version 1\.0/],
    ['no entities', { ...good, entities: [] }, /No entities were reported/],
    ['an unknown entity type', withEntities([{ entity_type: 'cloudstate.Weird', service_name: 't.Two' }]), /Service t\.Two has entity type "cloudstate\.Weird", which is not a Cloudstate entity type/],
    ['an unsupported entity type', withEntities([{ entity_type: EntityType.crdt, service_name: 't.Two' }]), /Service t\.Two is one of the CRDT entities \(cloudstate\.crdt\.Crdt\), which this proxy does not support/],
    ['a service missing from the descriptors', withEntities([{ entity_type: EntityType.action, service_name: 't.Missing' }]), /t\.Missing .* is not in the descriptor set/],
    ['a streamed method on an event-sourced entity', withEntities([{ entity_type: EntityType.eventSourced, service_name: 'b.Streamy' }]), /Method b\.Streamy\.Watch is server streaming, but b\.Streamy is an event-sourced entity/],
    ['a method without an entity key', withEntities([{ entity_type: EntityType.valueEntity, service_name: 'b.Keyless' }]), /Method b\.Keyless\.Get has no entity key: .* input message b\.Plain must mark/],
    [
      'a message-typed entity key',
      withEntities([{ entity_type: EntityType.eventSourced, service_name: 'b.MessageKeyed' }]),
      /Method b\.MessageKeyed\.Get has entity key field key \(in b\.ByKey\), which is a message \(b\.Key\), but an entity id is .*: mark a string, number, bool or enum field/,
    ],
    [
      'two services with one persistence id',
      withEntities([
        { entity_type: EntityType.eventSourced, service_name: 't.Es', persistence_id: 'same' },
        { entity_type: EntityType.valueEntity, service_name: 't.Ve', persistence_id: 'same' },
      ]),
      /Services t\.Es and t\.Ve both use persistence id "same"/,
    ],
    ['a descriptor set that does not parse', { ...good, proto: new Uint8Array([0x0a, 0x05, 0xff, 0xff]) }, /descriptor set .* does not parse/],
  ];
  for (const [what, spec, expected] of cases) {
    uf.spec = spec;
    await t.rejects(discover(client, options), DiscoveryError, what);
    t.match(await uf.reported.next(), expected, `${what}: reported`);
  }
  uf.spec = { ...good, service_info: {} };
  const { model } = await discover(client, { ...options, protocolCompatibilityCheck: false });
  t.ok(model.services.has('t.Es'), 'with the compatibility check off, any version is accepted');
  t.equal(uf.reported.size, 0, 'nothing reported for a valid spec');
});

t.test('several problems are reported together', async (t) => {
  const uf = await new FakeUserFunction().start();
  t.teardown(() => uf.stop());
  const client = new UserFunctionClient({ port: uf.port });
  t.teardown(() => client.close());
  uf.spec = withEntities([
    { entity_type: EntityType.eventSourced, service_name: 'b.Streamy' },
    { entity_type: EntityType.valueEntity, service_name: 'b.Keyless' },
  ]);
  await t.rejects(discover(client, options), DiscoveryError);
  const message = await uf.reported.next();
  t.match(message, /^The user function cannot be served:\n- Method b\.Streamy\.Watch .*\n- Method b\.Keyless\.Get /);
});

t.test('a google.api.http rule the proxy cannot serve: reported to the user function, and the proxy stops without serving or retrying', async (t) => {
  const uf = await new FakeUserFunction().start();
  t.teardown(() => uf.stop());
  // t.Es.Cmd's rule names a path variable that is no field of its input, t.Key.
  const { testFile } = testFiles;
  const badRule = { get: '/es/{nope}' };
  const file = {
    ...testFile,
    dependency: [...testFile.dependency, 'google/api/annotations.proto'],
    service: testFile.service.map((s) => (s.name === 'Es' ? { ...s, method: s.method.map((m) => ({ ...m, options: { '.google.api.http': badRule } })) } : s)),
  };
  uf.spec = { ...good, proto: descriptorSetOf([file]) };
  await t.rejects(startProxy(testProxyConfig(uf.port), silentLogger), DiscoveryError, 'the proxy does not start: discovery failed');
  const message = await uf.reported.next();
  t.match(message, /^HTTP API config: t\.Es\.Cmd \(GET \/es\/\{nope\}\): /, 'the report names the HTTP configuration, the method and its rule');
  t.match(message, /path variable 'nope' is not a field of t\.Key/, 'and says what is wrong with the rule');
  t.equal(uf.discoveries.size, 1, 'discovery was not retried');
  t.equal(uf.reported.size, 0, 'reported once');
});
