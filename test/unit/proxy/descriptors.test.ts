import t from 'tap';
import { protocolType, EntityType } from '../../../src/protocol/index.js';
import { buildProxyModel, DiscoveryError, entityIdOf, splitDescriptorSet } from '../../../src/proxy/descriptors.js';

// A descriptor set as protoc writes it, built field by field (snake_case descriptor.proto names),
// with the entity key and HTTP options as extension fields.
const cartFile = {
  name: 'shop/cart.proto',
  package: 'shop',
  dependency: ['cloudstate/entity_key.proto', 'google/api/annotations.proto'],
  syntax: 'proto3',
  message_type: [
    {
      name: 'AddLineItem',
      field: [
        { name: 'user_id', number: 1, label: 1, type: 9, json_name: 'userId', options: { '.cloudstate.entity_key': true } },
        { name: 'quantity', number: 4, label: 1, type: 5, json_name: 'quantity' },
        { name: 'region', number: 2, label: 1, type: 9, json_name: 'region', options: { '.cloudstate.legacy_entity_key': true } },
      ],
    },
    { name: 'Ack', field: [{ name: 'count', number: 1, label: 1, type: 3, json_name: 'count' }] },
  ],
  service: [
    {
      name: 'Cart',
      method: [
        {
          name: 'AddItem',
          input_type: '.shop.AddLineItem',
          output_type: '.shop.Ack',
          options: { '.google.api.http': { post: '/cart/{user_id}/items/add', body: '*' } },
        },
        { name: 'Watch', input_type: '.shop.AddLineItem', output_type: '.shop.Ack', server_streaming: true },
      ],
    },
  ],
};

function specWith(files: object[], entities: object[]) {
  const set = protocolType('google.protobuf.FileDescriptorSet');
  return { proto: set.encode({ file: files }).finish(), entities };
}

t.test('builds methods with types, key fields, HTTP rules and streaming flags', async (t) => {
  const spec = specWith([cartFile], [{ entity_type: EntityType.eventSourced, service_name: 'shop.Cart', persistence_id: 'carts' }]);
  const model = buildProxyModel(spec);
  const service = model.services.get('shop.Cart')!;
  t.equal(service.persistenceId, 'carts');
  t.equal(service.entityType, EntityType.eventSourced);
  t.equal(service.passivationTimeoutMs, undefined);
  const add = model.method('/shop.Cart/AddItem')!;
  t.equal(add.inputTypeUrl, 'type.googleapis.com/shop.AddLineItem');
  t.equal(add.outputTypeUrl, 'type.googleapis.com/shop.Ack');
  t.same(add.entityKeyFields.map((f) => f.id), [1, 2], 'entity_key and legacy_entity_key');
  t.match(add.httpRule, { post: '/cart/{user_id}/items/add', body: '*' });
  t.equal(add.serverStreaming, false);
  t.equal(model.method('/shop.Cart/Watch')!.serverStreaming, true);
  t.equal(model.method('/shop.Cart/Nope'), undefined);
  t.same([...model.files.keys()], ['shop/cart.proto']);
  t.same(splitDescriptorSet(spec.proto).length, 1);

  const payload = add.inputType.encode({ userId: 'ann', region: 'eu', quantity: 3 }).finish();
  t.equal(entityIdOf(add, payload), 'ann-eu', 'several keys join with "-"');
});

t.test('a single key is the value as text; a method with no key gives ""', async (t) => {
  const file = structuredClone(cartFile);
  file.message_type[0]!.field[2]!.options = {} as never;
  const model = buildProxyModel(specWith([file], [{ entity_type: EntityType.action, service_name: 'shop.Cart' }]));
  const add = model.method('/shop.Cart/AddItem')!;
  t.equal(entityIdOf(add, add.inputType.encode({ userId: 'bob' }).finish()), 'bob');
  t.equal(model.services.get('shop.Cart')!.persistenceId, 'Cart', 'persistence id defaults to the simple service name');
  const keyless = { ...add, entityKeyFields: [] };
  t.equal(entityIdOf(keyless, new Uint8Array()), '');
});

t.test('several keys join with "-" in declaration order, each printed as Java prints it', async (t) => {
  const key = { '.cloudstate.entity_key': true };
  const file = {
    name: 'shop/line.proto',
    package: 'shop',
    dependency: ['cloudstate/entity_key.proto'],
    syntax: 'proto3',
    enum_type: [{ name: 'Region', value: [{ name: 'US', number: 0 }, { name: 'EU', number: 1 }] }],
    message_type: [
      {
        name: 'Line',
        // Declared out of number order: the reference orders keys by declaration (FieldDescriptor.getIndex).
        field: [
          { name: 'region', number: 5, label: 1, type: 14, type_name: '.shop.Region', json_name: 'region', options: key },
          { name: 'price', number: 1, label: 1, type: 1, json_name: 'price', options: key },
          { name: 'weight', number: 2, label: 1, type: 2, json_name: 'weight', options: key },
          { name: 'count', number: 3, label: 1, type: 3, json_name: 'count', options: key },
          { name: 'gift', number: 4, label: 1, type: 8, json_name: 'gift', options: key },
          { name: 'sku', number: 6, label: 1, type: 9, json_name: 'sku', options: key },
        ],
      },
    ],
    service: [{ name: 'Lines', method: [{ name: 'Add', input_type: '.shop.Line', output_type: '.shop.Line' }] }],
  };
  const model = buildProxyModel(specWith([file], [{ entity_type: EntityType.valueEntity, service_name: 'shop.Lines' }]));
  const add = model.method('/shop.Lines/Add')!;
  const id = (line: object) => entityIdOf(add, add.inputType.encode(line).finish());
  t.equal(id({ region: 1, price: 1, weight: 0.1, count: '9007199254740993', gift: true, sku: 'a-1' }), 'EU-1.0-0.1-9007199254740993-true-a-1');
  t.equal(id({ price: 1e10, weight: 1e-4 }), 'US-1.0E10-1.0E-4-0-false-', 'unset keys print their defaults');
});

t.test('the passivation timeout comes from the entity', async (t) => {
  const model = buildProxyModel(
    specWith([cartFile], [{ entity_type: EntityType.valueEntity, service_name: 'shop.Cart', passivation_strategy: { timeout: { timeout: 100 } } }]),
  );
  t.equal(model.services.get('shop.Cart')!.passivationTimeoutMs, 100);
});

t.test('errors name what is missing', async (t) => {
  t.throws(() => buildProxyModel(specWith([cartFile], [{ entity_type: EntityType.action, service_name: 'shop.Nope' }])), {
    name: 'DiscoveryError',
    message: /shop\.Nope .* is not in the descriptor set; known services: shop\.Cart/,
  });
  const broken = structuredClone(cartFile);
  broken.service[0]!.method[0]!.output_type = '.shop.Missing';
  t.throws(() => buildProxyModel(specWith([broken], [{ entity_type: EntityType.action, service_name: 'shop.Cart' }])), DiscoveryError);
  t.throws(() => buildProxyModel({ proto: new Uint8Array([0x0a, 0xff]), entities: [] }), { message: /does not parse/ });
});
