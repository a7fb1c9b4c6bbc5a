import t from 'tap';
import { EntityType } from '../../../src/protocol/index.js';
import type { EntitySpec } from '../../../src/protocol/index.js';
import { buildProxyModel } from '../../../src/proxy/descriptors.js';
import { modelProblems, specProblems } from '../../../src/proxy/validation.js';
import { descriptorSetOf, testSpec } from './entities/fake-user-function.js';

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

t.test('modelProblems: an entity key field must be a singular scalar or enum', async (t) => {
  const key = { '.cloudstate.entity_key': true };
  const field = (name: string, number: number, type: number, more: object = {}) => ({ name, number, label: 1, type, json_name: name, options: key, ...more });
  const file = {
    name: 'k/keys.proto',
    package: 'k',
    syntax: 'proto2', // for the group
    dependency: ['cloudstate/entity_key.proto'],
    enum_type: [{ name: 'E', value: [{ name: 'A', number: 0 }] }],
    message_type: [
      { name: 'Inner', field: [{ name: 'id', number: 1, label: 1, type: 9, json_name: 'id' }] },
      { name: 'Good', field: [field('s', 1, 9), field('e', 2, 14, { type_name: '.k.E' }), field('b', 3, 12), field('l', 4, 3), field('d', 5, 1)] },
      {
        name: 'Bad',
        field: [
          field('inner', 1, 11, { type_name: '.k.Inner' }),
          field('tags', 2, 9, { label: 3 }),
          field('attrs', 3, 11, { label: 3, type_name: '.k.Bad.AttrsEntry' }),
          field('grp', 4, 10, { type_name: '.k.Bad.Grp' }),
        ],
        nested_type: [
          { name: 'AttrsEntry', field: [{ name: 'key', number: 1, label: 1, type: 9 }, { name: 'value', number: 2, label: 1, type: 9 }], options: { map_entry: true } },
          { name: 'Grp', field: [{ name: 'x', number: 5, label: 1, type: 9 }] },
        ],
      },
    ],
    service: [{ name: 'Svc', method: [{ name: 'Good', input_type: '.k.Good', output_type: '.k.Good' }, { name: 'Bad', input_type: '.k.Bad', output_type: '.k.Good' }] }],
  };
  const problemsAs = (entity_type: string) => modelProblems(buildProxyModel({ proto: descriptorSetOf([file]), entities: [{ entity_type, service_name: 'k.Svc' }] }));
  const problems = problemsAs(EntityType.valueEntity);
  t.same(
    problems.map((p) => p.split(', but')[0]),
    [
      'Method k.Svc.Bad has entity key field inner (in k.Bad), which is a message (k.Inner)',
      'Method k.Svc.Bad has entity key field tags (in k.Bad), which is a repeated field',
      'Method k.Svc.Bad has entity key field attrs (in k.Bad), which is a map',
      'Method k.Svc.Bad has entity key field grp (in k.Bad), which is a group',
    ],
    'string, enum, bytes, int64 and double keys pass; message, repeated, map and group keys do not',
  );
  t.match(problems[0], /: mark a string, number, bool or enum field \(or several, whose values are joined with "-"\) with \[\(cloudstate\.entity_key\) = true\] instead\.$/);
  t.same(problemsAs(EntityType.crdt).length, 4, 'CRDT entities too');
  t.same(problemsAs(EntityType.action), [], 'actions have no entity: their key fields are not read');
});
