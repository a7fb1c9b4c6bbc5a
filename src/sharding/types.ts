/**
 * The words and the contracts of the sharding layer, shared by its parts: entities live in
 * shards, shards live in regions (one region per entity type on each node, named by the
 * member id of its node), and the coordinator decides which region hosts which shard.
 *
 * - An entity behaviour (`EntityBehavior`) knows how to start one entity and handle its
 *   commands; the runtime guarantees one live instance per entity id in the cluster and hands
 *   it one command at a time, in arrival order.
 * - An allocation strategy (`ShardAllocationStrategy`) is pure and async, as Akka's.
 * - A passivation policy (`PassivationPolicy`) decides which idle or excess entities to stop.
 */
import type { Clock, Logger } from '../core/index.js';
import type { Journal, KeyValueStore, SnapshotStore } from '../persistence/index.js';
import type { RecoveryPermits } from './recovery-permits.js';

export type EntityId = string;
export type ShardId = string;
/** A region is named by the member id of the node it runs on. */
export type RegionId = string;

/** What an entity is given when it starts. */
export interface EntityContext {
  readonly typeName: string;
  readonly entityId: EntityId;
  /** `${typeName}|${entityId}`: the key of its events, snapshots or durable state. */
  readonly persistenceId: string;
  /** Written on every event as `writerId`: the node and start of this instance. */
  readonly writerId: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Where entities keep their state (the node's storage, opened once for all entity types). */
export interface EntityStorage {
  readonly journal: Journal;
  readonly snapshots: SnapshotStore;
  readonly keyValue: KeyValueStore;
  /** Bounds the node's concurrent recoveries (./recovery-permits.ts); unbounded without it. */
  readonly recoveries?: RecoveryPermits;
}

/** A running entity. The runtime calls `handle` one command at a time and never after `stop`. */
export interface EntityInstance<C = unknown, R = unknown> {
  /**
   * Handles one command and resolves with the reply once its effects are durable (events
   * persisted, state stored). A rejection is the command's failure, sent to the caller; the
   * entity goes on, unless the error is an `EntityStoppedError` (./errors.ts): then the
   * instance is finished and the runtime restarts it (recovery) for the next command.
   */
  handle(command: C): Promise<R>;
  /** Passivation or hand-off: finish, release resources. Commands are not handled meanwhile. */
  stop(): Promise<void>;
  /** Set by the entity (`Effect.stop()`) to ask to be passivated after the reply. */
  readonly wantsStop?: boolean;
}

/** How to start one entity of a type. */
export interface EntityBehavior<C = unknown, R = unknown> {
  /** Recovers the entity's state (from storage, for durable behaviours) and returns the running instance. */
  start(context: EntityContext, storage: EntityStorage): Promise<EntityInstance<C, R>>;
}

/** Shards per region, as the coordinator knows them. */
export type Allocations = ReadonlyMap<RegionId, readonly ShardId[]>;

/** Where shards go (after Akka's ShardAllocationStrategy): pure, async, no side effects. */
export interface ShardAllocationStrategy {
  /**
   * The region to host `shardId`, which is not hosted anywhere yet. `requester` is the region
   * that asked (it has a message for the shard); `allocations` lists every live region,
   * including those with no shard.
   */
  allocateShard(requester: RegionId, shardId: ShardId, allocations: Allocations): Promise<RegionId>;
  /**
   * Shards to move now to even out the load, at most as many as the strategy allows in one
   * round; shards in `inProgress` are already moving and must not be returned.
   */
  rebalance(allocations: Allocations, inProgress: ReadonlySet<ShardId>): Promise<ShardId[]>;
}

/**
 * Decides which active entities to passivate (stop until their next command). The runtime
 * tells it of every command and stop; `now` is monotonic ms.
 */
export interface PassivationPolicy {
  /** An entity got a command. Returns the entities to passivate now (e.g. the limit was exceeded). */
  onAccess(entityId: EntityId, now: number): EntityId[];
  /** The entity stopped (passivated, failed or handed off): forget it. */
  onStop(entityId: EntityId): void;
  /** Entities idle for too long at `now`; the runtime calls this periodically. */
  idle(now: number): EntityId[];
  /** How often the runtime should call `idle`, ms (undefined: never). */
  readonly checkIntervalMs: number | undefined;
}
