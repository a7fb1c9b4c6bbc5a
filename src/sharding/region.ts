/**
 * A shard region: one per entity type on each node. It routes each command to the shard of its
 * entity, wherever that shard lives: to a local `Shard`, or over reliable messaging to the
 * region that hosts it. It asks the coordinator where a shard lives, and buffers commands while
 * the answer is pending, while the shard moves, and while this node lacks quorum (bounded:
 * `bufferSize` per region, then `ERR_SHARDING_BUFFER_FULL`). A region hosts a shard only when
 * the coordinator named it the shard's home, and stops hosting on hand-off, on a graceful leave
 * and when its node loses quorum.
 *
 * Delivery is at most once: a command whose host dies while it is in flight fails with
 * `ERR_SHARDING_HOST_LOST` (it may have been handled). A command sent to a region that no
 * longer hosts the shard is answered "not here" and routed again, in order.
 */
import { CloudstateError, describeError, hasCode, toError } from '../core/index.js';
import type { Cancellable, Clock, Logger, Scheduler } from '../core/index.js';
import type { Cluster, ClusterSingleton, Peer } from '../cluster/index.js';
import { decodeFrame, encodeFrame } from './protocol.js';
import type { CoordinatorAnswer, CoordinatorRequest, RegionMessage, Serializer } from './protocol.js';
import { Shard } from './shard.js';
import { shardOf } from './shard-id.js';
import type { EntityBehavior, EntityId, EntityStorage, PassivationPolicy, RegionId, ShardId } from './types.js';

export interface RegionOptions {
  typeName: string;
  numberOfShards: number;
  /** Absent: this node only routes (it lacks the type's role). */
  behavior: EntityBehavior | undefined;
  storage: EntityStorage | undefined;
  /** One policy for the region: its limit counts the entities of this type on this node. */
  passivation: PassivationPolicy;
  serializer: Serializer;
  bufferSize: number;
  cluster: Cluster;
  coordinator: ClusterSingleton<CoordinatorRequest, CoordinatorAnswer>;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
}

interface Pending {
  readonly id: string;
  readonly seq: number;
  readonly shard: ShardId;
  readonly entityId: EntityId;
  /** The command as the caller gave it: local entities get it as it is (as in Akka, no serialization in-process). */
  readonly command: unknown;
  /** Serialized on first use, when the command leaves the process. */
  body?: Uint8Array;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: Cancellable;
  /** The region it was sent to, while in flight. */
  target?: RegionId;
}

const RETRY_MS = 100;

export class ShardRegion {
  private readonly shards = new Map<ShardId, Shard>();
  private readonly homes = new Map<ShardId, RegionId>();
  private readonly buffers = new Map<ShardId, Pending[]>();
  private readonly asking = new Set<ShardId>();
  private readonly inFlight = new Map<string, Pending>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers: Cancellable[] = [];
  private buffered = 0;
  private counter = 0;
  private stopped = false;
  /** A graceful leave is under way: host nothing, register nowhere, route everything away. */
  private leaving = false;
  private readonly topic: string;
  private readonly self: RegionId;

  constructor(private readonly o: RegionOptions) {
    this.topic = `sharding/${o.typeName}`;
    this.self = o.cluster.self.id;
    const { cluster } = o;
    this.unsubscribe.push(cluster.onMessage(this.topic, (from, data) => this.onMessage(from, data)));
    const onGone = (m: { id: string }) => this.regionGone(m.id);
    const onPaused = () => void this.stopHosting('hosting paused (quorum lost, or declared dead)');
    const onResumed = () => this.flushAll();
    // A new coordinator (fail-over) must hear what this region hosts, whoever it asked.
    let coordinatorHost = o.coordinator.host?.id;
    const onChange = () => {
      const now = o.coordinator.host?.id;
      if (now === coordinatorHost) return;
      coordinatorHost = now;
      if (this.hosts) void this.register();
    };
    cluster.on('member-removed', onGone);
    cluster.on('hosting-paused', onPaused);
    cluster.on('hosting-resumed', onResumed);
    cluster.on('quorum-regained', onResumed);
    cluster.on('change', onChange);
    this.unsubscribe.push(() => {
      cluster.off('member-removed', onGone);
      cluster.off('hosting-paused', onPaused);
      cluster.off('hosting-resumed', onResumed);
      cluster.off('quorum-regained', onResumed);
      cluster.off('change', onChange);
    });
    const idle = o.passivation.checkIntervalMs;
    if (idle !== undefined) {
      this.timers.push(o.scheduler.scheduleRepeatedly(idle, idle, () => o.passivation.idle(o.clock.monotonic()).forEach((id) => this.evict(id))));
    }
    if (this.hosts) void this.register();
  }

