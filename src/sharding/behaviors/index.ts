/**
 * Entity behaviours for embedded use: event sourced, durable state and in memory, and the
 * `Effect` vocabulary their command handlers speak. Each factory returns an `EntityBehavior`
 * (../types.ts) for the sharding runtime. This file is the behaviours' public surface and
 * nothing else.
 */
export { Effect } from './effect.js';
export type { Deletion, EffectAction, SideEffect } from './effect.js';
export { eventSourced } from './event-sourced.js';
export type { EventSourcedSpec } from './event-sourced.js';
export { durableState } from './durable-state.js';
export type { DurableStateEffect, DurableStateSpec } from './durable-state.js';
export { inMemory } from './in-memory.js';
export type { InMemoryOutcome, InMemorySpec } from './in-memory.js';
export { BehaviorInstance, EntityRecoveryError } from './instance.js';
export type { CommandContext } from './instance.js';
export { jsonSerializer } from './serializer.js';
export type { EventSerializer, StateSerializer } from './serializer.js';
