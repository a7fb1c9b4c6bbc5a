/**
 * A shard: the entities of one shard id hosted on this node. It starts an entity on its first
 * command (recovery happens in the behaviour's `start`), hands each entity its commands one at
 * a time in arrival order, passivates entities when the policy says so, restarts an entity
 * whose instance stopped (`EntityStoppedError`: another writer, storage trouble) on its next
 * command, and on hand-off stops every entity after the command it is handling. It knows
 * nothing of the network: the region routes to it.
 *
 * ```
 *   entity:  (absent) ──command──► starting ──► active ──passivate/hand-off──► stopping ──► (absent)
 *                                     │            │
 *                                     └─failed─────┴─EntityStoppedError──► (absent; next command restarts)
 * ```
 */
import { CloudstateError, describeError, hasCode } from '../core/index.js';
import type { Clock, Logger } from '../core/index.js';
import { EntityStoppedError } from './errors.js';
import type { EntityBehavior, EntityId, EntityInstance, EntityStorage, PassivationPolicy, ShardId } from './types.js';

interface Entity {
  /** The instance, once started; a rejected start fails the commands waiting for it. */
  readonly instance: Promise<EntityInstance>;
  /** The tail of this entity's command queue. */
  tail: Promise<unknown>;
  /** Set when passivation begins; resolves once the instance has stopped. */
  stopped?: Promise<void>;
}

export interface ShardOptions {
  typeName: string;
  shardId: ShardId;
  behavior: EntityBehavior;
  storage: EntityStorage;
  /** The region's policy, shared by all its shards (its limits are per node and type). */
  passivation: PassivationPolicy;
  /** Passivates an entity the policy chose, in whichever shard of the region it lives. */
  evict: (entityId: EntityId) => void;
  /** This node and start, written on every event. */
  writerId: string;
  clock: Clock;
  logger: Logger;
}

export class Shard {
  private readonly entities = new Map<EntityId, Entity>();
  /** Instances that failed and are being stopped: a restart waits for them. */
  private readonly failed = new Map<EntityId, Promise<unknown>>();
  private handingOff = false;

  constructor(private readonly o: ShardOptions) {}

  get shardId(): ShardId {
    return this.o.shardId;
  }

  /** Entities active (or starting) in this shard now. */
  get activeEntities(): number {
    return this.entities.size;
  }

  has(entityId: EntityId): boolean {
    return this.entities.has(entityId);
  }

  /**
   * Hands `command` to the entity, starting it if needed; resolves with its reply. Commands to
   * one entity run one at a time, in the order of the calls.
   */
  deliver(entityId: EntityId, command: unknown): Promise<unknown> {
    if (this.handingOff) return Promise.reject(new CloudstateError('ERR_SHARDING_HANDING_OFF', `shard ${this.o.shardId} is being handed off`));
    let entity = this.entities.get(entityId);
    if (!entity || entity.stopped) entity = this.startEntity(entityId);
    const e = entity;
    const result = e.tail.then(async () => {
      // The instance failed while this command waited: it goes to the restarted entity, in turn.
      if (this.entities.get(entityId) !== e && !e.stopped) return this.deliver(entityId, command);
      const instance = await e.instance;
      const reply = await instance.handle(command);
      if (instance.wantsStop) void this.passivate(entityId);
      return reply;
    });
    e.tail = result.then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof EntityStoppedError || hasCode(err, 'ERR_SHARDING_ENTITY_START')) this.forget(entityId, e);
      },
    );
    for (const victim of this.o.passivation.onAccess(entityId, this.o.clock.monotonic())) if (victim !== entityId) this.o.evict(victim);
    return result;
  }

  /** Stops an entity after the commands already queued for it (passivation). */
  async passivate(entityId: EntityId): Promise<void> {
    const e = this.entities.get(entityId);
    if (!e) return;
    if (e.stopped) return e.stopped;
    e.stopped = (async () => {
      await e.tail;
      try {
        await (await e.instance).stop();
      } catch (err) {
        this.o.logger.warn({ entityId, err: describeError(err) }, 'entity stop failed');
      }
      if (this.entities.get(entityId) === e) {
        this.entities.delete(entityId);
        this.o.passivation.onStop(entityId);
      }
    })();
    return e.stopped;
  }

  /** True once `handOff` began: the shard takes no new command. */
  get isHandingOff(): boolean {
    return this.handingOff;
  }

  /** Hand-off: refuses new commands, lets each entity finish the commands it has, stops them all. */
  async handOff(): Promise<void> {
    this.handingOff = true;
    await Promise.all([...this.entities.keys()].map((id) => this.passivate(id)));
  }

  private startEntity(entityId: EntityId): Entity {
    const { typeName, behavior, storage, writerId, clock, logger } = this.o;
    const context = { typeName, entityId, persistenceId: `${typeName}|${entityId}`, writerId, clock, logger: logger.child({ entityId }) };
    const previous = this.entities.get(entityId);
    // A restarted entity waits for its stopping predecessor: never two instances of one entity.
    const before = previous ? (previous.stopped ?? previous.tail) : (this.failed.get(entityId) ?? Promise.resolve());
    const instance = before.then(() =>
      behavior.start(context, storage).catch((err: unknown) => {
        throw new CloudstateError('ERR_SHARDING_ENTITY_START', `entity ${typeName}/${entityId} failed to start: ${describeError(err)}`, { cause: err });
      }),
    );
    instance.catch(() => undefined);
    const e: Entity = { instance, tail: instance.catch(() => undefined) };
    this.entities.set(entityId, e);
    return e;
  }

  private forget(entityId: EntityId, e: Entity): void {
    if (this.entities.get(entityId) !== e) return;
    this.entities.delete(entityId);
    this.o.passivation.onStop(entityId);
    this.o.logger.info({ entityId }, 'entity stopped after a failure; the next command recovers it');
    // Release what the failed instance holds; the restarted one waits for this (see startEntity).
    const stopped = e.instance.then((i) => i.stop()).catch(() => undefined);
    this.failed.set(entityId, stopped);
    void stopped.then(() => this.failed.get(entityId) === stopped && this.failed.delete(entityId));
  }
}
