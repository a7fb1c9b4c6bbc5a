// Three real proxy processes, one cluster, one PostgreSQL journal, each proxy beside its own
// shopping-cart user function (the sidecar layout). Carts are filled through all three proxies
// at once over HTTP/JSON; every proxy then reads every cart and must see every acknowledged item
// with the summed quantity, whichever node hosts the cart. Then one proxy is killed (-9): the
// two survivors take over its carts, recovered from the journal, with nothing lost.
import t from 'tap';
import { startPostgres } from '../support/postgres-server.js';
import { eventually, startProxy, type ProxyProcess } from '../support/proxy-process.js';

const USERS = 12;
const ROUNDS = 5;

interface Cart {
  items: { productId: string; name: string; quantity: number }[];
}

async function addItem(proxy: ProxyProcess, user: string, product: string, quantity: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${proxy.httpPort}/cart/${user}/items/add`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ productId: product, name: `name of ${product}`, quantity }),
  });
  if (response.status !== 200) throw new Error(`AddItem ${user}/${product} via :${proxy.httpPort}: ${response.status} ${await response.text()}`);
  await response.json();
}

async function getCart(proxy: ProxyProcess, user: string): Promise<Cart> {
  const response = await fetch(`http://127.0.0.1:${proxy.httpPort}/carts/${user}`);
  if (response.status !== 200) throw new Error(`GetCart ${user} via :${proxy.httpPort}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Cart;
}

t.test('three proxies over one Postgres serve one shopping cart consistently, and survive a kill -9', async (t) => {
  const db = await startPostgres({ fsync: false });
  t.teardown(() => db.destroy());
  const common = ['--store', 'postgres', '--postgres-url', db.url, '--cluster-preset', 'local', '--number-of-shards', '20'];
  const first = await startProxy([...common, '--cluster-port', '0']);
  const proxies = [first];
  t.teardown(async () => {
    for (const p of proxies) await p.kill();
  });
  proxies.push(await startProxy([...common, '--cluster-port', '0', '--seeds', first.clusterAddress]));
  proxies.push(await startProxy([...common, '--cluster-port', '0', '--seeds', first.clusterAddress]));

  // Every user's cart gets ROUNDS adds of the same product (quantity r+1) and one other
  // product, each add through a different proxy, all users at once.
  const expected = new Map<string, Map<string, number>>();
  const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
  await Promise.all(
    users.map(async (user, u) => {
      const cart = new Map<string, number>();
      expected.set(user, cart);
      for (let r = 0; r < ROUNDS; r++) {
        const proxy = proxies[(u + r) % proxies.length]!;
        await addItem(proxy, user, 'apple', r + 1);
        cart.set('apple', (cart.get('apple') ?? 0) + r + 1);
      }
      await addItem(proxies[u % proxies.length]!, user, `pear-${u}`, 2);
      cart.set(`pear-${u}`, 2);
    }),
  );

  const quantities = (cart: Cart) => new Map(cart.items.map((i) => [i.productId, i.quantity]));
  for (const proxy of proxies) {
    for (const user of users) {
      t.same(quantities(await getCart(proxy, user)), expected.get(user), `${user} read through :${proxy.httpPort}`);
    }
  }

  // A crash of one proxy: the survivors serve every cart, recovered from the journal.
  const victim = proxies.pop()!;
  await victim.kill();
  for (const user of users) {
    const cart = await eventually(`${user} after the kill`, () => getCart(proxies[0]!, user));
    t.same(quantities(cart), expected.get(user), `${user} after the kill -9 of :${victim.httpPort}`);
  }
  // And they take new commands for every cart.
  await Promise.all(users.map((user) => eventually(`add to ${user}`, () => addItem(proxies[1]!, user, 'plum', 1))));
  for (const user of users) t.equal(quantities(await getCart(proxies[0]!, user)).get('plum'), 1, `${user} took a new item`);
});
