/**
 * The Cloudstate shopping cart as an event-sourced entity: one cart per user id, events
 * `ItemAdded` and `ItemRemoved` (proto/domain.proto), a snapshot of the whole cart every 5
 * events. Adding a product already in the cart adds to its quantity.
 */
import { fileURLToPath } from 'node:url';
import { EventSourcedEntity, type EventSourcedCommandContext } from '@cloudstate/cluster/function';

/** The directory of the sample's .proto files. */
export const protoDir = fileURLToPath(new URL('./proto', import.meta.url));

/** `com.example.shoppingcart.persistence.LineItem` (and the API's `LineItem`, same field names in camelCase). */
export interface LineItem {
  productId: string;
  name: string;
  quantity: number;
}
/** The entity's state: `com.example.shoppingcart.persistence.Cart`. */
export interface CartState {
  items: LineItem[];
}
interface AddLineItem {
  userId: string;
  productId: string;
  name: string;
  quantity: number;
}
interface RemoveLineItem {
  userId: string;
  productId: string;
}

const DOMAIN = 'com.example.shoppingcart.persistence';

/** A new shopping cart entity type, ready to be served. */
export function shoppingCartEntity(): EventSourcedEntity<CartState> {
  const entity: EventSourcedEntity<CartState> = new EventSourcedEntity<CartState>({
    serviceName: 'com.example.shoppingcart.ShoppingCart',
    protoFiles: ['shoppingcart.proto', 'domain.proto'],
    includeDirs: [protoDir],
    persistenceId: 'shopping-cart',
    snapshotEvery: 5,
    stateType: `${DOMAIN}.Cart`,
    initialState: () => ({ items: [] }),
    commandHandlers: {
      AddItem(add: AddLineItem, _cart: CartState, ctx: EventSourcedCommandContext<CartState>) {
        if (add.quantity <= 0) ctx.fail(`Cannot add negative quantity of to item ${add.productId}`);
        ctx.emit(entity.message(`${DOMAIN}.ItemAdded`, { item: { productId: add.productId, name: add.name, quantity: add.quantity } }));
        return {};
      },
      RemoveItem(remove: RemoveLineItem, cart: CartState, ctx: EventSourcedCommandContext<CartState>) {
        if (!cart.items.some((item) => item.productId === remove.productId)) {
          ctx.fail(`Cannot remove item ${remove.productId} because it is not in the cart.`);
        }
        ctx.emit(entity.message(`${DOMAIN}.ItemRemoved`, { productId: remove.productId }));
        return {};
      },
      GetCart(_get: { userId: string }, cart: CartState) {
        return { items: cart.items.map(({ productId, name, quantity }) => ({ productId, name, quantity })) };
      },
    },
    eventHandlers: {
      ItemAdded(added: { item: LineItem }, cart: CartState): CartState {
        const existing = cart.items.find((item) => item.productId === added.item.productId);
        const items = existing
          ? cart.items.map((item) => (item === existing ? { ...item, quantity: item.quantity + added.item.quantity } : item))
          : [...cart.items, { productId: added.item.productId, name: added.item.name, quantity: added.item.quantity }];
        return { items };
      },
      ItemRemoved(removed: { productId: string }, cart: CartState): CartState {
        return { items: cart.items.filter((item) => item.productId !== removed.productId) };
      },
    },
  });
  return entity;
}
