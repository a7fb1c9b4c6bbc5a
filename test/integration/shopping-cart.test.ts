// The main job, as a user runs it: the proxy bin in dev mode with the LevelDB store and the
// shopping-cart sample, over HTTP/JSON and gRPC. The cart survives a restart of both; bad input
// gets a clear error and changes nothing; a user function that goes away makes calls fail with
// UNAVAILABLE / 503 until it is back, and the proxy keeps serving.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { loadProtoFiles } from '../../src/protocol/index.js';
import { eventually, freePort, proxyBin, shoppingCartScript, startProxy, type ProxyProcess } from '../support/proxy-process.js';

const protoDir = join(import.meta.dirname, '..', '..', 'samples', 'shopping-cart', 'proto');
const root = loadProtoFiles(['shoppingcart.proto'], { includeDirs: [protoDir], keepCase: false });
const AddLineItem = root.lookupType('com.example.shoppingcart.AddLineItem');
const GetShoppingCart = root.lookupType('com.example.shoppingcart.GetShoppingCart');
const Cart = root.lookupType('com.example.shoppingcart.Cart');

const post = (port: number, path: string, body?: string, contentType = 'application/json') =>
  fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: body === undefined ? {} : { 'content-type': contentType }, ...(body === undefined ? {} : { body }) });
const getCart = async (port: number, user: string) => (await (await fetch(`http://127.0.0.1:${port}/carts/${user}`)).json()) as unknown;

