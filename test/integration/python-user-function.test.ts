// A Cloudstate user function in another language, on another gRPC implementation: the shopping
// cart written in Python against the protocol itself (python-user-function/shopping_cart.py, on
// grpcio's C core, no Cloudstate library), served unmodified by the proxy bin in dev mode on
// LevelDB. Over HTTP/JSON and gRPC: discovery, commands, the cart's own failures, the cart back
// after a restart of the proxy and the Python function (replayed through the Python function's
// init and event handling), and the Python function killed and started again. Skipped, saying
// why, where /usr/bin/python3 has no grpc or there is no protoc.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { loadProtoFiles } from '../../src/protocol/index.js';
import { eventually, startProxy, type ProxyProcess } from '../support/proxy-process.js';

const python = '/usr/bin/python3';
const protoc = '/usr/bin/protoc';
const userFunction = [python, join(import.meta.dirname, 'python-user-function', 'shopping_cart.py')];

function missing(): string | undefined {
  try {
    execFileSync(python, ['-c', 'import grpc, google.protobuf'], { stdio: 'ignore' });
  } catch {
    return `${python} cannot import grpc (apt-get install python3-grpcio python3-protobuf)`;
  }
  try {
    execFileSync(protoc, ['--version'], { stdio: 'ignore' });
  } catch {
    return `no ${protoc} (apt-get install protobuf-compiler)`;
  }
  return undefined;
}
const skip = missing() ?? false;

const protoDir = join(import.meta.dirname, '..', '..', 'samples', 'shopping-cart', 'proto');
const root = loadProtoFiles(['shoppingcart.proto'], { includeDirs: [protoDir], keepCase: false });
const AddLineItem = root.lookupType('com.example.shoppingcart.AddLineItem');
const GetShoppingCart = root.lookupType('com.example.shoppingcart.GetShoppingCart');
const Cart = root.lookupType('com.example.shoppingcart.Cart');

interface Item {
  productId: string;
  name: string;
  quantity: number;
}

/** The proxy bin in dev mode on LevelDB in `dataDir`, beside the Python shopping cart. */
const startDevProxy = (dataDir: string) => startProxy(['--dev', '--store', 'leveldb', '--data-dir', dataDir], {}, 60_000, { userFunctionCommand: userFunction });

/** HTTP/JSON and gRPC calls of the cart through one proxy. */
function cartClient(t: Test, proxy: ProxyProcess) {
  const base = `http://127.0.0.1:${proxy.httpPort}`;
  const client = new grpc.Client(`127.0.0.1:${proxy.httpPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const unary = (method: string, bytes: Uint8Array) =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(`/com.example.shoppingcart.ShoppingCart/${method}`, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes, (err, value) => (err ? reject(err) : resolve(value!))),
    );
  return {
    add: (user: string, item: Item) => fetch(`${base}/cart/${user}/items/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(item) }),
    remove: (user: string, productId: string) => fetch(`${base}/cart/${user}/items/${productId}/remove`, { method: 'POST' }),
    get: (user: string) => fetch(`${base}/carts/${user}`),
    async cart(user: string) {
      const response = await fetch(`${base}/carts/${user}`);
      if (response.status !== 200) throw new Error(`GET /carts/${user}: ${response.status} ${await response.text()}`);
      return (await response.json()) as { items: Item[] };
    },
    grpcAdd: (user: string, item: Item) => unary('AddItem', AddLineItem.encode({ userId: user, ...item }).finish()),
    async grpcCart(user: string) {
      return Cart.toObject(Cart.decode(await unary('GetCart', GetShoppingCart.encode({ userId: user }).finish())), { defaults: true });
    },
  };
}

/** The gRPC status of a call that must fail. */
async function grpcError(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error('the call succeeded');
}

const apple = (quantity: number): Item => ({ productId: 'apple', name: 'Apple', quantity });
const pear = (quantity: number): Item => ({ productId: 'pear', name: 'Pear', quantity });
const kiwi = (quantity: number): Item => ({ productId: 'kiwi', name: 'Kiwi', quantity });
const fig = (quantity: number): Item => ({ productId: 'fig', name: 'Fig', quantity });

