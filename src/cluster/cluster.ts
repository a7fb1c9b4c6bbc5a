/**
 * `Cluster`: the membership layer as an application uses it. It binds the transport (wrapped
 * in encryption when a keyring is given), runs a SWIM node, joins the cluster through seed
 * addresses (a static `host:port` list, or names that DNS resolves to many addresses, such as
 * a headless Kubernetes Service), announces itself up, and reports the member lifecycle
 * (./lifecycle.ts), reachability and quorum (./split-brain.ts) as typed events. It carries
 * reliable messages between members (./messaging.ts) and hosts cluster singletons
 * (./singleton.ts). Time, randomness and the transport can be injected (simulation); the
 * defaults are the real ones.
 *
 * Seeds: a node whose own address is the first seed forms a new cluster when no other seed
 * answers (as Akka's first seed node does); every other node keeps trying its seeds, with
 * backoff, until one answers. A node that lost quorum keeps trying to reach the members it
 * lost, so a partition heals even after SWIM has forgotten the other side.
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'eventemitter3';
import { CloudstateError, SeededRandom, describeError, silentLogger, systemClock, systemScheduler } from '../core/index.js';
import type { Cancellable, Clock, Logger, Random, Scheduler } from '../core/index.js';
import { swimConfig } from './config.js';
import type { presets } from './config.js';
import type { SwimConfig } from './config.js';
import type { Keyring } from './keyring.js';
import type { ClusterMember } from './lifecycle.js';
import { Messenger } from './messaging.js';
import type { Peer } from './messaging.js';
import { ClusterSingleton } from './singleton.js';
import type { SingletonOptions } from './singleton.js';
import type { DowningPolicy } from './split-brain.js';
import { SwimNode } from './swim.js';
import type { Transport } from './transport.js';
import { secureTransport } from './transports/secure.js';
import { UdpTcpTransport, splitAddress } from './transports/udp-tcp.js';
import type { MembershipEvent, SelfState } from './types.js';
import { MembershipView } from './view.js';
import type { ViewEvents } from './view.js';

export interface ClusterOptions {
  /** Address to bind and announce (default 127.0.0.1). */
  host?: string;
  /** Port for UDP and TCP (default 0: a free one). */
  port?: number;
  /** `host:port` of seed nodes; a host name may resolve to several addresses. */
  seeds?: readonly string[];
  /** `lan` (default) or `local` (fast, for loopback and tests); see ./config.ts. */
  preset?: keyof typeof presets;
  /** Overrides of single settings of the preset. */
  config?: Partial<SwimConfig>;
  /** This node's roles (singletons and shards can be limited to a role). */
  roles?: readonly string[];
  /** Split-brain policy (default keep-majority); see ./split-brain.ts. */
  downing?: DowningPolicy;
  /**
   * How long the set of unreachable members must stay the same before members SWIM declared
   * dead are downed, ms (default 20 probe intervals: 20 s with `lan`, as Akka's SBR, and 2 s with
   * `local`). It must exceed the time SWIM takes to notice every member of the other side of a
   * partition, or a minority that has noticed only some of them may believe it is a majority.
   */
  stableAfterMs?: number;
  /**
   * How long this node rides out a loss of quorum before it stops hosting singletons and
   * shards, ms (default 5 probe intervals, at most a quarter of `stableAfterMs`: 5 s with `lan`,
   * 500 ms with `local`). A member that misses a probe or two (busy joining, a GC pause) then
   * moves nothing. Keep it well below `stableAfterMs`: the other side may down this node, and
   * take over what it hosts, once its picture has held that long.
   */
  quorumLossGraceMs?: number;
  /** Encrypts and authenticates all cluster traffic with these keys (every member needs the same keyring). */
  keyring?: Keyring;
  /** Bound on bytes queued for one peer before `sendReliable` waits (default 8 MiB). */
  maxQueuedBytesPerPeer?: number;
  /** This node's id (default: address plus a random suffix, unique per start). */
  id?: string;
  transport?: Transport;
  clock?: Clock;
  scheduler?: Scheduler;
  random?: Random;
  logger?: Logger;
}

