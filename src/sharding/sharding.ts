/**
 * `Sharding`: cluster sharding as an application uses it. `sharding.init({ typeName, behavior,
 * ... })` starts, for one entity type, a region on this node and a coordinator singleton in the
 * cluster, and returns a handle whose `entityRef(id)` reaches the entity wherever it lives.
 * Each entity runs on exactly one node at a time, handles one command at a time, and moves
 * (hand-off) when shards are rebalanced, when its node leaves, or when its node is on the
 * losing side of a partition. On a graceful `cluster.leave()`, every type's shards are handed
 * off before the node exits.
 */
import { CloudstateError, silentLogger, systemClock, systemScheduler } from '../core/index.js';
import type { Clock, Logger, Scheduler } from '../core/index.js';
import type { Cluster } from '../cluster/index.js';
import { consistentHashing } from './allocation.js';
import { Coordinator } from './coordinator.js';
import { idleTimeout } from './passivation.js';
import { jsonSerializer } from './protocol.js';
import type { CoordinatorAnswer, CoordinatorRequest, Serializer } from './protocol.js';
import { ShardRegion } from './region.js';
import type { EntityBehavior, EntityId, EntityStorage, PassivationPolicy, ShardAllocationStrategy } from './types.js';

export interface ShardingOptions {
  /** Where durable entities keep their state; needed on nodes that host event-sourced or durable-state entities. */
  storage?: EntityStorage;
  clock?: Clock;
  scheduler?: Scheduler;
  logger?: Logger;
}

export interface EntityTypeSettings<C, R> {
  /** Unique in the cluster; part of every persistence id (`typeName|entityId`). */
  typeName: string;
  behavior: EntityBehavior<C, R>;
  /** Fixed for the life of the data (default 100): an entity's shard is `hash(id) mod numberOfShards`. */
  numberOfShards?: number;
  /** Default: consistent hashing over the regions (fewest shards move when members change). */
  allocationStrategy?: ShardAllocationStrategy;
  /** Which entities to stop until their next command; its limits count this type's entities on each node (default: 2 minutes idle). */
  passivation?: PassivationPolicy | (() => PassivationPolicy);
  /** Only members with this role host the type's entities; the others route to them. */
  role?: string;
  /** Commands and replies between nodes (default JSON). */
  serializer?: Serializer;
  /** Commands waiting for their shard on this node, at most (default 10,000). */
  bufferSize?: number;
  /** Default `ask` timeout, ms (default 5,000). */
  askTimeoutMs?: number;
  /** How often the coordinator rebalances, ms (default 10 s; 1 s with the `local` preset's speeds in tests). */
  rebalanceIntervalMs?: number;
}

/** A reference to one entity: where it lives is the runtime's business. */
export interface EntityRef<C, R> {
  readonly entityId: EntityId;
  /** Sends a command and resolves with the entity's reply (after its effects are durable). */
  ask(command: C, options?: { timeoutMs?: number }): Promise<R>;
  /** Sends a command; resolves once the entity handled it, the reply dropped. */
  tell(command: C, options?: { timeoutMs?: number }): Promise<void>;
}

export interface EntityTypeHandle<C, R> {
  readonly typeName: string;
  entityRef(entityId: EntityId): EntityRef<C, R>;
  /** The region on this node (introspection: hosted shards, active entities). */
  readonly region: ShardRegion;
}

export class Sharding {
  private readonly regions = new Map<string, ShardRegion>();
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: ShardingOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.log = options.logger ?? silentLogger;
    cluster.onLeave(() => this.handOffAll());
  }

  /** Starts sharding for one entity type on this node; call it on every node, with the same settings. */
  init<C, R>(settings: EntityTypeSettings<C, R>): EntityTypeHandle<C, R> {
    const { typeName } = settings;
    if (this.regions.has(typeName)) throw new CloudstateError('ERR_SHARDING_CONFIG', `entity type ${typeName} is already initialised`);
    const hostsHere = settings.role === undefined || this.cluster.self.roles.includes(settings.role);
    if (hostsHere && !this.options.storage) this.log.debug({ typeName }, 'no storage given: only in-memory entities can run here');
    const logger = this.log.child({ typeName });
    const strategy = settings.allocationStrategy ?? consistentHashing();
    const singleton = this.cluster.singleton<CoordinatorRequest, CoordinatorAnswer>({
      name: `sharding-coordinator/${typeName}`,
      role: settings.role,
      create: () => {
        const c = new Coordinator({
          typeName,
          role: settings.role,
          strategy,
          rebalanceIntervalMs: settings.rebalanceIntervalMs ?? 10_000,
          rebuildTimeoutMs: 3_000,
          handOffTimeoutMs: 10_000,
          cluster: this.cluster,
          scheduler: this.scheduler,
          logger,
        });
        return { receive: (request) => c.receive(request), stop: () => c.stop() };
      },
    });
    const region = new ShardRegion({
      typeName,
      numberOfShards: settings.numberOfShards ?? 100,
      behavior: hostsHere ? (settings.behavior as EntityBehavior) : undefined,
      storage: this.options.storage,
      passivation: typeof settings.passivation === 'function' ? settings.passivation() : (settings.passivation ?? idleTimeout(120_000)),
      serializer: settings.serializer ?? jsonSerializer,
      bufferSize: settings.bufferSize ?? 10_000,
      cluster: this.cluster,
      coordinator: singleton,
      clock: this.clock,
      scheduler: this.scheduler,
      logger,
    });
    this.regions.set(typeName, region);
    const timeout = settings.askTimeoutMs ?? 5_000;
    return {
      typeName,
      region,
      entityRef: (entityId) => ({
        entityId,
        ask: (command, o) => region.ask(entityId, command, o?.timeoutMs ?? timeout) as Promise<R>,
        tell: async (command, o) => void (await region.ask(entityId, command, o?.timeoutMs ?? timeout)),
      }),
    };
  }

  /** Stops every region (entities finish the command at hand); the cluster itself is not left. */
  async stop(): Promise<void> {
    await Promise.all([...this.regions.values()].map((r) => r.stop()));
  }

  private async handOffAll(): Promise<void> {
    await Promise.all([...this.regions.values()].map((r) => r.leave()));
  }
}
