/**
 * A SWIM node with Lifeguard: it probes one member per period in randomized round-robin
 * order, asks `indirectChecks` others to probe when a direct ping gets no ack (and counts
 * their nacks), suspects before it declares dead, refutes suspicion of itself, piggybacks
 * gossip on every packet and gossips on its own too, and exchanges full state with a random
 * member now and then. The rules live in ./rules.ts; this file owns timers, packets and
 * events. It never throws on what a peer sends: malformed packets are dropped and counted.
 */
import { EventEmitter } from 'eventemitter3';
import { CloudstateError, describeError, silentLogger } from '../core/index.js';
import type { Cancellable, Clock, Logger, Random, Scheduler } from '../core/index.js';
import { BroadcastQueue } from './broadcasts.js';
import type { SwimConfig } from './config.js';
import { expectedConfirmations, minSuspicionTimeout } from './formulas.js';
import { LocalHealth } from './health.js';
import { decide, digestToGossip, metaToWire } from './rules.js';
import { Suspicion } from './suspicion.js';
import type { StreamHandler, Transport } from './transport.js';
import type { Member, MemberMeta, MembershipEvent } from './types.js';
import { decodePacket, decodePushPull, encodePacket, encodePushPull, messageSize } from './wire.js';
import type { Gossip, Message, PushPull } from './wire.js';

const isGossip = (m: Message): m is Gossip => m.t === 'alive' || m.t === 'suspect' || m.t === 'dead';

export interface SwimNodeOptions {
  id: string;
  transport: Transport;
  config: SwimConfig;
  clock: Clock;
  scheduler: Scheduler;
  random: Random;
  logger?: Logger;
  /** Streams peers open to this node (reliable messaging); passed to the transport on start. */
  onStream?: StreamHandler;
  /** This node's metadata at start (default: joining, no roles). */
  meta?: MemberMeta;
}

export interface SwimStats {
  packetsIn: number;
  packetsOut: number;
  malformed: number;
}

export class SwimNode {
  /**
   * `membership`: a change of another member (or this node's own metadata). `declared-dead`:
   * someone declared this node dead and it refuted; the others may have taken over its work
   * meanwhile (the layer above treats it like a lost quorum).
   */
  readonly events = new EventEmitter<{ membership: [MembershipEvent]; 'declared-dead': [] }>();
  readonly stats: SwimStats = { packetsIn: 0, packetsOut: 0, malformed: 0 };
  readonly id: string;
  private readonly table = new Map<string, Member>();
  private readonly suspicions = new Map<string, Suspicion>();
  private readonly broadcasts: BroadcastQueue;
  private readonly health: LocalHealth;
  private readonly acks = new Map<number, () => void>();
  private readonly nacks = new Map<number, () => void>();
  private readonly timers = new Set<Cancellable>();
  private order: string[] = [];
  private nextIndex = 0;
  private seq = 0;
  private running = false;
  private leaving = false;
  private readonly log: Logger;

  constructor(private readonly o: SwimNodeOptions) {
    this.id = o.id;
    this.log = o.logger ?? silentLogger;
    this.broadcasts = new BroadcastQueue(o.config.retransmitMult);
    this.health = new LocalHealth(o.config.awarenessMaxMultiplier);
    const meta = o.meta ?? { state: 'joining', roles: [], upSince: 0 };
    this.table.set(o.id, { id: o.id, address: o.transport.address, incarnation: 0, status: 'alive', since: o.clock.monotonic(), meta });
  }

  /**
   * Announces new metadata of this node (lifecycle state, roles, up time): raises the own
   * incarnation so the news wins over everything said before, and gossips it. Emits `updated`
   * for this node too, so local listeners see their own node's changes like anyone else's.
   */
  updateMeta(meta: MemberMeta): void {
    const self = this.self;
    const next: Member = { ...self, incarnation: self.incarnation + 1, meta };
    this.table.set(this.id, next);
    this.broadcasts.enqueue(this.aliveGossip(next));
    this.events.emit('membership', { type: 'updated', member: next });
  }

