/**
 * The shard coordinator of one entity type: a cluster singleton (on the oldest up member of
 * the type's role) that decides which region hosts each shard. Its state changes go through
 * the pure reducer of ./coordinator-state.ts; where a shard goes, and which shards move to
 * even out the load, is the allocation strategy's call.
 *
 * - A new coordinator (first start, or fail-over after its node left or died) keeps no state
 *   of its own: it asks every region to register with the shards it hosts, rebuilds from their
 *   answers, and only then allocates (it answers `retry` meanwhile), so a shard that still runs
 *   somewhere is never allocated a second time.
 * - Rebalancing: every `rebalanceIntervalMs` the strategy names shards to move; each is handed
 *   off (its region stops its entities) before it is deallocated, and is allocated anew on its
 *   next message. A shard being handed off gets `retry` answers.
 * - A region whose member is removed or downed is terminated: its shards become unallocated.
 */
import { CloudstateError, describeError } from '../core/index.js';
import type { Cancellable, Logger, Scheduler } from '../core/index.js';
import type { Cluster } from '../cluster/index.js';
import { allocations, emptyCoordinatorState, updated } from './coordinator-state.js';
import type { CoordinatorEvent, CoordinatorState } from './coordinator-state.js';
import { decodeFrame, encodeFrame } from './protocol.js';
import type { CoordinatorAnswer, CoordinatorRequest, HomeAnswer } from './protocol.js';
import type { RegionId, ShardAllocationStrategy, ShardId } from './types.js';

export interface CoordinatorOptions {
  typeName: string;
  role: string | undefined;
  strategy: ShardAllocationStrategy;
  rebalanceIntervalMs: number;
  /** How long a new coordinator waits for every region to register before it allocates, ms. */
  rebuildTimeoutMs: number;
  /** How long a hand-off may take before the coordinator gives up on it (and retries later), ms. */
  handOffTimeoutMs: number;
  cluster: Cluster;
  scheduler: Scheduler;
  logger: Logger;
}

