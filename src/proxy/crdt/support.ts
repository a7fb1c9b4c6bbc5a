/**
 * CRDT entities on this node (after the reference proxy's `CrdtSupportFactory` and
 * `CrdtEntityManager`): not sharded; every node runs its own instance of an entity, one per
 * (service, entity id), started on its first command and kept until it is passivated, crashes
 * or is deleted and idle. The instances' states are one replicated CRDT per entity in the
 * node's `Replicator` (./entity.ts).
 *
 * Passivation: an instance idle for its service's discovered passivation timeout (else the
 * configured default) is stopped, but not while a command, a streamed call or a cancellation
 * is outstanding. A command for an instance that is starting waits for it; one that arrives
 * after an instance stopped starts a new one.
 *
 * The dispatcher routes: `invoke` and `streamed` return the user function's replies unrouted;
 * the dispatcher sets `detached` so that side effects with no client (a stream cancellation's
 * response) are routed too.
 */
import { describeError, silentLogger, systemClock, systemScheduler } from '../../core/index.js';
import type { Cancellable, Clock, Logger, Scheduler } from '../../core/index.js';
import type { Replicator } from '../../crdt/index.js';
import type { Any } from '../../protocol/index.js';
import { entityIdOf } from '../descriptors.js';
import { CallError, Status } from '../dispatch.js';
import { invalidRequest } from '../entities/errors.js';
import type { UserFunctionReply } from '../entities/messages.js';
import type { MethodModel, ProxyModel, ServiceModel } from '../model.js';
import type { UserFunctionClient } from '../user-function.js';
import { CrdtEntity } from './entity.js';

export interface CrdtSettings {
  /** Idle time before an instance is passivated, ms, unless discovery gave one (default 30,000). */
  readonly passivationTimeoutMs: number;
  /** The start's majority read, ms (default 3,000, as the reference proxy). */
  readonly readTimeoutMs: number;
  /** Majority and all writes, ms (default 5,000, as the reference proxy). */
  readonly writeTimeoutMs: number;
  /** How long a command may wait for the user function's reply before the entity crashes, ms (default 60,000). */
  readonly relayTimeoutMs: number;
  /** After a half-close, how long the user function has to end its side, ms (default 10,000). */
  readonly closeGraceMs: number;
}

export const defaultCrdtSettings: CrdtSettings = { passivationTimeoutMs: 30_000, readTimeoutMs: 3_000, writeTimeoutMs: 5_000, relayTimeoutMs: 60_000, closeGraceMs: 10_000 };

export interface CrdtSupportOptions {
  readonly model: ProxyModel;
  readonly client: UserFunctionClient;
  readonly replicator: Replicator;
  /** The members that count as Vote voters (the cluster's up members), this node's id included. */
  readonly voters: () => Iterable<string>;
  readonly settings?: Partial<CrdtSettings>;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
}

interface Slot {
  readonly starting: Promise<CrdtEntity>;
  entity?: CrdtEntity;
  timer?: Cancellable;
}