  private aliveGossip(m: Member): Gossip {
    return { t: 'alive', id: m.id, addr: m.address, inc: m.incarnation, meta: metaToWire(m.meta) };
  }

  get self(): Member {
    return this.table.get(this.id)!;
  }

  /** Every known member, this node included. */
  members(): Member[] {
    return [...this.table.values()];
  }

  member(id: string): Member | undefined {
    return this.table.get(id);
  }

  get healthScore(): number {
    return this.health.score;
  }

  /** Starts listening, probing, gossiping and exchanging state. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.o.transport.listen(
      (from, data) => this.onPacket(from, data),
      (from, data) => this.onExchange(from, data),
      this.o.onStream,
    );
    const { config, scheduler } = this.o;
    const probeLoop = () => {
      if (!this.running) return;
      this.probeNext();
      this.pingSuspects();
      this.later(this.health.scale(config.probeIntervalMs), probeLoop);
    };
    this.later(this.o.random.int(config.probeIntervalMs) + 1, probeLoop);
    this.timers.add(scheduler.scheduleRepeatedly(config.gossipIntervalMs, config.gossipIntervalMs, () => this.gossip()));
    this.timers.add(scheduler.scheduleRepeatedly(config.pushPullIntervalMs, config.pushPullIntervalMs, () => void this.pushPullRandom()));
    this.timers.add(scheduler.scheduleRepeatedly(config.deadReclaimMs, config.deadReclaimMs / 4, () => this.reclaim()));
  }

  /** Exchanges state with each seed address; resolves to how many answered, rejects if none did. */
  async join(seeds: readonly string[]): Promise<number> {
    const others = seeds.filter((s) => s !== this.o.transport.address);
    if (others.length === 0) return 0;
    const answered = (await Promise.allSettled(others.map((s) => this.pushPull(s, true)))).filter((r) => r.status === 'fulfilled').length;
    if (answered === 0) throw new CloudstateError('ERR_CLUSTER_JOIN', `no seed answered: ${others.join(', ')}`);
    return answered;
  }

  /**
   * Exchanges full state with each address (both sides merge what the other knows); resolves
   * to how many answered. Never rejects: a member that does not answer is SWIM's business.
   */
  async exchangeWith(addresses: readonly string[], timeoutMs = this.o.config.exchangeTimeoutMs): Promise<number> {
    const others = addresses.filter((a) => a !== this.o.transport.address);
    return (await Promise.allSettled(others.map((a) => this.pushPull(a, false, timeoutMs)))).filter((r) => r.status === 'fulfilled').length;
  }

  /**
   * Announces a graceful leave, gives the news `waitMs` to spread, then stops. A member that
   * knows of no other live member has nobody to tell and stops at once.
   */
  async leave(waitMs: number): Promise<void> {
    this.leaving = true;
    const self = this.self;
    const peers = this.probeable();
    this.table.set(this.id, { ...self, status: 'left', since: this.o.clock.monotonic() });
    const news: Gossip = { t: 'dead', id: this.id, inc: self.incarnation, from: this.id };
    this.broadcasts.enqueue(news);
    for (const m of this.o.random.sample(peers, this.o.config.gossipNodes)) this.send(m.address, [news]);
    if (peers.length > 0) await this.o.scheduler.sleep(waitMs);
    this.stop();
  }

  /** Stops every timer and ignores the network from now on (a kill, in simulation). */
  stop(): void {
    this.running = false;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    for (const s of this.suspicions.values()) s.cancel();
    this.suspicions.clear();
  }

  private later(delayMs: number, task: () => void): void {
    const timer = this.o.scheduler.schedule(delayMs, () => {
      this.timers.delete(timer);
      task();
    });
    this.timers.add(timer);
  }

  private probeable(): Member[] {
    return [...this.table.values()].filter((m) => m.id !== this.id && (m.status === 'alive' || m.status === 'suspect'));
  }

