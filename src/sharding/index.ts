/**
 * The sharding layer's public surface: `Sharding` and its handles for applications; the
 * entity behaviours (event sourced, durable state, in memory) and their effects; allocation
 * strategies and passivation policies; and the SPI types for those who write their own.
 */
export { Sharding } from './sharding.js';
export type { EntityRef, EntityTypeHandle, EntityTypeSettings, ShardingOptions } from './sharding.js';
export { ShardRegion } from './region.js';
export { consistentHashing, leastShards } from './allocation.js';
export type { ConsistentHashingOptions, LeastShardsOptions } from './allocation.js';
export { idleTimeout, lru, windowTinyLfu } from './passivation.js';
export type { LimitOptions } from './passivation.js';
export { shardOf } from './shard-id.js';
export { jsonSerializer as jsonMessageSerializer } from './protocol.js';
export { entityStorage } from './storage.js';
export { DEFAULT_MAX_CONCURRENT_RECOVERIES, RecoveryPermits, withRecoveryPermit } from './recovery-permits.js';
export { Effect, EntityRecoveryError, durableState, eventSourced, inMemory, jsonSerializer as jsonEventSerializer } from './behaviors/index.js';
export type {
  CommandContext,
  DurableStateEffect,
  DurableStateSpec,
  EventSerializer,
  EventSourcedSpec,
  InMemoryOutcome,
  InMemorySpec,
  StateSerializer,
} from './behaviors/index.js';
export type { Serializer } from './protocol.js';
export { CommandFailedError, EntityStoppedError } from './errors.js';
export type {
  Allocations,
  EntityBehavior,
  EntityContext,
  EntityId,
  EntityInstance,
  EntityStorage,
  PassivationPolicy,
  RegionId,
  ShardAllocationStrategy,
  ShardId,
} from './types.js';
