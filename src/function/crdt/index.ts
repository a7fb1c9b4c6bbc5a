/**
 * CRDT entities for the user-function library: `CrdtEntity`, its contexts, and the CRDT state
 * objects a handler holds (GCounter, PNCounter, GSet, ORSet, LWWRegister, Flag, ORMap, Vote).
 * The guide is ../README.md ("CRDT entities").
 */
export { CrdtEntity } from './entity.js';
export type { CrdtEntityOptions, CrdtCommandHandler } from './entity.js';
export { CrdtCommandContext, StreamedMessageContext, StreamCancelledContext } from './context.js';
export type { WriteConsistency, StateChangeHandler, StreamCancelHandler } from './context.js';
export { CrdtState } from './state.js';
export type { CrdtKind } from './state.js';
export { GCounter, PNCounter } from './counters.js';
export { GSet, ORSet } from './sets.js';
export { LWWRegister, Clock } from './lww-register.js';
export { Flag } from './flag.js';
export { ORMap } from './ormap.js';
export { Vote } from './vote.js';
