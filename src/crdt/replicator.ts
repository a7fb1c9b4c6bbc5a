/**
 * The replicator: one per node, it keeps a copy of every CRDT key on every member and spreads
 * changes over the cluster's reliable messaging (after Akka Distributed Data's `Replicator`).
 *
 * - Local updates produce deltas; deltas go to the other members in the background, every
 *   `deltaIntervalMs`, as acknowledged causal intervals (./propagation.ts), falling back to
 *   the full state for a peer that is new or too far behind. A write at `majority` or `all`
 *   consistency goes out at once and completes when that many replicas (this one included)
 *   have acknowledged it, or fails with `ERR_CRDT_WRITE_TIMEOUT` (the local update stays and
 *   keeps spreading, as in Akka).
 * - Every `gossipIntervalMs` it sends a random reachable member the digests of one chunk of its
 *   keys; envelopes that differ are exchanged both ways (./digest.ts), which repairs whatever a
 *   lost message or a partition missed. A node that starts pulls every envelope from the
 *   oldest member once (`syncOnStart`).
 * - Reads at `majority`/`all` ask the others and merge their answers (read repair).
 * - Deletes leave a tombstone that wins every merge: a deleted key stays deleted.
 * - Removed members' entries are pruned in two phases (./pruning.ts), driven by
 *   `member-removed` events, so state does not grow with every node that ever existed.
 * - With a `DurableStore`, every change is stored (local updates before they complete, remote
 *   ones in the background each delta interval) and loaded on start.
 *
 * Time, timers and randomness come from the options. Messages from peers are never trusted to
 * be well formed: a bad one is counted and logged, never thrown.
 */
import { CloudstateError, SeededRandom, describeError, silentLogger, systemClock, systemScheduler } from '../core/index.js';
import type { Cancellable, Clock, Logger, Random, Scheduler } from '../core/index.js';
import { byAge } from '../cluster/index.js';
import type { Cluster, ClusterMember, Peer } from '../cluster/index.js';
import { crdtFromJSON } from './codec.js';
import { requiredReplicas } from './consistency.js';
import type { Consistency } from './consistency.js';
import { chunkCount, chunkOf, compareDigests, digestOf } from './digest.js';
import type { DurableStore } from './durable-store.js';
import { DELETED, applyDelta, checkSameKind, envelopeFromJSON, envelopeOf, envelopeToJSON, mergeEnvelopes } from './envelope.js';
import type { Envelope, EnvelopeJson } from './envelope.js';
import { DeltaPropagation, DeltaReceiver } from './propagation.js';
import type { Interval } from './propagation.js';
import { applyPruningSteps, pruningSteps } from './pruning.js';
import type { AnyCrdt } from './types.js';
import { decodeMessage, encodeBatches, encodeMessage } from './wire.js';
import type { ReplicatorMessage } from './wire.js';

/** What the replicator needs of the cluster (a `Cluster` has it all). */
export type ReplicatorCluster = Pick<Cluster, 'self' | 'members' | 'sendReliable' | 'onMessage' | 'on' | 'off'>;

export interface ReplicatorOptions {
  cluster: ReplicatorCluster;
  /** The messaging topic (default `crdt`): replicators with different topics are independent. */
  topic?: string;
  /** How often deltas go out, ms (default 200). */
  deltaIntervalMs?: number;
  /** How often a digest chunk is gossiped to a random member, ms (default 2000). */
  gossipIntervalMs?: number;
  /** An unacknowledged interval is sent again after this long, ms (default 1000). */
  resendAfterMs?: number;
  /** Deltas buffered per key for peers that are behind (default 64). */
  maxDeltaBuffer?: number;
  /** Keys per gossip chunk (default 500). */
  maxKeysPerGossipChunk?: number;
  /** Byte budget of one message (default 256 KiB). */
  maxMessageBytes?: number;
  /** How often pruning advances, and how long a member stays removed before its entries are pruned, ms (default 30 s). */
  pruningIntervalMs?: number;
  /** How long a performed prune's marker is kept, ms (default 5 min): data from a replica cut off longer may bring the removed node back. */
  maxPruningDisseminationMs?: number;
  /** Timeout of reads and writes at majority/all when the call gives none, ms (default 5000). */
  defaultTimeoutMs?: number;
  durableStore?: DurableStore;
  /** Pull every envelope from the oldest member on start (default true). */
  syncOnStart?: boolean;
  clock?: Clock;
  scheduler?: Scheduler;
  random?: Random;
  logger?: Logger;
}