export type ClusterEvents = ViewEvents & {
  /** SWIM's liveness events underneath the lifecycle (joined, suspected, recovered, updated, failed, left). */
  membership: [event: MembershipEvent];
  /** This node must stop hosting singletons and shards (lost quorum, or declared dead by others). */
  'hosting-paused': [];
  /** It may host (again): it is up with quorum and every reachable member knows its (fresh) up time. Also once after joining. */
  'hosting-resumed': [];
};

export class Cluster extends EventEmitter<ClusterEvents> {
  /** Resolves once this node is up in a cluster (joined through a seed, or formed one). */
  readonly joined: Promise<void>;
  private stopped = false;
  private readonly leaveHooks = new Set<() => Promise<void>>();
  private readonly singletons = new Set<ClusterSingleton<never, unknown>>();
  private readonly rejoinTimer: Cancellable;
  /** How often `rejoinLost` tries (and how long one try waits), ms. */
  private readonly rejoinMs: number;
  private rejoining = false;
  /** Joined once (the seeds answered, or this node formed the cluster). */
  private isUp = false;
  /** False until this node is up and every reachable member knows its up time; see `comeBackUp`. */
  private hostingAllowed = false;
  /** `comeBackUp` is under way. */
  private comingBack = false;
  /** Pauses so far (lost quorum, death verdicts): a come-back that sees one start over begins again. */
  private pauses = 0;
  /** Up times announced so far: a `hosting: false` decided before the latest one is stale. */
  private upAnnouncements = 0;

  private constructor(
    private readonly node: SwimNode,
    private readonly view: MembershipView,
    private readonly messenger: Messenger,
    private readonly transport: Transport,
    private readonly options: ClusterOptions,
    private readonly env: { clock: Clock; scheduler: Scheduler; config: SwimConfig; log: Logger },
  ) {
    super();
    node.events.on('membership', (e) => this.emit('membership', e));
    view.on('change', (e) => {
      if (e.type === 'member-removed') messenger.forget(e.member.id);
      else if (e.type === 'member-joining' || e.type === 'member-up') messenger.revive(e.member.id);
      this.emit(e.type, e.member);
      this.emit('change', e);
    });
    // A node that lost quorum, or learns it was declared dead, hosts nothing until it has
    // announced a fresh up time: it then counts as the youngest member, so coming back from
    // the losing side of a partition, or from a long pause, never takes a singleton from the
    // members that carried on without it.
    view.on('quorum-lost', () => {
      env.log.warn({ unreachable: view.unreachableReference().map((m) => m.id) }, 'quorum lost: not hosting singletons until the cluster is reachable again');
      this.pauseHosting();
      this.emit('quorum-lost');
    });
    view.on('quorum-regained', () => {
      env.log.info('quorum regained');
      this.comeBackUp();
      this.emit('quorum-regained');
    });
    node.events.on('declared-dead', () => {
      env.log.warn('this node was declared dead by others and refuted: handing over, then coming back up as the youngest member');
      this.pauseHosting();
      this.comeBackUp();
    });
    this.rejoinMs = Math.min(env.config.pushPullIntervalMs, 5 * env.config.probeIntervalMs);
    this.rejoinTimer = env.scheduler.scheduleRepeatedly(this.rejoinMs, this.rejoinMs, () => void this.rejoinLost());
    this.joined = this.joinSeeds().then(() => {
      this.isUp = true;
      if (this.stopped) return;
      if (!view.hasQuorum) return void this.pauseHosting(); // up once quorum is there (comeBackUp)
      // Up now (the seeds just told this node everything they know); hosting once the others know it.
      this.announce('up', true);
      this.comeBackUp(true);
    });
    this.joined.catch(() => undefined);
  }

