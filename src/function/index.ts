/**
 * The TypeScript user-function library (`@cloudstate/cluster/function`): write event-sourced
 * entities, value entities and actions as typed handlers over your .proto files, and serve them
 * to a Cloudstate proxy (protocol 0.2) with `CloudstateServer`. No protoc and no cluster needed.
 *
 * ```ts
 * import { CloudstateServer, EventSourcedEntity } from '@cloudstate/cluster/function';
 *
 * const cart = new EventSourcedEntity<Cart>({
 *   serviceName: 'com.example.shoppingcart.ShoppingCart',
 *   protoFiles: ['shoppingcart.proto', 'domain.proto'],
 *   includeDirs: ['./proto'],
 *   persistenceId: 'shopping-cart',
 *   snapshotEvery: 5,
 *   initialState: () => ({ items: [] }),
 *   stateType: 'com.example.shoppingcart.persistence.Cart',
 *   commandHandlers: {
 *     AddItem(item, cart, ctx) {
 *       if (item.quantity <= 0) ctx.fail(`Cannot add negative quantity of to item ${item.productId}`);
 *       ctx.emit(cart.message(...));
 *       return {};
 *     },
 *   },
 *   eventHandlers: { ItemAdded: (event, cart) => ({ ...cart, items: [...] }) },
 * });
 * const port = await new CloudstateServer({ entities: [cart] }).start({ port: 8080 });
 * ```
 */
export { CloudstateServer } from './server.js';
export type { CloudstateServerOptions, StartOptions } from './server.js';

export { Entity } from './entity.js';
export type { EntityOptions, StatefulEntityOptions } from './entity.js';

export { EventSourcedEntity, EventSourcedCommandContext } from './event-sourced.js';
export type { EventSourcedEntityOptions, EventSourcedCommandHandler, EventHandler } from './event-sourced.js';

export { ValueEntity, ValueEntityCommandContext } from './value-entity.js';
export type { ValueEntityOptions, ValueEntityCommandHandler } from './value-entity.js';

export { Action, ActionContext, StreamedActionContext } from './action.js';
export type {
  ActionOptions,
  ActionHandler,
  UnaryActionHandler,
  StreamedInActionHandler,
  StreamedOutActionHandler,
  StreamedActionHandler,
} from './action.js';

export { CommandContext, CommandFailure } from './context.js';
export { Metadata } from './metadata.js';
export type { MetadataValue } from './metadata.js';

export {
  AnySupport,
  packMessage,
  packJson,
  packPrimitive,
  unpackPrimitive,
  JSON_TYPE_URL_PREFIX,
  PRIMITIVE_TYPE_URL_PREFIX,
} from './any-support.js';
export type { Packable, PrimitiveType, ProtobufMessage } from './any-support.js';

export { buildDescriptorSet, fileDescriptorProtos } from './descriptors.js';
export type { ProtoSource } from './descriptors.js';
export { entitySpec, serviceInfo, SUPPORT_LIBRARY_NAME } from './discovery.js';
export { serviceDefinition } from './grpc-definitions.js';