  /** Whether this region can host shards (it has the behaviour, i.e. the type's role). */
  get hosts(): boolean {
    return this.o.behavior !== undefined;
  }

  /** Shards hosted here now. */
  hostedShards(): ShardId[] {
    return [...this.shards.keys()];
  }

  /** Entities active here now, over all shards. */
  get activeEntities(): number {
    let n = 0;
    for (const s of this.shards.values()) n += s.activeEntities;
    return n;
  }

  /** Sends `command` to the entity and resolves with its reply. */
  ask(entityId: EntityId, command: unknown, timeoutMs: number): Promise<unknown> {
    if (this.stopped) return Promise.reject(new CloudstateError('ERR_SHARDING_STOPPED', `region ${this.o.typeName} is stopped`));
    if (this.buffered >= this.o.bufferSize) {
      return Promise.reject(new CloudstateError('ERR_SHARDING_BUFFER_FULL', `${this.o.typeName}: ${this.buffered} commands already wait for their shards`));
    }
    const shard = shardOf(entityId, this.o.numberOfShards);
    return new Promise((resolve, reject) => {
      const seq = ++this.counter;
      const id = `${this.self}/${seq}`;
      const timer = this.o.scheduler.schedule(timeoutMs, () => {
        this.drop(id, shard);
        reject(new CloudstateError('ERR_SHARDING_TIMEOUT', `${this.o.typeName}/${entityId} did not answer within ${timeoutMs} ms`));
      });
      this.enqueue({ id, seq, shard, entityId, command, resolve, reject, timer });
    });
  }

  /** Graceful leave: stops every local shard, tells the coordinator, then routes what waited here. */
  async leave(): Promise<void> {
    this.leaving = true;
    await this.stopHosting('leaving');
    // Where the coordinator runs elsewhere, it reallocates our shards at once. Where it ran
    // here, it is handing over with this node and cannot answer: the new one learns of the
    // leave from the membership (member-removed) instead, so this wait is short. With no
    // other member to host it (the last node leaving), there is nobody to tell.
    const coordinator = this.o.coordinator.host;
    if (this.hosts && coordinator !== undefined && coordinator.id !== this.self) await this.o.coordinator.ask({ t: 'leaving', region: this.self }, 2_000).catch(() => undefined);
    this.flushAll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    for (const t of this.timers) t.cancel();
    await this.stopHosting('stopped');
    for (const p of [...this.inFlight.values(), ...[...this.buffers.values()].flat()]) {
      p.timer.cancel();
      p.reject(new CloudstateError('ERR_SHARDING_STOPPED', `region ${this.o.typeName} stopped`));
    }
    this.inFlight.clear();
    this.buffers.clear();
  }

  private async register(): Promise<void> {
    if (this.leaving || this.stopped) return;
    try {
      const answer = await this.o.coordinator.ask({ t: 'register', region: this.self, shards: this.hostedShards() });
      // Shards the coordinator already gave to another region (this one was late to register): stop them here.
      for (const shard of 'stop' in answer ? answer.stop : []) void this.stopShard(shard);
    } catch (err) {
      if (this.stopped) return;
      this.o.logger.debug({ err: describeError(err) }, 'registering with the coordinator failed; retrying');
      this.o.scheduler.schedule(RETRY_MS * 10, () => void this.register());
    }
  }

  private enqueue(p: Pending): void {
    const list = this.buffers.get(p.shard) ?? [];
    const at = list.findIndex((q) => q.seq > p.seq);
    list.splice(at < 0 ? list.length : at, 0, p);
    this.buffers.set(p.shard, list);
    this.buffered++;
    this.flush(p.shard);
  }

  private flushAll(): void {
    for (const shard of [...this.buffers.keys()]) this.flush(shard);
  }

  /** Sends what waits for `shard` to its home, or asks where that is. */
  private flush(shard: ShardId): void {
    const list = this.buffers.get(shard);
    if (!list || list.length === 0 || this.stopped) return;
    if (!this.o.cluster.hasQuorum) return; // held until quorum is back
    // A shard being handed off takes nothing new: what waits for it stays buffered until it is
    // gone (stopShard flushes then). Delivering meanwhile would be refused and re-queued in a
    // loop of microtasks that starves the event loop, and with it the hand-off itself.
    if (this.shards.get(shard)?.isHandingOff) return;
    const home = this.homes.get(shard);
    if (home === undefined) return void this.askHome(shard);
    if (home === this.self && !this.shards.has(shard)) return void this.askHome(shard);
    this.buffers.delete(shard);
    this.buffered -= list.length;
    for (const p of list) {
      if (home === this.self) this.deliverLocally(p);
      else this.sendTo(home, p);
    }
  }