  /** Binds, starts the membership protocol and begins joining the seeds. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const config = swimConfig(options.preset ?? 'lan', options.config);
    const stableAfterMs = options.stableAfterMs ?? 20 * config.probeIntervalMs;
    const lossGraceMs = options.quorumLossGraceMs ?? Math.min(5 * config.probeIntervalMs, stableAfterMs / 4);
    if (!(lossGraceMs === 0 || (lossGraceMs > 0 && lossGraceMs < stableAfterMs))) {
      throw new CloudstateError('ERR_CLUSTER_CONFIG', `quorumLossGraceMs (${lossGraceMs}) must be at least 0 and below stableAfterMs (${stableAfterMs})`);
    }
    const bound = options.transport ?? (await UdpTcpTransport.bind({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }));
    const transport = options.keyring ? secureTransport(bound, options.keyring) : bound;
    const random = options.random ?? SeededRandom.fromEntropy();
    const clock = options.clock ?? systemClock;
    const scheduler = options.scheduler ?? systemScheduler;
    const id = options.id ?? `${transport.address}#${random.int(2 ** 31).toString(36)}`;
    const log = options.logger ?? silentLogger;
    const messenger = new Messenger({ transport, selfId: id, clock, scheduler, logger: log, maxQueuedBytesPerPeer: options.maxQueuedBytesPerPeer });
    const meta = { state: 'joining' as const, roles: [...(options.roles ?? [])], upSince: 0 };
    const node = new SwimNode({ id, transport, config, clock, scheduler, random, logger: log, onStream: messenger.onStream, meta });
    const view = new MembershipView(node, options.downing ?? { kind: 'keep-majority' }, clock, scheduler, config.probeIntervalMs, stableAfterMs, lossGraceMs);
    node.start();
    return new Cluster(node, view, messenger, transport, options, { clock, scheduler, config, log });
  }

  /** This node as the cluster sees it. */
  get self(): ClusterMember {
    return this.view.self;
  }

  get address(): string {
    return this.transport.address;
  }

  /** Members not removed or downed, this node included: lifecycle state, reachability, roles, age. */
  members(): ClusterMember[] {
    return this.view.members();
  }

  /** Members that are up and reachable (this node included once it is up). */
  upMembers(): ClusterMember[] {
    return this.view.members().filter((m) => m.state === 'up' && m.reachable);
  }

  /** False while this node is on the losing side of a partition: it hosts no singleton then. */
  get hasQuorum(): boolean {
    return this.view.hasQuorum;
  }

  /**
   * Whether this node may host singletons and shards now: it is up, has quorum, has not been
   * declared dead since it last announced itself up, and the members it reaches know that up
   * time (one state exchange after joining or coming back). `hosting-paused` and
   * `hosting-resumed` report the changes; whatever a node hosts must stop on a pause.
   */
  get canHost(): boolean {
    return this.hostingAllowed && this.view.hasQuorum && this.view.self.state === 'up';
  }

  /** SWIM's packet counters (packets in and out, malformed packets dropped). */
  get swimStats(): SwimNode['stats'] {
    return this.node.stats;
  }

  /** Reliable messaging counters. */
  get messagingStats(): Messenger['stats'] {
    return this.messenger.stats;
  }

  /**
   * Sends `payload` on `topic` to a member, reliably over a persistent connection: ordered per
   * sender and receiver, at most once, waiting (back-pressure) while the peer's queue is full.
   */
  async sendReliable(to: string | Peer, topic: string, payload: Uint8Array): Promise<void> {
    const peer = typeof to === 'string' ? this.view.member(to) : to;
    if (!peer || (typeof to === 'string' && (peer as ClusterMember).state === 'removed')) {
      throw new CloudstateError('ERR_CLUSTER_UNKNOWN_MEMBER', `no member ${String(typeof to === 'string' ? to : to.id)} in this cluster`);
    }
    await this.messenger.send({ id: peer.id, address: peer.address }, topic, payload);
  }

  /** Handles messages on `topic` from any member; returns an unsubscribe function. */
  onMessage(topic: string, handler: (from: Peer, payload: Uint8Array) => void): () => void {
    return this.messenger.on(topic, handler);
  }