export class Coordinator {
  private state: CoordinatorState = emptyCoordinatorState;
  private ready = false;
  private readonly awaitingRegister = new Set<RegionId>();
  private readonly leaving = new Set<RegionId>();
  private readonly inProgress = new Map<ShardId, () => void>();
  private readonly timers: Cancellable[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private readonly topic: string;

  constructor(private readonly o: CoordinatorOptions) {
    this.topic = `sharding/${o.typeName}`;
    const { cluster } = o;
    this.unsubscribe.push(cluster.onMessage(`sharding-coordinator/${o.typeName}`, (_from, data) => this.onRegionMessage(data)));
    const onGone = (m: { id: string }) => this.terminate(m.id);
    cluster.on('member-removed', onGone);
    this.unsubscribe.push(() => cluster.off('member-removed', onGone));
    // Rebuild: every member of the role that may host a shard (in any state short of removed,
    // reachable or not) must register before allocation starts; the timeout covers members that
    // cannot answer, which have lost quorum and so stopped hosting.
    for (const m of cluster.members()) if (o.role === undefined || m.roles.includes(o.role)) this.awaitingRegister.add(m.id);
    // A region that cannot be told still registers when it sees the coordinator move; until
    // then (or the rebuild timeout) nothing is allocated.
    for (const id of this.awaitingRegister) {
      void cluster.sendReliable(id, this.topic, encodeFrame({ t: 'coordinator-started' })).catch((err: unknown) => o.logger.debug({ region: id, err: describeError(err) }, 'could not tell a region'));
    }
    this.timers.push(o.scheduler.schedule(o.rebuildTimeoutMs, () => this.becomeReady('rebuild timeout')));
    this.timers.push(o.scheduler.scheduleRepeatedly(o.rebalanceIntervalMs, o.rebalanceIntervalMs, () => void this.rebalance()));
    o.logger.info({ typeName: o.typeName, waitingFor: this.awaitingRegister.size }, 'shard coordinator started; rebuilding from the regions');
    this.checkReady();
  }

  /** Handles one request from a region (the singleton hands them over one at a time). */
  receive(request: CoordinatorRequest): Promise<HomeAnswer> | CoordinatorAnswer {
    switch (request.t) {
      case 'register':
        return this.register(request.region, request.shards);
      case 'leaving':
        this.leaving.add(request.region);
        this.terminate(request.region);
        return { ok: true };
      case 'get-home':
        return this.getHome(request.shard, request.requester);
    }
  }

  stop(): void {
    for (const t of this.timers) t.cancel();
    for (const u of this.unsubscribe) u();
    for (const done of this.inProgress.values()) done();
  }

  private apply(event: CoordinatorEvent): void {
    this.state = updated(this.state, event);
  }

  /**
   * A region says what it hosts. The first region to claim a shard keeps it; a later claimant
   * (it registered late, after the shard was given to another) is told to stop it.
   */
  private register(region: RegionId, shards: ShardId[]): CoordinatorAnswer {
    if (this.leaving.has(region)) return { ok: true, stop: shards };
    if (!this.state.regions.has(region)) this.apply({ type: 'region-registered', region });
    const stop: ShardId[] = [];
    for (const shard of shards) {
      const home = this.state.shards.get(shard);
      if (home === undefined && !this.inProgress.has(shard)) this.apply({ type: 'shard-allocated', shard, region });
      else if (home !== region) stop.push(shard);
    }
    if (stop.length > 0) this.o.logger.warn({ region, stop }, 'a region claimed shards that live elsewhere; it stops them');
    this.awaitingRegister.delete(region);
    this.checkReady();
    return { ok: true, stop };
  }

  private async getHome(shard: ShardId, requester: RegionId): Promise<HomeAnswer> {
    const home = this.state.shards.get(shard);
    if (home) return { region: home };
    if (!this.ready || this.inProgress.has(shard)) return { retry: true };
    const live = new Map([...allocations(this.state)].filter(([region]) => this.isLive(region)));
    if (live.size === 0) return { retry: true };
    const region = await this.o.strategy.allocateShard(requester, shard, live);
    // The singleton hands requests over one at a time; the state may still have moved on while
    // the strategy answered (a hand-off finished, a region left): check again.
    const now = this.state.shards.get(shard);
    if (now) return { region: now };
    if (!this.isLive(region) || !this.state.regions.has(region)) return { retry: true };
    this.apply({ type: 'shard-allocated', shard, region });
    return { region };
  }

  private isLive(region: RegionId): boolean {
    if (this.leaving.has(region)) return false;
    const m = this.o.cluster.members().find((x) => x.id === region);
    return m !== undefined && m.state === 'up' && m.reachable;
  }

  private terminate(region: RegionId): void {
    this.awaitingRegister.delete(region);
    if (this.state.regions.has(region)) this.apply({ type: 'region-terminated', region });
    this.checkReady();
  }

  private checkReady(): void {
    if (!this.ready && this.awaitingRegister.size === 0) this.becomeReady('every region registered');
  }

  private becomeReady(why: string): void {
    if (this.ready) return;
    this.ready = true;
    this.o.logger.info({ typeName: this.o.typeName, why, shards: this.state.shards.size }, 'shard coordinator ready');
  }

  private async rebalance(): Promise<void> {
    if (!this.ready) return;
    const live = new Map([...allocations(this.state)].filter(([region]) => this.isLive(region)));
    if (live.size < 2) return;
    let shards: ShardId[];
    try {
      shards = await this.o.strategy.rebalance(live, new Set(this.inProgress.keys()));
    } catch (err) {
      return void this.o.logger.warn({ err: describeError(err) }, 'rebalance strategy failed');
    }
    await Promise.all(shards.map((shard) => this.handOff(shard)));
  }

  /** Asks the hosting region to stop the shard's entities, then deallocates it. */
  private async handOff(shard: ShardId): Promise<void> {
    const region = this.state.shards.get(shard);
    if (!region || this.inProgress.has(shard)) return;
    let timer: Cancellable | undefined;
    const done = new Promise<void>((resolve, reject) => {
      this.inProgress.set(shard, resolve);
      timer = this.o.scheduler.schedule(this.o.handOffTimeoutMs, () => reject(new CloudstateError('ERR_SHARDING_HANDOFF_TIMEOUT', `hand-off of shard ${shard} timed out`)));
      void this.o.cluster.sendReliable(region, this.topic, encodeFrame({ t: 'handoff', shard })).catch(reject);
    });
    try {
      await done;
      if (this.state.shards.get(shard) === region) this.apply({ type: 'shard-home-deallocated', shard });
      this.o.logger.debug({ shard, from: region }, 'shard handed off');
    } catch (err) {
      this.o.logger.warn({ shard, region, err: describeError(err) }, 'hand-off failed; the shard stays where it is');
    } finally {
      timer?.cancel();
      this.inProgress.delete(shard);
    }
  }

  private onRegionMessage(data: Uint8Array): void {
    const frame = decodeFrame(data);
    if (frame?.header.t === 'handoff-done') this.inProgress.get(frame.header.shard)?.();
  }
}
