// Three real proxy processes, one cluster, one PostgreSQL database, each proxy beside its own
// shopping-cart user function (the sidecar layout). Carts are filled through all three proxies
// at once over HTTP/JSON; every proxy then reads every cart and must see every acknowledged item
// with the summed quantity, whichever node hosts the cart. Then one proxy is killed (-9): the
// two survivors take over its carts, recovered from storage, with nothing lost. Twice: with the
// event-sourced cart (the journal) and with the value-entity cart (the key-value store, whose
// writes from all carts of a node share statements).
import { join } from 'node:path';
import t from 'tap';
import { proxiesOverPostgres } from '../support/postgres-proxies.js';
import { eventually, type ProxyProcess } from '../support/proxy-process.js';

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

const samples = join(import.meta.dirname, '..', '..', 'samples', 'shopping-cart');

for (const [kind, script] of [['event-sourced', join(samples, 'index.ts')], ['value-entity', join(samples, 'value-cart.ts')]] as const) {
  t.test(`three proxies over one Postgres serve one ${kind} shopping cart consistently, and survive a kill -9`, async (t) => {
    const proxies = await proxiesOverPostgres(t, script);

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
}