  private askHome(shard: ShardId): void {
    if (this.asking.has(shard)) return;
    this.asking.add(shard);
    this.o.coordinator
      .ask({ t: 'get-home', shard, requester: this.self })
      .then(
        (answer) => {
          if ('region' in answer) {
            // Cache a home here only once the shard runs here: a stale "here" must never start it.
            if (answer.region !== this.self || this.host(shard)) this.homes.set(shard, answer.region);
            return answer.region !== this.self || this.shards.has(shard);
          }
          return false;
        },
        (err: unknown) => {
          this.o.logger.debug({ shard, err: describeError(err) }, 'asking for a shard home failed');
          return false;
        },
      )
      .then((known) => {
        this.asking.delete(shard);
        if (known) this.flush(shard);
        else this.o.scheduler.schedule(RETRY_MS, () => this.flush(shard));
      });
  }

  private host(shard: ShardId): Shard | undefined {
    const existing = this.shards.get(shard);
    if (existing) return existing;
    if (!this.hosts || this.leaving || !this.o.cluster.canHost) return undefined;
    const s = new Shard({
      typeName: this.o.typeName,
      shardId: shard,
      behavior: this.o.behavior!,
      storage: this.o.storage!,
      passivation: this.o.passivation,
      evict: (entityId) => this.evict(entityId),
      writerId: this.self,
      clock: this.o.clock,
      logger: this.o.logger.child({ shard }),
    });
    this.shards.set(shard, s);
    return s;
  }

  private deliverLocally(p: Pending): void {
    const shard = this.shards.get(p.shard);
    if (!shard) return this.enqueue(p);
    shard.deliver(p.entityId, p.command).then(
      (reply) => this.settle(p, () => p.resolve(reply)),
      (err: unknown) => {
        if (hasCode(err, 'ERR_SHARDING_HANDING_OFF')) return this.enqueue(p);
        this.settle(p, () => p.reject(toError(err)));
      },
    );
  }

  private settle(p: Pending, fn: () => void): void {
    p.timer.cancel();
    fn();
  }

  private sendTo(region: RegionId, p: Pending): void {
    p.target = region;
    this.inFlight.set(p.id, p);
    let frame: Uint8Array;
    try {
      p.body ??= this.o.serializer.encode(p.command);
      frame = encodeFrame({ t: 'deliver', id: p.id, shard: p.shard, entityId: p.entityId }, p.body);
    } catch (err) {
      this.inFlight.delete(p.id);
      return this.settle(p, () => p.reject(new CloudstateError('ERR_SHARDING_MALFORMED', `command for ${p.entityId} could not be serialized: ${describeError(err)}`)));
    }
    this.o.cluster.sendReliable(region, this.topic, frame).catch((err: unknown) => {
      if (!this.inFlight.delete(p.id)) return;
      this.homes.delete(p.shard);
      p.target = undefined;
      this.o.logger.debug({ region, err: describeError(err) }, 'could not send to region; routing again');
      this.enqueue(p);
    });
  }

  private onMessage(from: Peer, data: Uint8Array): void {
    const frame = decodeFrame(data);
    if (!frame) return void this.o.logger.warn({ from: from.id }, 'dropped a malformed sharding frame');
    const { header, body } = frame;
    switch (header.t) {
      case 'deliver':
        return void this.serveRemote(from, header.id, header.shard, header.entityId, body);
      case 'reply':
        return this.onReply(header, body);
      case 'not-here': {
        const p = this.inFlight.get(header.id);
        if (!p) return;
        this.inFlight.delete(header.id);
        if (this.homes.get(p.shard) === p.target) this.homes.delete(p.shard);
        p.target = undefined;
        return this.enqueue(p);
      }
      case 'handoff':
        return void this.handOff(from, header.shard);
      case 'coordinator-started':
        return void this.register();
      case 'handoff-done':
        return;
    }
  }

