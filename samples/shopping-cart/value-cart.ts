/**
 * The same shopping cart as a value entity: the proxy stores the whole cart on every change
 * (one key per user id, with a revision) instead of a journal of events. Same service, routes
 * and answers as the event-sourced sample (./cart.ts), so either one can stand behind a proxy.
 * Run it as the user function with
 * `node bin/cloudstate-proxy.js --dev --exec "node --import tsx samples/shopping-cart/value-cart.ts"`
 * (it serves on `PORT`, default 8080).
 */
import { pathToFileURL } from 'node:url';
import { CloudstateServer, ValueEntity, type ValueEntityCommandContext } from '@cloudstate/cluster/function';
import { protoDir, type CartState, type LineItem } from './cart.js';

/** A new value-entity shopping cart, ready to be served. */
export function valueShoppingCartEntity(): ValueEntity<CartState> {
  return new ValueEntity<CartState>({
    serviceName: 'com.example.shoppingcart.ShoppingCart',
    protoFiles: ['shoppingcart.proto', 'domain.proto'],
    includeDirs: [protoDir],
    persistenceId: 'value-shopping-cart',
    stateType: 'com.example.shoppingcart.persistence.Cart',
    initialState: () => ({ items: [] }),
    commandHandlers: {
      AddItem(add: LineItem, cart: CartState, ctx: ValueEntityCommandContext<CartState>) {
        if (add.quantity <= 0) ctx.fail(`Cannot add negative quantity of to item ${add.productId}`);
        const existing = cart.items.find((item) => item.productId === add.productId);
        const items = existing
          ? cart.items.map((item) => (item === existing ? { ...item, quantity: item.quantity + add.quantity } : item))
          : [...cart.items, { productId: add.productId, name: add.name, quantity: add.quantity }];
        ctx.updateState({ items });
        return {};
      },
      RemoveItem(remove: { productId: string }, cart: CartState, ctx: ValueEntityCommandContext<CartState>) {
        if (!cart.items.some((item) => item.productId === remove.productId)) ctx.fail(`Cannot remove item ${remove.productId} because it is not in the cart.`);
        ctx.updateState({ items: cart.items.filter((item) => item.productId !== remove.productId) });
        return {};
      },
      GetCart(_get: unknown, cart: CartState) {
        return { items: cart.items.map(({ productId, name, quantity }) => ({ productId, name, quantity })) };
      },
    },
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = new CloudstateServer({ entities: [valueShoppingCartEntity()], serviceName: 'value-shopping-cart', serviceVersion: '0.1.0' });
  const port = await server.start({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8080) });
  process.stdout.write(`ready ${port}\n`);
  const stop = () => void server.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