  /**
   * A cluster singleton: `create` runs on the oldest up member with `role`, and the returned
   * handle's `tell`/`ask` reach it from any node. Nodes that only call it omit `create`.
   */
  singleton<M = unknown, R = unknown>(options: SingletonOptions<M, R>): ClusterSingleton<M, R> {
    const s = new ClusterSingleton<M, R>(this.view, this.messenger, this.env.scheduler, options, this.env.log, () => this.hostingAllowed);
    this.singletons.add(s as unknown as ClusterSingleton<never, unknown>);
    this.leaveHooks.add(() => s.whenStopped());
    return s;
  }

  /** Work to finish before this node exits on a graceful leave (hand-off); runs while the node is `leaving`. */
  onLeave(hook: () => Promise<void>): void {
    this.leaveHooks.add(hook);
  }

  /**
   * Leaves gracefully: announces `leaving` (singletons hand over, leave hooks run, up to
   * `handOffTimeoutMs`), then `exiting`, then leaves SWIM; the others see a leave, not a failure.
   * A node alone in its cluster (a `--dev` proxy) has nobody to wait for: only its hooks run.
   */
  async leave(waitMs = 1000, handOffTimeoutMs = 30_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.announce('leaving');
    const hooks = Promise.allSettled([...this.leaveHooks].map((h) => h()));
    await Promise.race([hooks, this.env.scheduler.sleep(handOffTimeoutMs)]);
    this.announce('exiting');
    const alone = !this.node.members().some((m) => m.id !== this.node.id && (m.status === 'alive' || m.status === 'suspect'));
    if (!alone) await this.env.scheduler.sleep(Math.min(waitMs, this.env.config.probeIntervalMs * 2));
    await this.node.leave(waitMs);
    await this.close();
  }

  /** Stops at once, without telling anyone (they will detect a failure). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.node.stop();
    await this.close();
  }

  private async close(): Promise<void> {
    this.rejoinTimer.cancel();
    this.view.stop();
    await Promise.allSettled([...this.singletons].map((s) => s.close()));
    await this.messenger.close();
    await this.transport.close();
  }

  /**
   * Announces this node's lifecycle state. A fresh up time is later than every up time this
   * node knows of (whatever the clocks say), so a member that comes back up is younger than
   * every member that had already told it its age.
   */
  private announce(state: SelfState, freshUpSince = false): void {
    const self = this.node.self;
    const fresh = state === 'up' && (freshUpSince || self.meta.upSince === 0);
    const known = Math.max(0, ...this.node.members().filter((m) => m.id !== self.id).map((m) => m.meta.upSince));
    const upSince = fresh ? Math.max(Math.floor(this.env.clock.now()), known + 1) : self.meta.upSince;
    if (fresh) this.upAnnouncements++;
    const { hosting: _, ...rest } = self.meta;
    this.node.updateMeta(fresh ? { ...rest, state, upSince } : { ...self.meta, state, upSince });
  }

  /**
   * Up again after a lost quorum or a death verdict (and up at all after joining): once quorum
   * is there, and every singleton here has stopped, announce a fresh up time, then host again.
   * A fresh up time makes the others look past this node for a singleton's home, so it is not
   * said while an instance here is still stopping (a slow hand-over).
   *
   * Members decide where a singleton lives from what they know of each other's ages, so two
   * members coming back at once could each start one on news of the other that is out of
   * date. Hence state is exchanged with every reachable member before the announcement (this
   * node is then younger than all of them) and after it (they all know its new age, so any of
   * them that comes back later is younger still) before this node hosts anything.
   */
  private comeBackUp(announced = false): void {
    if (this.hostingAllowed || this.comingBack || this.stopped || !this.isUp || !this.view.hasQuorum) return;
    this.comingBack = true;
    void this.resumeHosting(announced)
      .catch((err: unknown) => this.env.log.error({ err: describeError(err) }, 'coming back up failed'))
      .finally(() => (this.comingBack = false));
  }