export interface WriteOptions {
  consistency?: Consistency;
  /** ms (default: the replicator's `defaultTimeoutMs`). */
  timeoutMs?: number;
}
export type ReadOptions = WriteOptions;

/** A key changed (locally or by a replica): its new state, or its deletion. */
export interface Change {
  readonly key: string;
  readonly data: AnyCrdt | undefined;
  readonly deleted: boolean;
}

export interface ReplicatorStats {
  /** Delta intervals sent (entries), and their bytes. */
  deltasSent: number;
  deltaBytes: number;
  /** Full states sent by delta propagation (new or lagging peers), and their bytes. */
  fullStatesSent: number;
  fullStateBytes: number;
  /** Envelopes sent by gossip repair and start-up sync. */
  gossipEnvelopesSent: number;
  /** All replicator messages sent and their bytes. */
  messagesSent: number;
  bytesSent: number;
  /** Intervals dropped because an earlier one was missing (the sender resends). */
  gaps: number;
  /** Malformed messages and entries that could not be applied. */
  malformed: number;
}

interface PendingWrite {
  key: string;
  seq: number;
  need: number;
  acked: Set<string>;
  done: (err?: Error) => void;
}

interface PendingRead {
  key: string;
  need: number;
  replies: Set<string>;
  done: (err?: Error) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Replicator {
  readonly stats: ReplicatorStats = { deltasSent: 0, deltaBytes: 0, fullStatesSent: 0, fullStateBytes: 0, gossipEnvelopesSent: 0, messagesSent: 0, bytesSent: 0, gaps: 0, malformed: 0 };
  private readonly envelopes = new Map<string, Envelope>();
  /** Canonical JSON text and digest of envelopes, computed on demand. */
  private readonly texts = new Map<string, string>();
  private readonly digests = new Map<string, string>();
  private readonly propagation: DeltaPropagation;
  private readonly receiver = new DeltaReceiver();
  private readonly subscribers = new Map<string, Set<(c: Change) => void>>();
  private readonly toNotify = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly writes = new Set<PendingWrite>();
  private readonly reads = new Map<number, PendingRead>();
  /** Removed member id → wall-clock ms it was removed. */
  private readonly removed = new Map<string, number>();
  private readonly timers: Cancellable[] = [];
  private readonly unlisten: (() => void)[] = [];
  private readonly self: string;
  private readonly topic: string;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly log: Logger;
  private gossipCursor = 0;
  private nextReadId = 1;
  private synced = false;
  private closed = false;
  private flushing: Promise<void> = Promise.resolve();

  private constructor(private readonly o: ReplicatorOptions) {
    this.self = o.cluster.self.id;
    this.topic = o.topic ?? 'crdt';
    this.clock = o.clock ?? systemClock;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? SeededRandom.fromEntropy();
    this.log = o.logger ?? silentLogger;
    this.propagation = new DeltaPropagation({ maxBuffered: o.maxDeltaBuffer ?? 64, resendAfterMs: o.resendAfterMs ?? 1000 });
  }

  /** Loads the durable store (if any), then starts replicating. */
  static async start(options: ReplicatorOptions): Promise<Replicator> {
    const r = new Replicator(options);
    if (options.durableStore) {
      for (const [key, bytes] of await options.durableStore.load()) {
        try {
          r.envelopes.set(key, envelopeFromJSON(JSON.parse(decoder.decode(bytes)) as EnvelopeJson));
        } catch (err) {
          r.log.warn({ key, err: describeError(err) }, 'skipping an unreadable stored CRDT');
        }
      }
    }
    r.begin();
    return r;
  }

  private begin(): void {
    const { cluster } = this.o;
    this.unlisten.push(cluster.onMessage(this.topic, (from, payload) => this.receive(from, payload)));
    const onRemoved = (m: ClusterMember) => {
      this.removed.set(m.id, this.clock.now());
      this.propagation.forget(m.id);
      this.receiver.forget(m.id);
    };
    const onUp = (m: ClusterMember) => {
      this.removed.delete(m.id); // a downed member that came back (same id) must not be pruned
      if (m.id !== this.self) this.syncOnce();
    };
    cluster.on('member-removed', onRemoved);
    cluster.on('member-up', onUp);
    this.unlisten.push(() => cluster.off('member-removed', onRemoved), () => cluster.off('member-up', onUp));
    const delta = this.o.deltaIntervalMs ?? 200;
    const gossip = this.o.gossipIntervalMs ?? 2000;
    const pruning = this.o.pruningIntervalMs ?? 30_000;
    this.timers.push(
      this.scheduler.scheduleRepeatedly(delta, delta, () => {
        this.propagate();
        void this.flushDirty();
      }),
      this.scheduler.scheduleRepeatedly(gossip, gossip, () => this.gossip()),
      this.scheduler.scheduleRepeatedly(pruning, pruning, () => this.prune()),
    );
    this.syncOnce();
  }

  /** This node's id (its cluster member id). */
  get selfId(): string {
    return this.self;
  }

  /**
   * Applies `modify` to the key's current state (or `initial` when the key is new) and
   * replicates the change. Resolves with the new state once `consistency` replicas have it
   * (default `local`: at once, after the durable store, if any, has it). Rejects with
   * `ERR_CRDT_DELETED` for a deleted key, `ERR_CRDT_TYPE_MISMATCH` when the key holds another
   * type, `ERR_CRDT_WRITE_TIMEOUT` when too few replicas acknowledged within the timeout (the
   * local change stays and keeps spreading).
   */
  async update<T extends AnyCrdt>(key: string, initial: T, modify: (current: T) => T, options: WriteOptions = {}): Promise<T> {
    this.checkOpen();
    const env = this.envelopes.get(key);
    if (env?.deleted) throw new CloudstateError('ERR_CRDT_DELETED', `key ${JSON.stringify(key)} was deleted`);
    if (env) checkSameKind(key, env.data!, initial);
    const current = (env?.data ?? initial).resetDelta() as T;
    const next = modify(current);
    if (next.kind !== current.kind) throw new CloudstateError('ERR_CRDT_TYPE_MISMATCH', `the update of ${JSON.stringify(key)} turned a ${current.kind} into a ${next.kind}`);
    const state = next.resetDelta() as T;
    if (env && next === current) return state;
    const delta = next.delta ?? state;
    const updated = envelopeOf(state, env?.pruning);
    this.set(key, updated, env);
    const seq = this.propagation.record(key, delta);
    await this.persist(key);
    await this.replicated(key, seq, options, 'update');
    return state;
  }

  /**
   * The key's state: this node's copy (`local`, the default), or merged with the copies of
   * enough other replicas (`majority`, `all`; fails with `ERR_CRDT_READ_TIMEOUT` when too few
   * answer). Undefined for a key no replica asked has; rejects with `ERR_CRDT_DELETED` for a
   * deleted key.
   */
  async get<T extends AnyCrdt = AnyCrdt>(key: string, options: ReadOptions = {}): Promise<T | undefined> {
    this.checkOpen();
    const need = requiredReplicas(options.consistency ?? 'local', this.o.cluster.members().length);
    if (need > 1) await this.readFromReplicas(key, need, options.timeoutMs ?? this.defaultTimeout);
    return this.getLocal<T>(key);
  }

  /** This node's copy of the key, synchronously (undefined when absent; throws `ERR_CRDT_DELETED`). */
  getLocal<T extends AnyCrdt = AnyCrdt>(key: string): T | undefined {
    const env = this.envelopes.get(key);
    if (env?.deleted) throw new CloudstateError('ERR_CRDT_DELETED', `key ${JSON.stringify(key)} was deleted`);
    return env?.data as T | undefined;
  }

  isDeleted(key: string): boolean {
    return this.envelopes.get(key)?.deleted ?? false;
  }

  /** Keys this node holds (deleted ones included). */
  keys(): IterableIterator<string> {
    return this.envelopes.keys();
  }

  get size(): number {
    return this.envelopes.size;
  }

  /**
   * Deletes the key everywhere: a tombstone that wins every merge, so it stays deleted (later
   * updates fail with `ERR_CRDT_DELETED`). Completes like `update` at the given consistency.
   */
  async delete(key: string, options: WriteOptions = {}): Promise<void> {
    this.checkOpen();
    const env = this.envelopes.get(key);
    if (env?.deleted) return;
    this.set(key, DELETED, env);
    const seq = this.propagation.record(key, 'deleted');
    await this.persist(key);
    await this.replicated(key, seq, options, 'delete');
  }

  /**
   * Calls `listener` after the key changes (a local update, a replica's change, a delete),
   * with the state at that moment; changes in one synchronous run are coalesced. Returns a
   * function that unsubscribes.
   */
  subscribe(key: string, listener: (change: Change) => void): () => void {
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.subscribers.get(key) === set) this.subscribers.delete(key);
    };
  }

  /** Stops: timers, messages, pending calls (rejected with `ERR_CRDT_REPLICATOR_CLOSED`); flushes and closes the durable store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) t.cancel();
    for (const u of this.unlisten) u();
    const err = new CloudstateError('ERR_CRDT_REPLICATOR_CLOSED', 'the replicator is closed');
    for (const w of [...this.writes]) w.done(err);
    for (const r of [...this.reads.values()]) r.done(err);
    await this.flushDirty();
    await this.o.durableStore?.close();
  }

  // ---- local state --------------------------------------------------------------------

  private get defaultTimeout(): number {
    return this.o.defaultTimeoutMs ?? 5000;
  }

  private checkOpen(): void {
    if (this.closed) throw new CloudstateError('ERR_CRDT_REPLICATOR_CLOSED', 'the replicator is closed');
  }

  private set(key: string, env: Envelope, old: Envelope | undefined, notify = true): void {
    this.envelopes.set(key, env);
    this.texts.delete(key);
    this.digests.delete(key);
    if (this.o.durableStore) this.dirty.add(key);
    if (!notify || !this.subscribers.has(key) || (old && old.deleted === env.deleted && old.data === env.data)) return;
    if (this.toNotify.size === 0) queueMicrotask(() => this.notify());
    this.toNotify.add(key);
  }

  private notify(): void {
    const keys = [...this.toNotify];
    this.toNotify.clear();
    for (const key of keys) {
      const env = this.envelopes.get(key);
      const change: Change = { key, data: env?.data, deleted: env?.deleted ?? false };
      for (const l of [...(this.subscribers.get(key) ?? [])]) {
        try {
          l(change);
        } catch (err) {
          this.log.warn({ key, err: describeError(err) }, 'a CRDT subscriber threw');
        }
      }
    }
  }

  private text(key: string): string {
    let t = this.texts.get(key);
    if (t === undefined) {
      t = JSON.stringify(envelopeToJSON(this.envelopes.get(key)!));
      this.texts.set(key, t);
    }
    return t;
  }

  private digest(key: string): string | undefined {
    if (!this.envelopes.has(key)) return undefined;
    let d = this.digests.get(key);
    if (d === undefined) {
      d = digestOf(this.text(key));
      this.digests.set(key, d);
    }
    return d;
  }

  /** Merges a replica's envelope; notifies and stores only when it changed something. */
  private mergeRemote(key: string, incoming: Envelope): void {
    const old = this.envelopes.get(key);
    const merged = mergeEnvelopes(key, old, incoming);
    if (old && this.unchanged(key, old, merged)) return;
    this.set(key, merged, old);
  }

  private applyRemoteDelta(key: string, delta: AnyCrdt): void {
    const old = this.envelopes.get(key);
    const next = applyDelta(key, old, delta);
    if (old && this.unchanged(key, old, next)) return;
    this.set(key, next, old);
  }

  /**
   * Whether a merge left the key as it was. Comparing canonical encodings costs the state's
   * size, so it is done only when someone would be told (subscribers, the durable store);
   * otherwise a no-op merge just replaces the state with an equal one.
   */
  private unchanged(key: string, old: Envelope, next: Envelope): boolean {
    if (next === old) return true;
    if (!this.subscribers.has(key) && !this.o.durableStore) return false;
    return JSON.stringify(envelopeToJSON(next)) === this.text(key);
  }

  private async persist(key: string): Promise<void> {
    const store = this.o.durableStore;
    if (!store) return;
    this.dirty.delete(key);
    await store.write([[key, encoder.encode(this.text(key))]]);
  }

  /** Writes the keys changed by replicas since the last flush (one batch). */
  private flushDirty(): Promise<void> {
    const store = this.o.durableStore;
    if (!store || this.dirty.size === 0) return this.flushing;
    const keys = [...this.dirty];
    this.dirty.clear();
    const entries = keys.filter((k) => this.envelopes.has(k)).map((k) => [k, encoder.encode(this.text(k))] as const);
    this.flushing = this.flushing.then(() => store.write(entries)).catch((err) => this.log.error({ err: describeError(err) }, 'storing CRDTs failed'));
    return this.flushing;
  }

  // ---- consistency ----------------------------------------------------------------------

  private replicated(key: string, seq: number, options: WriteOptions, what: string): Promise<void> {
    const consistency = options.consistency ?? 'local';
    const need = requiredReplicas(consistency, this.o.cluster.members().length);
    if (need <= 1) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? this.defaultTimeout;
    return new Promise<void>((resolve, reject) => {
      const w: PendingWrite = {
        key,
        seq,
        need,
        acked: new Set(),
        done: (err) => {
          timer.cancel();
          this.writes.delete(w);
          if (err) reject(err);
          else resolve();
        },
      };
      const timer = this.scheduler.schedule(timeoutMs, () =>
        w.done(
          new CloudstateError(
            'ERR_CRDT_WRITE_TIMEOUT',
            `${what} of ${JSON.stringify(key)} at ${consistency} consistency: ${w.acked.size + 1} of the ${need} replicas required acknowledged within ${timeoutMs} ms (the change is applied here and keeps spreading)`,
          ),
        ),
      );
      this.writes.add(w);
      this.propagate([key]);
    });
  }

  private readFromReplicas(key: string, need: number, timeoutMs: number): Promise<void> {
    const peers = this.peers().filter((m) => m.reachable);
    const id = this.nextReadId++;
    return new Promise<void>((resolve, reject) => {
      const r: PendingRead = {
        key,
        need,
        replies: new Set(),
        done: (err) => {
          timer.cancel();
          this.reads.delete(id);
          if (err) reject(err);
          else resolve();
        },
      };
      const timer = this.scheduler.schedule(timeoutMs, () =>
        r.done(new CloudstateError('ERR_CRDT_READ_TIMEOUT', `read of ${JSON.stringify(key)}: ${r.replies.size + 1} of the ${need} replicas required answered within ${timeoutMs} ms`)),
      );
      this.reads.set(id, r);
      const msg = encodeMessage({ t: 'read', id, k: key });
      for (const p of peers) this.send(p.id, msg);
    });
  }

  // ---- dissemination --------------------------------------------------------------------

  /** The other members (reachable or not). */
  private peers(): ClusterMember[] {
    return this.o.cluster.members().filter((m) => m.id !== this.self);
  }

  private send(to: string, bytes: Uint8Array): Promise<void> {
    this.stats.messagesSent++;
    this.stats.bytesSent += bytes.byteLength;
    return this.o.cluster.sendReliable(to, this.topic, bytes).catch((err) => this.log.debug({ to, err: describeError(err) }, 'replicator message not sent'));
  }

  /** Sends each reachable peer the intervals it is due (of `keys`, or of every outstanding key). */
  private propagate(keys?: readonly string[]): void {
    if (this.closed) return;
    const now = this.clock.monotonic();
    const peers = this.peers();
    for (const p of peers) {
      if (!p.reachable) continue;
      const due = this.propagation.due(p.id, now, keys);
      if (due.length === 0) continue;
      const parts = due.map((iv) => this.intervalJson(iv));
      for (const msg of encodeBatches('delta', parts, this.o.maxMessageBytes ?? 256 * 1024)) void this.send(p.id, msg);
    }
    this.propagation.collect(peers.map((p) => p.id));
  }

  private intervalJson(iv: Interval): string {
    const k = JSON.stringify(iv.key);
    if (iv.full || !iv.delta) {
      const text = this.text(iv.key);
      this.stats.fullStatesSent++;
      this.stats.fullStateBytes += text.length;
      return `{"k":${k},"f":1,"to":${iv.to},"env":${text}}`;
    }
    const d = JSON.stringify(iv.delta.toJSON());
    this.stats.deltasSent++;
    this.stats.deltaBytes += d.length;
    return `{"k":${k},"f":${iv.from},"to":${iv.to},"d":${d}}`;
  }

  private gossip(): void {
    const peers = this.peers().filter((m) => m.reachable);
    if (peers.length === 0) return;
    const peer = peers[this.random.int(peers.length)]!;
    const chunks = chunkCount(this.envelopes.size, this.o.maxKeysPerGossipChunk ?? 500);
    const chunk = this.gossipCursor++ % chunks;
    const d: [string, string][] = [];
    for (const key of this.envelopes.keys()) if (chunks === 1 || chunkOf(key, chunks) === chunk) d.push([key, this.digest(key)!]);
    void this.send(peer.id, encodeMessage({ t: 'status', c: chunk, n: chunks, d }));
  }

  /** Asks the oldest other up member for everything, once. */
  private syncOnce(): void {
    if (this.synced || this.o.syncOnStart === false) return;
    const others = this.peers().filter((m) => m.state === 'up' && m.reachable).sort(byAge);
    if (others.length === 0) return;
    this.synced = true;
    void this.send(others[0]!.id, encodeMessage({ t: 'sync' }));
  }

  /**
   * Sends the envelopes of `keys` in messages of at most `maxMessageBytes`, each as soon as it
   * is full (a start-up sync of many keys streams: the receiver merges while this node still
   * encodes); `want`, if any, rides on the last message.
   */
  private async sendEnvelopes(to: string, keys: Iterable<string>, want?: string[]): Promise<void> {
    const max = this.o.maxMessageBytes ?? 256 * 1024;
    let parts: string[] = [];
    let size = 0;
    for (const k of keys) {
      if (!this.envelopes.has(k)) continue;
      const part = `[${JSON.stringify(k)},${this.text(k)}]`;
      parts.push(part);
      size += part.length + 1;
      this.stats.gossipEnvelopesSent++;
      if (size < max) continue;
      for (const b of encodeBatches('gossip', parts, max)) await this.send(to, b);
      parts = [];
      size = 0;
    }
    if (parts.length === 0 && !want?.length) return;
    const extra = want?.length ? `,"w":${JSON.stringify(want)}` : '';
    const batches = parts.length === 0 ? [encodeMessage({ t: 'gossip', e: [], w: want })] : encodeBatches('gossip', parts, max, extra);
    for (const b of batches) await this.send(to, b);
  }

  // ---- receiving ----------------------------------------------------------------------------

  private receive(from: Peer, payload: Uint8Array): void {
    if (this.closed) return;
    let m: ReplicatorMessage;
    try {
      m = decodeMessage(payload);
    } catch (err) {
      this.stats.malformed++;
      this.log.warn({ from: from.id, err: describeError(err) }, 'malformed replicator message');
      return;
    }
    try {
      this.handle(from.id, m);
    } catch (err) {
      this.stats.malformed++;
      this.log.warn({ from: from.id, type: m.t, err: describeError(err) }, 'replicator message not applied');
    }
  }

  private handle(from: string, m: ReplicatorMessage): void {
    switch (m.t) {
      case 'delta': {
        const acks: string[] = [];
        const nacks: string[] = [];
        for (const e of m.e) {
          const verdict = this.receiver.accept(from, e.k, e.f, e.to);
          if (verdict === 'gap') {
            this.stats.gaps++;
            nacks.push(JSON.stringify([e.k, this.receiver.applied(from, e.k)]));
            continue;
          }
          if (verdict === 'apply') {
            try {
              if (e.env) this.mergeRemote(e.k, envelopeFromJSON(e.env));
              else if (e.d) this.applyRemoteDelta(e.k, crdtFromJSON(e.d));
            } catch (err) {
              this.stats.malformed++;
              this.log.warn({ from, key: e.k, err: describeError(err) }, 'a replicated change could not be applied');
            }
          }
          acks.push(JSON.stringify([e.k, e.to]));
        }
        for (const msg of encodeBatches('ack', acks, this.o.maxMessageBytes ?? 256 * 1024)) void this.send(from, msg);
        for (const msg of encodeBatches('nack', nacks, this.o.maxMessageBytes ?? 256 * 1024)) void this.send(from, msg);
        return;
      }
      case 'nack':
        for (const [key, applied] of m.e) this.propagation.rewind(from, key, applied);
        return;
      case 'ack':
        for (const [key, to] of m.e) {
          this.propagation.ack(from, key, to);
          for (const w of [...this.writes]) {
            if (w.key !== key || to < w.seq) continue;
            w.acked.add(from);
            if (w.acked.size + 1 >= w.need) w.done();
          }
        }
        return;
      case 'status': {
        const { send, want } = compareDigests({ theirs: m.d, chunk: m.c, chunks: m.n, ourKeys: this.envelopes.keys(), ourDigest: (k) => this.digest(k) });
        // At most one chunk's worth per answer (as Akka's `maxDeltaElements`): a peer with few
        // keys gossips a single chunk, which on this side may be every key; the rest follows on
        // later rounds (or came with the start-up sync).
        const cap = this.o.maxKeysPerGossipChunk ?? 500;
        if (send.length > 0 || want.length > 0) void this.sendEnvelopes(from, send.slice(0, cap), want.slice(0, cap));
        return;
      }
      case 'gossip':
        for (const [key, env] of m.e) {
          try {
            this.mergeRemote(key, envelopeFromJSON(env));
          } catch (err) {
            this.stats.malformed++;
            this.log.warn({ from, key, err: describeError(err) }, 'a gossiped CRDT could not be merged');
          }
        }
        if (m.w?.length) void this.sendEnvelopes(from, m.w);
        return;
      case 'read': {
        const env = this.envelopes.get(m.k);
        void this.send(from, encodeMessage(env ? { t: 'read-reply', id: m.id, env: envelopeToJSON(env) } : { t: 'read-reply', id: m.id }));
        return;
      }
      case 'read-reply': {
        const r = this.reads.get(m.id);
        if (!r) return;
        if (m.env) this.mergeRemote(r.key, envelopeFromJSON(m.env));
        r.replies.add(from);
        if (r.replies.size + 1 >= r.need) r.done();
        return;
      }
      case 'sync':
        void this.sendEnvelopes(from, [...this.envelopes.keys()]);
        return;
      default:
        this.stats.malformed++;
    }
  }

  // ---- pruning --------------------------------------------------------------------------------

  /** One pruning round over every key (see ./pruning.ts). */
  private prune(): void {
    if (this.closed) return;
    const now = this.clock.now();
    const members = this.o.cluster.members();
    const ids = members.map((m) => m.id);
    const memberIds = new Set(ids);
    const minAge = this.o.pruningIntervalMs ?? 30_000;
    const removedNodes = [...this.removed].filter(([id, at]) => !memberIds.has(id) && now - at >= minAge).map(([id]) => id);
    const oldest = members.filter((m) => m.state === 'up' && m.reachable).sort(byAge)[0];
    const isLeader = oldest?.id === this.self;
    for (const [key, env] of this.envelopes) {
      if (env.deleted || !env.data) continue;
      const data0 = env.data;
      const steps = pruningSteps({ self: this.self, isLeader, members: ids, removedNodes, needsPruning: (n) => data0.needPruningFrom(n), pruning: env.pruning, now });
      if (steps.length === 0) continue;
      const { data, pruning } = applyPruningSteps(data0, env.pruning, steps, { self: this.self, memberIds, obsoleteAt: now + (this.o.maxPruningDisseminationMs ?? 300_000) });
      this.set(key, { data, deleted: false, pruning }, env, false);
    }
    const forgetAfter = 2 * (this.o.maxPruningDisseminationMs ?? 300_000);
    for (const [id, at] of this.removed) if (now - at > forgetAfter) this.removed.delete(id);
  }
}