/** `npm start`'s command line, with a temp data directory and a free port. */
async function startDevProxy(dataDir: string, httpPort: number, ufPort: number) {
  const proc = spawn(process.execPath, [proxyBin, '--dev', '--data-dir', dataDir, '--http-port', String(httpPort), '--user-function-port', String(ufPort), '--exec', `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(shoppingCartScript)}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving in 60 s:\n${log}`)), 60_000);
    proc.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('"msg":"serving"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}:\n${log}`)));
  });
  return {
    /** SIGTERM, as Ctrl-C would: a graceful stop that also stops the user function. */
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

t.test('npm start: add, read, restart, read again, over HTTP/JSON and gRPC', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cart-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const [httpPort, ufPort] = [await freePort(), await freePort()];
  let proxy = await startDevProxy(dataDir, httpPort, ufPort);
  t.teardown(() => proxy.stop());

  let response = await post(httpPort, '/cart/ann/items/add', JSON.stringify({ productId: 'apple', name: 'Apple', quantity: 2 }));
  t.equal(response.status, 200);
  t.same(await response.json(), {}, 'AddItem answers google.protobuf.Empty as {}');
  await post(httpPort, '/cart/ann/items/add', JSON.stringify({ productId: 'apple', name: 'Apple', quantity: 3 }));
  await post(httpPort, '/cart/ann/items/add', JSON.stringify({ productId: 'pear', name: 'Pear', quantity: 1 }));
  t.same(await getCart(httpPort, 'ann'), { items: [{ productId: 'apple', name: 'Apple', quantity: 5 }, { productId: 'pear', name: 'Pear', quantity: 1 }] });
  response = await post(httpPort, '/cart/ann/items/pear/remove');
  t.equal(response.status, 200, 'RemoveItem has no body rule');
  t.same(await (await fetch(`http://127.0.0.1:${httpPort}/carts/ann/items`)).json(), [{ productId: 'apple', name: 'Apple', quantity: 5 }], 'additional binding with response_body: items');

  // gRPC, as any gRPC client calls it.
  const client = new grpc.Client(`127.0.0.1:${httpPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const unary = (method: string, bytes: Uint8Array) =>
    new Promise<Uint8Array>((resolve, reject) =>
      client.makeUnaryRequest(`/com.example.shoppingcart.ShoppingCart/${method}`, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes, (err, value) => (err ? reject(err) : resolve(value!))),
    );
  await unary('AddItem', AddLineItem.encode({ userId: 'ann', productId: 'kiwi', name: 'Kiwi', quantity: 7 }).finish());
  const cart = Cart.toObject(Cart.decode(await unary('GetCart', GetShoppingCart.encode({ userId: 'ann' }).finish())));
  t.same(cart, { items: [{ productId: 'apple', name: 'Apple', quantity: 5 }, { productId: 'kiwi', name: 'Kiwi', quantity: 7 }] }, 'gRPC sees the same cart');
  client.close();

  t.equal(await proxy.stop(), 0, 'a graceful stop exits 0');
  proxy = await startDevProxy(dataDir, httpPort, ufPort);
  t.same(await getCart(httpPort, 'ann'), { items: [{ productId: 'apple', name: 'Apple', quantity: 5 }, { productId: 'kiwi', name: 'Kiwi', quantity: 7 }] }, 'the cart survives a restart (LevelDB)');
});

t.test('bad input gets a clear error and changes nothing; a user function outage is UNAVAILABLE until it returns', async (t) => {
  const proxy: ProxyProcess = await startProxy(['--dev', '--store', 'memory']);
  t.teardown(() => proxy.kill());
  const port = proxy.httpPort;
  await post(port, '/cart/bob/items/add', JSON.stringify({ productId: 'apple', name: 'Apple', quantity: 1 }));

  let response = await post(port, '/cart/bob/items/add', '{"productId": "pear", "quantity": ');
  t.equal(response.status, 400, 'malformed JSON → 400');
  t.match(await response.text(), /./, 'with a reason');
  response = await post(port, '/cart/bob/items/add', JSON.stringify({ productId: 'pear', quantity: 'many' }));
  t.equal(response.status, 400, 'a wrong type → 400');
  response = await post(port, '/cart/bob/items/add', 'productId=pear', 'text/plain');
  t.equal(response.status, 400, 'a body that is not JSON → 400');
  response = await post(port, '/cart/bob/items/add', JSON.stringify({ productId: 'pear', name: 'Pear', quantity: -1 }));
  t.equal(response.status, 500, 'an entity failure → 500');
  t.equal(await response.text(), 'Cannot add negative quantity of to item pear', 'with the user function\'s description');
  response = await fetch(`http://127.0.0.1:${port}/no/such/route`);
  t.equal(response.status, 404, 'unknown route → 404');

  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const raw = (path: string, bytes: Uint8Array) =>
    new Promise<grpc.ServiceError | undefined>((resolve) =>
      client.makeUnaryRequest(path, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes, (err) => resolve(err ?? undefined)),
    );
  const malformed = await raw('/com.example.shoppingcart.ShoppingCart/AddItem', new Uint8Array([0x0a, 0xff, 0xff, 0xff]));
  t.equal(malformed?.code, grpc.status.INVALID_ARGUMENT, 'malformed protobuf → INVALID_ARGUMENT');
  const unknown = await raw('/com.example.shoppingcart.ShoppingCart/Checkout', new Uint8Array());
  t.equal(unknown?.code, grpc.status.UNIMPLEMENTED, 'unknown method → UNIMPLEMENTED');
  t.same(await getCart(port, 'bob'), { items: [{ productId: 'apple', name: 'Apple', quantity: 1 }] }, 'nothing changed');

  await proxy.killUserFunction();
  // A command that reaches the proxy before it has read the closed connection may fail as a crash
  // mid-command (500): wait until the proxy has seen the user function go.
  await eventually('the proxy sees the user function down', async () => {
    const probe = await post(port, '/cart/probe/items/add', JSON.stringify({ productId: 'fig', name: 'Fig', quantity: 1 }));
    if (probe.status !== 503) throw new Error(`a probe got ${probe.status}`);
  });
  response = await post(port, '/cart/carl/items/add', JSON.stringify({ productId: 'fig', name: 'Fig', quantity: 1 }));
  t.equal(response.status, 503, 'user function down → 503');
  const down = await raw('/com.example.shoppingcart.ShoppingCart/GetCart', GetShoppingCart.encode({ userId: 'dora' }).finish());
  t.equal(down?.code, grpc.status.UNAVAILABLE, 'and UNAVAILABLE over gRPC');
  t.equal((await fetch(`http://127.0.0.1:${port}/alive`)).status, 200, 'the proxy stays alive');

  await proxy.restartUserFunction();
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await post(port, '/cart/carl/items/add', JSON.stringify({ productId: 'fig', name: 'Fig', quantity: 1 }))).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(status, 200, 'serving again once the user function is back');
  t.same(await getCart(port, 'bob'), { items: [{ productId: 'apple', name: 'Apple', quantity: 1 }] }, 'bob\'s cart replays from the journal in the new user function');
});