  private async resumeHosting(announced: boolean): Promise<void> {
    const ok = () => !this.stopped && this.view.hasQuorum; // else the next quorum-regained comes back
    for (let pauses = -1; pauses !== this.pauses; announced = false) {
      pauses = this.pauses;
      await Promise.allSettled([...this.singletons].map((s) => s.whenStopped()));
      if (!announced) {
        await this.exchangeWithReachable();
        if (!ok()) return;
        this.announce('up', true);
      }
      await this.exchangeWithReachable();
      if (!ok()) return;
    }
    this.hostingAllowed = true;
    for (const s of this.singletons) s.reconcile();
    this.emit('hosting-resumed');
  }

  /** Exchanges full state with every member SWIM believes alive; failures are left to SWIM. */
  private async exchangeWithReachable(): Promise<void> {
    const peers = this.node.members().filter((m) => m.id !== this.node.id && m.status === 'alive');
    await this.node.exchangeWith(peers.map((m) => m.address));
  }

  /**
   * Stops hosting: singletons stop, then the others are told (metadata `hosting: false`) so they
   * look past this node for a singleton's home rather than wait for it to come back.
   */
  private pauseHosting(): void {
    this.pauses++;
    const announced = this.upAnnouncements;
    if (this.hostingAllowed) {
      this.hostingAllowed = false;
      this.emit('hosting-paused');
      for (const s of this.singletons) s.reconcile();
    }
    void Promise.allSettled([...this.singletons].map((s) => s.whenStopped())).then(() => {
      const self = this.node.self;
      const stale = this.hostingAllowed || this.stopped || this.upAnnouncements !== announced; // came back up since
      if (!stale && self.meta.hosting !== false) this.node.updateMeta({ ...self.meta, hosting: false });
    });
  }

  /**
   * While members of the reference set are unreachable, tries to exchange state with them
   * (heals partitions SWIM gave up on: it probes no member it holds dead). Each attempt gives
   * up by the next one, so a member that is back is reached within about `rejoinMs`, well
   * before this side's downing policy would down it: one that is reached learns it was held
   * dead and refutes (and hands over, see `declared-dead`), and so is not downed.
   */
  private async rejoinLost(): Promise<void> {
    if (this.stopped || this.rejoining || !this.isUp) return;
    const lost = this.view.unreachableReference().filter((m) => this.node.member(m.id)?.status !== 'suspect');
    if (lost.length === 0) return;
    this.rejoining = true;
    try {
      const reached = await this.node.exchangeWith(lost.map((m) => m.address), this.rejoinMs);
      if (reached > 0) this.env.log.info({ lost: lost.map((m) => m.id), reached }, 'reached members believed lost');
      else this.env.log.debug({ lost: lost.map((m) => m.id) }, 'lost members still unreachable');
    } finally {
      this.rejoining = false;
    }
  }

  private async joinSeeds(): Promise<void> {
    const seeds = this.options.seeds ?? [];
    if (seeds.length === 0) return;
    for (let attempt = 0, backoff = 500; !this.stopped; attempt++, backoff = Math.min(backoff * 2, 10_000)) {
      const addresses = await resolveSeeds(seeds);
      const others = addresses.filter((a) => a !== this.transport.address);
      try {
        if (others.length > 0) {
          await this.node.join(others);
          return;
        }
      } catch (err) {
        this.env.log.info({ attempt, err: describeError(err) }, 'no seed answered yet');
      }
      // The first seed forms the cluster when no one else is there.
      if (addresses[0] === this.transport.address || others.length === 0) return;
      await this.env.scheduler.sleep(backoff);
    }
  }
}

/** Resolves seed entries: an IP `host:port` stays; a name becomes one entry per address. */
export async function resolveSeeds(seeds: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const seed of seeds) {
    const [host, port] = splitAddress(seed);
    if (/^[\d.]+$/.test(host) || host.includes(':')) {
      out.add(`${host}:${port}`);
      continue;
    }
    try {
      for (const { address, family } of await lookup(host, { all: true })) out.add(family === 6 ? `[${address}]:${port}` : `${address}:${port}`);
    } catch {
      // a name that does not resolve (yet): try again on the next round
    }
  }
  return [...out];
}