t.test('the Python shopping cart behind the proxy: HTTP/JSON, gRPC, its failures, a restart of both', { skip }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'python-cart-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  let proxy = await startDevProxy(dataDir);
  t.teardown(() => proxy.kill());

  const discovered = proxy.log().split('\n').find((line) => line.includes('"user function discovered"'));
  t.match(JSON.parse(discovered ?? '{}'), { services: ['com.example.shoppingcart.ShoppingCart'], runtime: /^Python / }, 'discovery accepted the Python function\'s protoc-made descriptors');
  let cart = cartClient(t, proxy);

  // HTTP/JSON, through the sample's google.api.http routes.
  let response = await cart.add('ann', apple(2));
  t.equal(response.status, 200);
  t.same(await response.json(), {}, 'AddItem answers google.protobuf.Empty as {}');
  t.equal((await cart.add('ann', apple(3))).status, 200);
  t.equal((await cart.add('ann', pear(1))).status, 200);
  t.same(await cart.cart('ann'), { items: [apple(5), pear(1)] }, 'a product added twice has the sum of its quantities');
  t.equal((await cart.remove('ann', 'pear')).status, 200, 'RemoveItem');
  t.same(await (await fetch(`http://127.0.0.1:${proxy.httpPort}/carts/ann/items`)).json(), [apple(5)], 'the additional binding with response_body: items');

  // gRPC, as any gRPC client calls it.
  t.same(await cart.grpcAdd('ann', kiwi(7)), Buffer.alloc(0), 'AddItem over gRPC answers an empty message');
  t.same(await cart.grpcCart('ann'), { items: [apple(5), kiwi(7)] }, 'gRPC sees the cart HTTP made');

  // The cart's own failures (ClientAction failure): the client gets its text, nothing changes.
  response = await cart.add('ann', pear(-1));
  t.equal(response.status, 500, 'a negative quantity over HTTP → 500');
  t.equal(await response.text(), 'Cannot add negative quantity of to item pear', 'with the Python function\'s description');
  response = await cart.add('ann', pear(0));
  t.equal(response.status, 500, 'quantity 0 → 500 too');
  const failed = await grpcError(cart.grpcAdd('ann', kiwi(-3)));
  t.equal(failed.code, grpc.status.UNKNOWN, 'over gRPC: UNKNOWN');
  t.equal(failed.details, 'Cannot add negative quantity of to item kiwi', 'with the description');
  response = await cart.remove('ann', 'plum');
  t.equal(response.status, 500, 'removing a product not in the cart → 500');
  t.equal(await response.text(), 'Cannot remove item plum because it is not in the cart.');
  t.same(await cart.cart('ann'), { items: [apple(5), kiwi(7)] }, 'the failures changed nothing');

  // ann: 6 events, so a snapshot at 5 (sent by the Python function) and one event after it; bob: 2 events, no snapshot.
  t.equal((await cart.add('ann', fig(1))).status, 200);
  t.equal((await cart.add('bob', pear(2))).status, 200);
  t.equal((await cart.add('bob', pear(1))).status, 200);
  const annBefore = await cart.cart('ann');
  t.same(annBefore, { items: [apple(5), kiwi(7), fig(1)] });

  // Both processes go; new ones (a new Python function) get the carts back from LevelDB.
  await proxy.stop();
  proxy = await startDevProxy(dataDir);
  cart = cartClient(t, proxy);
  t.same(await cart.cart('ann'), annBefore, 'ann\'s cart after the restart (snapshot + event)');
  t.same(await cart.grpcCart('bob'), { items: [pear(3)] }, 'bob\'s cart after the restart (events only), over gRPC');
  t.equal((await cart.add('ann', fig(2))).status, 200, 'commands go on after the replay');
  t.same(await cart.cart('ann'), { items: [apple(5), kiwi(7), fig(3)] });
});

t.test('the Python function killed mid-run: UNAVAILABLE until it is back, then the carts are intact', { skip }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'python-cart-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const proxy = await startDevProxy(dataDir);
  t.teardown(() => proxy.kill());
  const cart = cartClient(t, proxy);
  t.equal((await cart.add('carl', apple(1))).status, 200);
  t.equal((await cart.add('carl', pear(2))).status, 200);
  t.same(await cart.cart('carl'), { items: [apple(1), pear(2)] }, 'carl\'s entity is active: its stream to the Python function is open');

  await proxy.killUserFunction();
  // A command that reaches the proxy before it has read the closed connection goes out on it, and
  // may have reached the function before it died: it fails as a crash mid-command (500). Once the
  // proxy has seen the connection go, the function is down: 503 / UNAVAILABLE.
  await eventually('the proxy sees the Python function down', async () => {
    const probe = await cart.get('probe');
    if (probe.status !== 503) throw new Error(`a probe got ${probe.status}`);
  });
  let response = await cart.add('carl', kiwi(1));
  t.equal(response.status, 503, 'a command to the active entity → 503');
  t.equal((await cart.get('dora')).status, 503, 'a command to a new entity → 503');
  t.equal((await grpcError(cart.grpcAdd('carl', kiwi(1)))).code, grpc.status.UNAVAILABLE, 'UNAVAILABLE over gRPC');
  t.equal((await grpcError(cart.grpcCart('dora'))).code, grpc.status.UNAVAILABLE, 'for a new entity too');
  t.equal((await fetch(`http://127.0.0.1:${proxy.httpPort}/alive`)).status, 200, 'the proxy stays alive');

  await proxy.restartUserFunction();
  t.same(await eventually('carl\'s cart once the Python function is back', () => cart.cart('carl')), { items: [apple(1), pear(2)] }, 'carl\'s cart is intact: replayed into the new Python function, none of the failed adds in it');
  t.same(await cart.grpcAdd('carl', kiwi(4)), Buffer.alloc(0), 'commands work again');
  t.same(await cart.grpcCart('carl'), { items: [apple(1), pear(2), kiwi(4)] });
  t.same(await cart.cart('dora'), { items: [] }, 'and a new entity starts empty');
});