  /** Randomized round-robin: every member is probed once per pass; a new pass reshuffles. */
  private probeNext(): void {
    for (let tries = 0; tries <= this.order.length; tries++) {
      if (this.nextIndex >= this.order.length) {
        this.order = this.o.random.shuffle(this.probeable().map((m) => m.id));
        this.nextIndex = 0;
        if (this.order.length === 0) return;
      }
      const target = this.table.get(this.order[this.nextIndex++]!);
      if (target && (target.status === 'alive' || target.status === 'suspect')) return this.probe(target);
    }
  }

  /**
   * Each period, every member this node suspects also gets a ping that carries the suspicion
   * (up to `indirectChecks` of them). A live suspect answers with its refutation on the ack,
   * so a refutation that gossip failed to bring here still arrives before the suspicion ends.
   * The ack changes nothing else: only the suspect's own incarnation can clear a suspicion.
   */
  private pingSuspects(): void {
    const suspects = [...this.suspicions.keys()].map((id) => this.table.get(id)).filter((m): m is Member => m?.status === 'suspect');
    for (const m of this.o.random.sample(suspects, this.o.config.indirectChecks)) {
      this.send(m.address, [{ t: 'ping', seq: ++this.seq, target: m.id }, { t: 'suspect', id: m.id, inc: m.incarnation, from: this.id }]);
    }
  }

  private probe(target: Member): void {
    const { config } = this.o;
    const seq = ++this.seq;
    let acked = false;
    let nacks = 0;
    let asked = 0;
    this.acks.set(seq, () => (acked = true));
    this.nacks.set(seq, () => nacks++);
    // Buddy system: a suspect learns it at once, from the ping itself, and can refute.
    const buddy: Message[] = target.status === 'suspect' ? [{ t: 'suspect', id: target.id, inc: target.incarnation, from: this.id }] : [];
    this.send(target.address, [{ t: 'ping', seq, target: target.id }, ...buddy]);
    this.later(this.health.scale(config.probeTimeoutMs), () => {
      if (acked || !this.running) return;
      const helpers = this.o.random.sample(this.probeable().filter((m) => m.id !== target.id && m.status === 'alive'), config.indirectChecks);
      asked = helpers.length;
      for (const h of helpers) this.send(h.address, [{ t: 'ping-req', seq, target: target.id, targetAddr: target.address }]);
    });
    this.later(this.health.scale(config.probeIntervalMs) - 1, () => {
      this.acks.delete(seq);
      this.nacks.delete(seq);
      if (!this.running) return;
      if (acked) return this.health.apply(-1);
      // No ack at all. Missing nacks mean our own messages may be what is slow (Lifeguard).
      if (nacks < asked || asked === 0) this.health.apply(1);
      this.log.debug({ member: target.id, incarnation: target.incarnation, asked, nacks, health: this.health.score }, 'no ack from a probed member');
      const now = this.table.get(target.id);
      if (now && now.incarnation === target.incarnation) this.apply({ t: 'suspect', id: target.id, inc: target.incarnation, from: this.id });
    });
  }

  private gossip(): void {
    if (!this.running || this.broadcasts.size === 0) return;
    const now = this.o.clock.monotonic();
    const targets = [...this.table.values()].filter(
      (m) => m.id !== this.id && (m.status === 'alive' || m.status === 'suspect' || now - m.since < this.o.config.gossipToTheDeadMs),
    );
    for (const m of this.o.random.sample(targets, this.o.config.gossipNodes)) {
      if (!this.send(m.address, [])) return;
    }
  }

  /** Sends the messages plus as much queued gossip as fits; false if there was nothing to send. */
  private send(address: string, msgs: Message[]): boolean {
    const used = msgs.reduce((n, m) => n + messageSize(m), 120);
    const all = [...msgs, ...this.broadcasts.take(this.o.config.packetBudgetBytes - used, this.table.size)];
    if (all.length === 0) return false;
    this.stats.packetsOut++;
    this.o.transport.sendPacket(address, encodePacket({ from: this.id, fromAddr: this.o.transport.address, msgs: all }));
    return true;
  }

