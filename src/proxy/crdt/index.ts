/**
 * CRDT entities in the proxy (`cloudstate.crdt.Crdt`): an instance per entity on every node,
 * state in the node's replicator, deltas both ways on the user function's stream.
 */
export { CrdtSupport, defaultCrdtSettings } from './support.js';
export type { CrdtSettings, CrdtSupportOptions } from './support.js';
export { ENTITY_DELETED, ENTITY_TERMINATING, WRITE_FAILED } from './entity.js';
export { IncompatibleDeltaError, applyDelta, diffDelta, stateAsDelta } from './wire.js';
export type { WireContext } from './wire.js';
