/**
 * The proxy benchmark's stand-in for the shopping-cart sample: an event-sourced `ShoppingCart`
 * over `samples/shopping-cart/proto` with the sample's semantics for `AddItem` (an `ItemAdded`
 * event, quantities of one product summed, a snapshot every 5 events) and `GetCart`, served with
 * the user-function library on `PORT` (127.0.0.1). Prints `ready <port>` on stdout once it serves.
 * `benchmarks/proxy.ts` uses `samples/shopping-cart/index.ts` instead whenever that file exists.
 */
import { join } from 'node:path';
import { CloudstateServer, EventSourcedEntity, type EventSourcedCommandContext } from '../../src/function/index.js';

interface LineItem {
  productId: string;
  name: string;
  quantity: number;
}
interface Cart {
  items: LineItem[];
}
interface AddLineItem {
  userId: string;
  productId: string;
  name: string;
  quantity: number;
}

const protoDir = join(import.meta.dirname, '..', '..', 'samples', 'shopping-cart', 'proto');
const ITEM_ADDED = 'com.example.shoppingcart.persistence.ItemAdded';

const cart: EventSourcedEntity<Cart> = new EventSourcedEntity<Cart>({
  serviceName: 'com.example.shoppingcart.ShoppingCart',
  protoFiles: ['shoppingcart.proto', 'domain.proto'],
  includeDirs: [protoDir],
  persistenceId: 'shopping-cart',
  snapshotEvery: 5,
  stateType: 'com.example.shoppingcart.persistence.Cart',
  initialState: (): Cart => ({ items: [] }),
  snapshotHandler: (snapshot: unknown): Cart => ({ items: ((snapshot as Partial<Cart>).items ?? []).map((i) => ({ ...i })) }),
  eventHandlers: {
    ItemAdded(event: { item?: LineItem }, state: Cart): Cart {
      const item = event.item!;
      const existing = state.items.find((i) => i.productId === item.productId);
      if (existing) existing.quantity += item.quantity;
      else state.items.push({ productId: item.productId, name: item.name, quantity: item.quantity });
      return state;
    },
  },
  commandHandlers: {
    AddItem(command: AddLineItem, _state: Cart, ctx: EventSourcedCommandContext<Cart>) {
      if (command.quantity <= 0) ctx.fail(`Cannot add negative quantity of to item ${command.productId}`);
      ctx.emit(cart.message(ITEM_ADDED, { item: { productId: command.productId, name: command.name, quantity: command.quantity } }));
      return {};
    },
    GetCart(_command: unknown, state: Cart) {
      return { items: state.items };
    },
  },
});

const server = new CloudstateServer({ entities: [cart] });
const port = await server.start({ host: '127.0.0.1', port: Number(process.env.PORT ?? 8080) });
process.stdout.write(`ready ${port}\n`);
const stop = () => void server.shutdown().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