export class CrdtSupport {
  /** Routes the side effects of a reply no client waits for; the dispatcher sets it. */
  detached: (reply: UserFunctionReply, service: ServiceModel) => void = () => undefined;
  private readonly settings: CrdtSettings;
  private readonly slots = new Map<string, Slot>();
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly o: CrdtSupportOptions) {
    this.settings = { ...defaultCrdtSettings, ...o.settings };
    this.scheduler = o.scheduler ?? systemScheduler;
    this.clock = o.clock ?? systemClock;
    this.log = o.logger ?? silentLogger;
  }

  /** Instances running on this node. */
  get size(): number {
    return this.slots.size;
  }

  /** A unary command (a call, a forward, a side effect): the user function's reply, unrouted. Rejects with a CallError or a `UserFunctionCallError`. */
  async invoke(method: MethodModel, payload: Any): Promise<UserFunctionReply> {
    const { service, entityId } = this.target(method, payload);
    const entity = await this.entity(service, entityId);
    return entity.command(method.name, payload);
  }

  /** A server-streaming command: the user function's replies, unrouted; stops (cancels) when the consumer stops iterating or `signal` aborts. */
  async *streamed(method: MethodModel, payload: Any, signal: AbortSignal): AsyncGenerator<UserFunctionReply> {
    const { service, entityId } = this.target(method, payload);
    const entity = await this.entity(service, entityId);
    try {
      yield* entity.streamed(method.name, payload, signal);
    } finally {
      this.touch(`${service.name}\u0000${entityId}`, service);
    }
  }

  /** Cluster membership changed: Vote tallies may have changed with it. */
  membersChanged(): void {
    for (const slot of this.slots.values()) slot.entity?.membersChanged();
  }

  /** Stops every instance (their streams half-closed); later commands fail UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const slot of [...this.slots.values()]) {
      slot.timer?.cancel();
      slot.entity?.stop();
    }
    this.slots.clear();
  }

  private target(method: MethodModel, payload: Any): { service: ServiceModel; entityId: string } {
    if (this.closed) throw new CallError(Status.UNAVAILABLE, 'the proxy is stopping');
    const service = this.o.model.services.get(method.serviceName);
    if (!service) throw new CallError(Status.UNIMPLEMENTED, `service ${method.serviceName} is not served by the user function`);
    try {
      return { service, entityId: entityIdOf(method, payload.value ?? new Uint8Array(0)) };
    } catch (err) {
      throw invalidRequest(method, err);
    }
  }

  /** The running instance for the entity, started when there is none. */
  private async entity(service: ServiceModel, entityId: string): Promise<CrdtEntity> {
    const id = `${service.name}\u0000${entityId}`;
    let slot = this.slots.get(id);
    if (slot?.entity?.stopped) slot = undefined;
    if (!slot) {
      const fresh: Slot = { starting: this.start(id, service, entityId, () => fresh) };
      slot = fresh;
      this.slots.set(id, fresh);
      fresh.starting.then(
        (e) => (fresh.entity = e),
        () => this.slots.get(id) === fresh && this.slots.delete(id),
      );
    }
    const entity = await slot.starting;
    this.touch(id, service);
    return entity;
  }

  private start(id: string, service: ServiceModel, entityId: string, self: () => Slot): Promise<CrdtEntity> {
    return CrdtEntity.start({
      service,
      entityId,
      client: this.o.client,
      replicator: this.o.replicator,
      wire: { self: this.o.replicator.selfId, now: () => this.clock.now(), voters: this.o.voters },
      scheduler: this.scheduler,
      logger: this.log,
      readTimeoutMs: this.settings.readTimeoutMs,
      writeTimeoutMs: this.settings.writeTimeoutMs,
      relayTimeoutMs: this.settings.relayTimeoutMs,
      closeGraceMs: this.settings.closeGraceMs,
      reportError: (message) => this.reportError(message),
      detached: (reply) => this.detached(reply, service),
      onStopped: () => {
        const slot = self();
        slot.timer?.cancel();
        if (this.slots.get(id) === slot) this.slots.delete(id);
      },
    });
  }

  /** (Re)starts the instance's idle timer; when it fires while the instance is busy, it waits another period. */
  private touch(id: string, service: ServiceModel): void {
    const slot = this.slots.get(id);
    if (!slot) return;
    slot.timer?.cancel();
    const timeout = service.passivationTimeoutMs ?? this.settings.passivationTimeoutMs;
    slot.timer = this.scheduler.schedule(timeout, () => {
      if (this.slots.get(id) !== slot) return;
      if (slot.entity?.active) return this.touch(id, service);
      this.log.debug({ service: service.name, id }, 'passivating CRDT entity');
      this.slots.delete(id);
      slot.entity?.stop();
    });
  }

  private reportError(message: string): void {
    this.o.client.reportError(message).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'reportError to the user function failed'));
  }
}
