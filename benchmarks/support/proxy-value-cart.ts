/**
 * The proxy benchmark's value-entity cart: the same `ShoppingCart` service over
 * `samples/shopping-cart/proto` as the sample, written as a value entity (the whole cart stored
 * on every `AddItem`, quantities of one product summed), served with the user-function library
 * on `PORT` (127.0.0.1). What the key-value store's writes cost through the proxy, next to the
 * event-sourced sample. Prints `ready <port>` on stdout once it serves.
 */
import { join } from 'node:path';
import { CloudstateServer, ValueEntity, type ValueEntityCommandContext } from '../../src/function/index.js';
import type { Cart, LineItem } from './proxy-cart.js';

const protoDir = join(import.meta.dirname, '..', '..', 'samples', 'shopping-cart', 'proto');

const cart = new ValueEntity<Cart>({
  serviceName: 'com.example.shoppingcart.ShoppingCart',
  protoFiles: ['shoppingcart.proto', 'domain.proto'],
  includeDirs: [protoDir],
  persistenceId: 'value-shopping-cart',
  stateType: 'com.example.shoppingcart.persistence.Cart',
  initialState: (): Cart => ({ items: [] }),
  commandHandlers: {
    AddItem(add: LineItem, cart: Cart, ctx: ValueEntityCommandContext<Cart>) {
      if (add.quantity <= 0) ctx.fail(`Cannot add negative quantity of to item ${add.productId}`);
      const existing = cart.items.find((item) => item.productId === add.productId);
      const items = existing
        ? cart.items.map((item) => (item === existing ? { ...item, quantity: item.quantity + add.quantity } : item))
        : [...cart.items, { productId: add.productId, name: add.name, quantity: add.quantity }];
      ctx.updateState({ items });
      return {};
    },
    RemoveItem(remove: { productId: string }, cart: Cart, ctx: ValueEntityCommandContext<Cart>) {
      if (!cart.items.some((item) => item.productId === remove.productId)) ctx.fail(`Cannot remove item ${remove.productId} because it is not in the cart.`);
      ctx.updateState({ items: cart.items.filter((item) => item.productId !== remove.productId) });
      return {};
    },
    GetCart(_get: unknown, cart: Cart) {
      return { items: cart.items };
    },
  },
});

const server = new CloudstateServer({ entities: [cart], serviceName: 'value-shopping-cart' });
const port = await server.start({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`ready ${port}\n`);
const stop = () => void server.shutdown().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