  private onPacket(from: string, data: Uint8Array): void {
    if (!this.running) return;
    this.stats.packetsIn++;
    const packet = decodePacket(data);
    if (!packet) {
      this.stats.malformed++;
      this.log.debug({ from }, 'dropped a malformed packet');
      return;
    }
    // Gossip first, so an ack sent for a ping in this packet already carries what it changed
    // (a suspect that is pinged with its suspicion answers with its refutation).
    for (const m of packet.msgs) if (isGossip(m)) this.apply(m);
    for (const m of packet.msgs) if (!isGossip(m)) this.handle(packet.fromAddr, m);
  }

  private handle(fromAddr: string, m: Exclude<Message, Gossip>): void {
    switch (m.t) {
      case 'ping':
        // A ping for another id reached a process that restarted at that address: no ack.
        if (m.target === this.id) this.send(fromAddr, [{ t: 'ack', seq: m.seq }]);
        return;
      case 'ack':
        return this.acks.get(m.seq)?.();
      case 'nack':
        return this.nacks.get(m.seq)?.();
      case 'ping-req':
        return this.probeFor(fromAddr, m.seq, m.target, m.targetAddr);
    }
  }

  /** Probes `target` for the member at `requester`: ack if it answers in time, nack if not. */
  private probeFor(requester: string, theirSeq: number, target: string, targetAddr: string): void {
    const seq = ++this.seq;
    let answered = false;
    this.acks.set(seq, () => {
      if (answered) return;
      answered = true;
      this.send(requester, [{ t: 'ack', seq: theirSeq }]);
    });
    this.send(targetAddr, [{ t: 'ping', seq, target }]);
    this.later(this.o.config.probeTimeoutMs, () => {
      this.acks.delete(seq);
      if (!answered) this.send(requester, [{ t: 'nack', seq: theirSeq }]);
    });
  }

  /** Applies one piece of gossip (from the network, a push-pull or this node itself). */
  private apply(g: Gossip): void {
    const d = decide(this.table.get(g.id), this.self, this.leaving, g, this.o.clock.monotonic());
    switch (d.kind) {
      case 'ignore':
        return;
      case 'refute': {
        this.log.debug({ said: g.t, by: 'from' in g ? g.from : undefined, incarnation: d.incarnation }, 'refuting what was said of this node');
        if (g.t === 'dead') this.events.emit('declared-dead');
        this.table.set(this.id, { ...this.self, incarnation: d.incarnation });
        this.broadcasts.enqueue(this.aliveGossip(this.self));
        this.health.apply(1);
        return;
      }
      case 'reassert':
        this.broadcasts.enqueue(this.aliveGossip(this.self));
        return;
      case 'confirm':
        if (this.suspicions.get(g.id)?.confirm(d.from)) this.broadcasts.enqueue(g);
        return;
      case 'update': {
        this.table.set(d.member.id, d.member);
        this.broadcasts.enqueue(d.gossip);
        if (d.suspicion === 'start') {
          this.log.debug({ member: d.member.id, incarnation: d.member.incarnation, by: g.t === 'suspect' ? g.from : this.id }, 'suspecting a member');
          this.startSuspicion(d.member, g.t === 'suspect' ? g.from : this.id);
        }
        if (d.suspicion === 'cancel' || d.member.status === 'dead' || d.member.status === 'left') {
          this.suspicions.get(d.member.id)?.cancel();
          this.suspicions.delete(d.member.id);
        }
        if (d.event) this.events.emit('membership', { type: d.event, member: d.member });
      }
    }
  }