  /** A command from another region for a shard it believes lives here. */
  private async serveRemote(from: Peer, id: string, shardId: ShardId, entityId: EntityId, body: Uint8Array): Promise<void> {
    const reply = (header: RegionMessage, payload?: Uint8Array) => void this.o.cluster.sendReliable(from, this.topic, encodeFrame(header, payload)).catch(() => undefined);
    if (!this.o.cluster.canHost || this.leaving) return reply({ t: 'not-here', id, shard: shardId });
    let shard = this.shards.get(shardId);
    if (!shard) {
      // Ask the coordinator once: this region may be the new home and not know it yet.
      const answer = await this.o.coordinator.ask({ t: 'get-home', shard: shardId, requester: this.self }).catch(() => undefined);
      shard = answer && 'region' in answer && answer.region === this.self ? this.host(shardId) : undefined;
      if (answer && 'region' in answer && (answer.region !== this.self || shard)) this.homes.set(shardId, answer.region);
    }
    if (!shard) return reply({ t: 'not-here', id, shard: shardId });
    try {
      const result = await shard.deliver(entityId, this.o.serializer.decode(body));
      reply({ t: 'reply', id, ok: true }, this.o.serializer.encode(result));
    } catch (err) {
      if (hasCode(err, 'ERR_SHARDING_HANDING_OFF')) return reply({ t: 'not-here', id, shard: shardId });
      const code = err instanceof CloudstateError ? err.code : 'ERR_SHARDING_COMMAND_FAILED';
      reply({ t: 'reply', id, ok: false, code, message: describeError(err) });
    }
  }

  private onReply(header: Extract<RegionMessage, { t: 'reply' }>, body: Uint8Array): void {
    const p = this.inFlight.get(header.id);
    if (!p) return;
    this.inFlight.delete(header.id);
    if (header.ok) {
      let value: unknown;
      try {
        value = this.o.serializer.decode(body);
      } catch (err) {
        return this.settle(p, () => p.reject(new CloudstateError('ERR_SHARDING_MALFORMED', `reply could not be decoded: ${describeError(err)}`)));
      }
      return this.settle(p, () => p.resolve(value));
    }
    this.settle(p, () => p.reject(new CloudstateError(header.code, header.message)));
  }

  /** Stops a shard's entities and forgets it; what waits for it is routed again (unless `reroute` is false). */
  private async stopShard(shardId: ShardId, reroute = true): Promise<void> {
    const shard = this.shards.get(shardId);
    this.homes.delete(shardId);
    if (shard) {
      await shard.handOff();
      if (this.shards.get(shardId) === shard) this.shards.delete(shardId);
    }
    if (reroute) this.flush(shardId);
  }

  /**
   * The coordinator moves a shard away: stop its entities, forget it, say so, and only then
   * route what waited for it. Asking for its home before the coordinator has the hand-off would
   * get the stale answer "here", and the shard would start again on this node while the
   * coordinator gives it to another.
   */
  private async handOff(coordinator: Peer, shardId: ShardId): Promise<void> {
    await this.stopShard(shardId, false);
    await this.o.cluster.sendReliable(coordinator, `sharding-coordinator/${this.o.typeName}`, encodeFrame({ t: 'handoff-done', shard: shardId })).catch(() => undefined);
    this.flush(shardId);
  }

  /** Stops every local shard (their entities finish the command at hand) and forgets all homes. */
  private async stopHosting(why: string): Promise<void> {
    const shards = [...this.shards.entries()];
    this.homes.clear();
    if (shards.length > 0) this.o.logger.info({ typeName: this.o.typeName, shards: shards.length, why }, 'stopping every shard hosted here');
    await Promise.all(shards.map(([, s]) => s.handOff()));
    for (const [id, s] of shards) if (this.shards.get(id) === s) this.shards.delete(id);
    // What arrived meanwhile waited (see flush); it is held on until hosting resumes, or goes to the shards' new homes.
    this.flushAll();
  }

  /** A region's member is gone: commands in flight to it are lost; its shards will be reallocated. */
  private regionGone(region: RegionId): void {
    for (const [shard, home] of this.homes) if (home === region) this.homes.delete(shard);
    for (const p of [...this.inFlight.values()]) {
      if (p.target !== region) continue;
      this.inFlight.delete(p.id);
      this.settle(p, () => p.reject(new CloudstateError('ERR_SHARDING_HOST_LOST', `${this.o.typeName}/${p.entityId}: its host ${region} left or died with this command in flight (it may have been handled)`)));
    }
  }

  /** Passivates an entity wherever it is hosted here (the policy forgets it either way). */
  private evict(entityId: EntityId): void {
    void this.shards.get(shardOf(entityId, this.o.numberOfShards))?.passivate(entityId);
  }

  private drop(id: string, shard: ShardId): void {
    this.inFlight.delete(id);
    const list = this.buffers.get(shard);
    const i = list?.findIndex((p) => p.id === id) ?? -1;
    if (list && i >= 0) {
      list.splice(i, 1);
      this.buffered--;
    }
  }
}
