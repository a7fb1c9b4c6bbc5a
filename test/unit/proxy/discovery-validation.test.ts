import t from 'tap';
import { EntityType } from '../../../src/protocol/index.js';
import type { EntitySpec } from '../../../src/protocol/index.js';
import { buildProxyModel } from '../../../src/proxy/descriptors.js';
import { modelProblems, specProblems } from '../../../src/proxy/validation.js';
import { testSpec } from './entities/fake-user-function.js';

const rules = { supportedEntityTypes: [EntityType.action, EntityType.eventSourced, EntityType.valueEntity] };
const v02 = { protocol_major_version: 0, protocol_minor_version: 2 };
const spec = (entities: EntitySpec['entities'], service_info: EntitySpec['service_info'] = v02): EntitySpec => ({ entities, service_info });
const es = (service_name: string, persistence_id?: string) => ({ entity_type: EntityType.eventSourced, service_name, persistence_id });

t.test('specProblems: one message per broken rule, none for a good spec', async (t) => {
  const cases: [string, EntitySpec, (string | RegExp)[], Partial<typeof rules & { protocolCompatibilityCheck: boolean }>?][] = [
    ['a good spec', spec([es('a.A'), { entity_type: EntityType.action, service_name: 'a.B' }]), []],
    ['version 0.1', spec([es('a.A')], { protocol_major_version: 0, protocol_minor_version: 1 }), [/^Protocol version 0\.1 of the support library is not supported/]],
    ['version 0.1, check off', spec([es('a.A')], { protocol_minor_version: 1 }), [], { protocolCompatibilityCheck: false }],
    ['no entities', spec([]), [/^No entities/]],
    ['no service name', spec([{ entity_type: EntityType.action }]), [/has no service_name/]],
    ['a service twice', spec([es('a.A', 'x'), es('a.A', 'y')]), [/Service a\.A is registered twice/]],
    ['unknown type', spec([{ entity_type: 'x.Y', service_name: 'a.A' }]), [/not a Cloudstate entity type/]],
    ['CRDT unsupported', spec([{ entity_type: EntityType.crdt, service_name: 'a.A' }]), [/CRDT entities .* this proxy does not support \(it supports/]],
    ['event sourced without a journal', spec([es('a.A')]), [/event-sourced entities .* does not support/], { supportedEntityTypes: [EntityType.action] }],
    ['shared persistence id', spec([es('a.A', 'p'), es('b.B', 'p')]), [/Services a\.A and b\.B both use persistence id "p"/]],
    ['default persistence ids clash', spec([es('a.Cart'), es('b.Cart')]), [/both use persistence id "Cart"/]],
    ['two problems', spec([{ entity_type: 'x.Y', service_name: 'a.A' }], {}), [/Protocol version 0\.0/, /not a Cloudstate entity type/]],
  ];
  for (const [what, s, expected, extra] of cases) {
    const problems = specProblems(s, { ...rules, ...extra });
    t.equal(problems.length, expected.length, `${what}: ${problems.join(' | ') || 'no problem'}`);
    expected.forEach((e, i) => t.match(problems[i], e, what));
  }
});

t.test('modelProblems: streamed methods and missing entity keys on stateful entities only', async (t) => {
  t.same(modelProblems(buildProxyModel(testSpec())), [], 'the test model is fine (its streamed methods belong to an action)');
  const actAsEntity = { ...testSpec(), entities: [{ entity_type: EntityType.valueEntity, service_name: 't.Act' }] };
  const problems = modelProblems(buildProxyModel(actAsEntity));
  t.same(
    problems.map((p) => p.split(':')[0]),
    [
      'Method t.Act.Unary has no entity key',
      'Method t.Act.In is client streaming, but t.Act is a value entity, whose commands are unary',
      'Method t.Act.In has no entity key',
      'Method t.Act.Out is server streaming, but t.Act is a value entity, whose commands are unary',
      'Method t.Act.Out has no entity key',
      'Method t.Act.Bidi is bidirectional streaming, but t.Act is a value entity, whose commands are unary',
      'Method t.Act.Bidi has no entity key',
    ],
  );
  t.match(problems[0], /input message t\.Msg must mark the field\(s\) that identify the entity with \[\(cloudstate\.entity_key\) = true\]/);
});
