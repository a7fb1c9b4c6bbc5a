/**
 * The shopping cart sample (samples/shopping-cart) driven through the protocol, as a proxy would.
 * The sample imports the library as a user does (`@cloudstate/cluster/function` → dist/), so this
 * needs `npm run build` first (`npm test` does it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadProtoFiles, protocolType, type Any } from '../../../src/protocol/index.js';
import { silentLogger } from '../../../src/core/index.js';
import { anyOf, decodeAny, openHandle, plain, protocolClient, type Plain } from './protocol-client.js';

const repo = join(import.meta.dirname, '..', '..', '..');
const built = existsSync(join(repo, 'dist', 'function', 'index.js'));
const protoDir = join(repo, 'samples', 'shopping-cart', 'proto');
const root = loadProtoFiles(['shoppingcart.proto', 'domain.proto'], { includeDirs: [protoDir], keepCase: false });
const SERVICE = 'com.example.shoppingcart.ShoppingCart';

interface Sample {
  startShoppingCart(port?: number, options?: { logger?: unknown }): Promise<{ server: { shutdown(graceMs?: number): Promise<void> }; port: number }>;
}

t.test('shopping cart sample', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  // Not a static import: the sample resolves the library from dist/, which typechecking must not need.
  const samplePath = join(repo, 'samples', 'shopping-cart', 'index.ts');
  const sample = (await import(samplePath)) as Sample;
  const { server, port } = await sample.startShoppingCart(0, { logger: silentLogger });
  t.teardown(() => server.shutdown(100));

  t.test('discovery: the cart entity, its keys and HTTP rules', async (t) => {
    const client = protocolClient('cloudstate.EntityDiscovery', port);
    t.teardown(() => client.close());
    const spec = await new Promise<Plain>((resolve, reject) =>
      client.discover!({ protocol_major_version: 0, protocol_minor_version: 2 }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(plain(r)))),
    );
    t.same(spec.entities, [{ entity_type: 'cloudstate.eventsourced.EventSourced', service_name: SERVICE, persistence_id: 'shopping-cart' }]);
    const setType = protocolType('google.protobuf.FileDescriptorSet');
    const files = (setType.toObject(setType.decode(spec.proto)) as Plain).file as Plain[];
    const cartFile = files.find((f) => f.name === 'shoppingcart.proto')!;
    const getCart = cartFile.service[0].method.find((m: Plain) => m.name === 'GetCart');
    t.same(getCart.options['.google.api.http'], { get: '/carts/{user_id}', additional_bindings: [{ get: '/carts/{user_id}/items', response_body: 'items' }] });
    t.ok(files.some((f) => f.name === 'domain.proto'));
  });

  t.test('add, merge quantities, remove, failures, snapshot every 5 events, recovery', async (t) => {
    const client = protocolClient('cloudstate.eventsourced.EventSourced', port);
    t.teardown(() => client.close());
    const { call, inbox } = openHandle(client);
    let id = 1;
    const send = async (name: string, type: string, fields: Plain) => {
      call.write({ command: { entity_id: 'ann', id: id++, name, payload: anyOf(root, `com.example.shoppingcart.${type}`, { userId: 'ann', ...fields }) } });
      return (await inbox.next())!;
    };
    call.write({ init: { service_name: SERVICE, entity_id: 'ann' } });

    const events: Any[] = [];
    const added = await send('AddItem', 'AddLineItem', { productId: 'apple', name: 'Apple', quantity: 2 });
    t.equal(added.reply.client_action.reply.payload.type_url, 'type.googleapis.com/google.protobuf.Empty');
    t.same(added.reply.events.map((e: Any) => decodeAny(root, e)), [{ item: { productId: 'apple', name: 'Apple', quantity: 2 } }]);
    events.push(...added.reply.events);
    events.push(...(await send('AddItem', 'AddLineItem', { productId: 'apple', name: 'Apple', quantity: 3 })).reply.events);
    events.push(...(await send('AddItem', 'AddLineItem', { productId: 'pear', name: 'Pear', quantity: 1 })).reply.events);

    const cart = await send('GetCart', 'GetShoppingCart', {});
    t.equal(cart.reply.client_action.reply.payload.type_url, 'type.googleapis.com/com.example.shoppingcart.Cart');
    t.same(decodeAny(root, cart.reply.client_action.reply.payload), {
      items: [{ productId: 'apple', name: 'Apple', quantity: 5 }, { productId: 'pear', name: 'Pear', quantity: 1 }],
    });
    t.notOk(cart.reply.events?.length);

    const negative = await send('AddItem', 'AddLineItem', { productId: 'plum', name: 'Plum', quantity: 0 });
    t.equal(negative.reply.client_action.failure.description, 'Cannot add negative quantity of to item plum');
    t.notOk(negative.reply.events?.length);
    const absent = await send('RemoveItem', 'RemoveLineItem', { productId: 'kiwi' });
    t.equal(absent.reply.client_action.failure.description, 'Cannot remove item kiwi because it is not in the cart.');

    const removed = await send('RemoveItem', 'RemoveLineItem', { productId: 'pear' });
    t.same(removed.reply.events.map((e: Any) => decodeAny(root, e)), [{ productId: 'pear' }]);
    t.notOk(removed.reply.snapshot, '4 events: no snapshot yet');
    events.push(...removed.reply.events);
    const fifth = await send('AddItem', 'AddLineItem', { productId: 'fig', name: 'Fig', quantity: 7 });
    t.equal(fifth.reply.snapshot.type_url, 'type.googleapis.com/com.example.shoppingcart.persistence.Cart');
    const snapshot = fifth.reply.snapshot as Any;
    t.same(decodeAny(root, snapshot), {
      items: [{ productId: 'apple', name: 'Apple', quantity: 5 }, { productId: 'fig', name: 'Fig', quantity: 7 }],
    });
    call.end();
    await inbox.ended();

    // A restarted entity: the proxy offers the snapshot, then the events after it.
    const again = openHandle(client);
    again.call.write({ init: { service_name: SERVICE, entity_id: 'ann', snapshot: { snapshot_sequence: 5, snapshot } } });
    again.call.write({ event: { sequence: 6, payload: anyOf(root, 'com.example.shoppingcart.persistence.ItemRemoved', { productId: 'apple' }) } });
    again.call.write({ command: { entity_id: 'ann', id: 1, name: 'GetCart', payload: anyOf(root, 'com.example.shoppingcart.GetShoppingCart', { userId: 'ann' }) } });
    const recovered = (await again.inbox.next())!;
    t.same(decodeAny(root, recovered.reply.client_action.reply.payload), { items: [{ productId: 'fig', name: 'Fig', quantity: 7 }] });
    again.call.end();
    await again.inbox.ended();

    // Replaying the events from scratch gives the same cart.
    const replay = openHandle(client);
    replay.call.write({ init: { service_name: SERVICE, entity_id: 'ann' } });
    events.forEach((payload, i) => replay.call.write({ event: { sequence: i + 1, payload } }));
    replay.call.write({ command: { entity_id: 'ann', id: 1, name: 'GetCart', payload: anyOf(root, 'com.example.shoppingcart.GetShoppingCart', { userId: 'ann' }) } });
    t.same(decodeAny(root, (await replay.inbox.next())!.reply.client_action.reply.payload), { items: [{ productId: 'apple', name: 'Apple', quantity: 5 }] });
    replay.call.end();
    await replay.inbox.ended();
  });
});
