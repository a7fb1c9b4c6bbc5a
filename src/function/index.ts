/**
 * The TypeScript user-function library (`@cloudstate/cluster/function`): write event-sourced
 * entities, value entities, CRDT entities and actions as typed handlers over your .proto files,
 * and serve them to a Cloudstate proxy (protocol 0.2) with `CloudstateServer`. No protoc and no cluster needed.
 * The full guide is ./README.md; samples/shopping-cart is a complete user function.
 *
 * ```ts
 * import { CloudstateServer, EventSourcedEntity } from '@cloudstate/cluster/function';
 *
 * const cart: EventSourcedEntity<Cart> = new EventSourcedEntity<Cart>({
 *   serviceName: 'com.example.shoppingcart.ShoppingCart',
 *   protoFiles: ['shoppingcart.proto', 'domain.proto'],
 *   includeDirs: ['./proto'],
 *   persistenceId: 'shopping-cart',
 *   snapshotEvery: 5,
 *   stateType: 'com.example.shoppingcart.persistence.Cart',
 *   initialState: () => ({ items: [] }),
 *   commandHandlers: {
 *     AddItem(add: AddLineItem, state: Cart, ctx: EventSourcedCommandContext<Cart>) {
 *       if (add.quantity <= 0) ctx.fail(`Cannot add negative quantity of to item ${add.productId}`);
 *       ctx.emit(cart.message('com.example.shoppingcart.persistence.ItemAdded', { item: { ...add } }));
 *       return {}; // google.protobuf.Empty
 *     },
 *   },
 *   eventHandlers: { ItemAdded: (added, state) => ({ items: [...state.items, added.item] }) },
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

export {
  CrdtEntity,
  CrdtCommandContext,
  StreamedMessageContext,
  StreamCancelledContext,
  CrdtState,
  GCounter,
  PNCounter,
  GSet,
  ORSet,
  LWWRegister,
  Clock,
  Flag,
  ORMap,
  Vote,
} from './crdt/index.js';
export type { CrdtEntityOptions, CrdtCommandHandler, WriteConsistency, StateChangeHandler, StreamCancelHandler, CrdtKind } from './crdt/index.js';

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