  private startSuspicion(m: Member, accuser: string): void {
    this.suspicions.get(m.id)?.cancel();
    const { config } = this.o;
    const n = this.table.size;
    const min = minSuspicionTimeout(config.suspicionMult, n, config.probeIntervalMs);
    const expected = expectedConfirmations(config.indirectChecks, n);
    const s = new Suspicion(this.o.clock, this.o.scheduler, accuser, expected, min, min * config.suspicionMaxTimeoutMult, () => {
      this.suspicions.delete(m.id);
      if (this.running) this.apply({ t: 'dead', id: m.id, inc: m.incarnation, from: this.id });
    });
    this.suspicions.set(m.id, s);
  }

  private state(join: boolean): PushPull {
    const members = [...this.table.values()].map((m) => ({ id: m.id, addr: m.address, inc: m.incarnation, status: m.status, meta: metaToWire(m.meta) }));
    return { from: this.id, fromAddr: this.o.transport.address, join, members };
  }

  private merge(remote: PushPull): void {
    let declaredDead = false;
    for (const d of remote.members) {
      // A peer that holds this node dead may have downed it and taken over its work. The layer
      // above must hear it, whatever the incarnation: the gossip that said so may have stopped
      // spreading long ago, and a push-pull turns it into a mere suspicion (refuted silently).
      if (d.id === this.id && d.status === 'dead' && !this.leaving) declaredDead = true;
      this.apply(digestToGossip(d, remote.from));
    }
    if (declaredDead) {
      this.log.debug({ by: remote.from }, 'a push-pull peer holds this node dead');
      this.events.emit('declared-dead');
    }
  }

  private async pushPull(address: string, join: boolean, timeoutMs = this.o.config.exchangeTimeoutMs): Promise<void> {
    const answer = await this.o.transport.exchange(address, encodePushPull(this.state(join)), timeoutMs);
    const remote = decodePushPull(answer);
    if (!remote) {
      this.stats.malformed++;
      throw new CloudstateError('ERR_CLUSTER_MALFORMED', `malformed state from ${address}`);
    }
    this.merge(remote);
  }

  /**
   * Full state with one random member. One round in four goes to a member believed dead (not
   * one that left): if it is alive behind a healed partition, the two sides learn of each
   * other and refute, which SWIM's gossip alone would never do once both gave up on the other.
   */
  private async pushPullRandom(): Promise<void> {
    const dead = [...this.table.values()].filter((m) => m.status === 'dead');
    const pool = dead.length > 0 && this.o.random.next() < 0.25 ? dead : this.probeable().filter((m) => m.status === 'alive');
    const [peer] = this.o.random.sample(pool, 1);
    if (!peer || !this.running) return;
    try {
      await this.pushPull(peer.address, false);
    } catch (err) {
      this.log.debug({ peer: peer.id, err: describeError(err) }, 'push-pull failed');
    }
  }

  private async onExchange(_from: string, data: Uint8Array): Promise<Uint8Array> {
    if (!this.running) throw new CloudstateError('ERR_CLUSTER_STOPPED', 'node is stopped');
    const remote = decodePushPull(data);
    if (!remote) {
      this.stats.malformed++;
      throw new CloudstateError('ERR_CLUSTER_MALFORMED', 'malformed push-pull');
    }
    // Merge first, so the reply already carries a refutation of anything the peer got wrong about us.
    const before = this.table.get(remote.from);
    this.merge(remote);
    const state = this.state(false);
    // A peer this node held dead (and may have downed) learns it, though its news just revived it here.
    if (before?.status === 'dead') {
      const at = state.members.findIndex((m) => m.id === remote.from);
      if (at >= 0) state.members[at] = { ...state.members[at]!, status: 'dead', inc: before.incarnation };
    }
    return encodePushPull(state);
  }

  /** Forgets members that have been dead or gone for `deadReclaimMs`. */
  private reclaim(): void {
    const now = this.o.clock.monotonic();
    for (const m of this.table.values()) {
      if ((m.status === 'dead' || m.status === 'left') && m.id !== this.id && now - m.since > this.o.config.deadReclaimMs) this.table.delete(m.id);
    }
  }
}
