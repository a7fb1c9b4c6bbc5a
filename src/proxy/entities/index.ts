/**
 * The entity supports behind the dispatcher: event-sourced and value entities on cluster
 * sharding, actions called directly, and the dispatcher that routes calls to them.
 */
export { createDispatcher, defaultEntitySettings } from './dispatcher.js';
export type { DispatcherOptions, EntitySettings } from './dispatcher.js';
export { entityMessageSerializer } from './messages.js';
export type { EntityCommand, UserFunctionReply } from './messages.js';
export { toCallError } from './errors.js';
