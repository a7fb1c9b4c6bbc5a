/**
 * An in-memory network for simulating many nodes in one process (after memberlist's
 * MockNetwork, plus faults): packets, exchanges and stream frames are delivered through the
 * injected scheduler with a latency, and the test can drop a share of packets, cut links (one
 * way or both), pause a node (it neither runs its timers nor reads its mail until resumed,
 * like a process stopped by the OS) and kill one. Nothing here is random except through
 * `random`.
 *
 * Streams: frames arrive in the order written (each delivery task hands over the oldest
 * frame in flight, so jitter cannot reorder them), are held while the receiver is paused,
 * and count against a high-water mark in bytes until the receiver's node has taken them.
 * `close()` is graceful (frames already written still arrive, then the other end closes);
 * killing either node, closing its transport, or cutting the link either way with
 * `block`/`partition` breaks the stream at once: both ends' `onClose` fire with an error.
 * `openStream` to a node that is gone or takes no streams is refused after one round trip;
 * through a cut link it gets no answer and rejects when `timeoutMs` runs out (as a TCP
 * connect into a black hole does).
 */
import { CloudstateError, toError } from '../../core/index.js';
import type { Cancellable, Random, Scheduler } from '../../core/index.js';
import type { ExchangeHandler, PacketHandler, Stream, StreamHandler, Transport } from '../transport.js';
import { StreamBase } from './stream-base.js';

interface Endpoint {
  onPacket?: PacketHandler;
  onExchange?: ExchangeHandler;
  onStream?: StreamHandler;
  /** Open stream ends at this node. */
  streams: Set<MemoryStream>;
  paused: boolean;
  killed: boolean;
  /** Deliveries held while paused. */
  held: (() => void)[];
  /** Timers of the node's scheduler that fell due while paused. */
  deferred: (() => void)[];
}

export interface InMemoryNetworkOptions {
  scheduler: Scheduler;
  random: Random;
  /** One-way delivery latency in ms (default 1). */
  latencyMs?: number;
  /** Extra random delay per delivery, 0 to this many ms (default half the latency): packets overtake each other. */
  jitterMs?: number;
  /** Share of packets lost, 0–1 (default 0). Exchanges and streams are reliable and not affected. */
  lossRate?: number;
  /** Share of packets delivered twice, 0–1 (default 0), each copy with its own delay. */
  duplicateRate?: number;
  /** Bytes a stream end may have in flight before `write` returns false (default 256 KiB). */
  streamHighWaterMarkBytes?: number;
}

const broken = (why: string) => new CloudstateError('ERR_CLUSTER_CONNECTION_CLOSED', why);

/** One end of an in-memory stream; its twin is `peer`. */
class MemoryStream extends StreamBase {
  peer!: MemoryStream;
  /** Frames written here and not yet taken by the peer's node; `undefined` marks a graceful close. */
  private readonly inFlight: (Uint8Array | undefined)[] = [];
  private inFlightBytes = 0;
  private overHighWater = false;

  constructor(
    readonly local: string,
    readonly remote: string,
    private readonly endpoint: Endpoint,
    private readonly net: { send(from: string, to: string, task: () => void): void; highWaterMark: number },
  ) {
    super();
    endpoint.streams.add(this);
    this.afterClose(() => endpoint.streams.delete(this));
  }

  write(frame: Uint8Array): boolean {
    if (this.closed) return false;
    this.inFlight.push(frame.slice());
    this.inFlightBytes += frame.byteLength;
    this.net.send(this.local, this.remote, () => this.handOver());
    if (this.inFlightBytes > this.net.highWaterMark) this.overHighWater = true;
    return !this.overHighWater;
  }

  close(): void {
    if (this.closed) return;
    this.inFlight.push(undefined);
    this.net.send(this.local, this.remote, () => this.handOver());
    this.finish();
  }

  /** Breaks both ends at once (kill, cut link): nothing in flight arrives. */
  break(why: string): void {
    this.inFlight.length = 0;
    this.peer.inFlight.length = 0;
    this.finish(broken(why));
    this.peer.finish(broken(why));
  }

  /** Runs at the peer's node: delivers the oldest frame in flight. */
  private handOver(): void {
    if (this.inFlight.length === 0) return;
    const frame = this.inFlight.shift();
    if (frame === undefined) return this.peer.finish();
    this.inFlightBytes -= frame.byteLength;
    this.peer.emitFrame(frame);
    if (this.overHighWater && this.inFlightBytes <= this.net.highWaterMark) {
      this.overHighWater = false;
      this.net.send(this.remote, this.local, () => this.emitDrain());
    }
  }
}

export class InMemoryNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly cut = new Set<string>();
  lossRate: number;
  latencyMs: number;
  /** Undefined: half the latency. */
  jitterMs: number | undefined;
  duplicateRate: number;
  private readonly streamHighWaterMark: number;
  /** Packets handed to the network, by sender address. */
  readonly sent = new Map<string, number>();

  constructor(private readonly options: InMemoryNetworkOptions) {
    this.lossRate = options.lossRate ?? 0;
    this.latencyMs = options.latencyMs ?? 1;
    this.jitterMs = options.jitterMs;
    this.duplicateRate = options.duplicateRate ?? 0;
    this.streamHighWaterMark = options.streamHighWaterMarkBytes ?? 256 * 1024;
  }

  /** A transport bound to `address` on this network. */
  transport(address: string): Transport {
    const endpoint: Endpoint = { paused: false, killed: false, held: [], deferred: [], streams: new Set() };
    this.endpoints.set(address, endpoint);
    return {
      address,
      sendPacket: (to, data) => this.sendPacket(address, to, data),
      exchange: (to, data, timeoutMs) => this.exchange(address, to, data, timeoutMs),
      openStream: (to, timeoutMs) => this.openStream(address, endpoint, to, timeoutMs),
      listen: (onPacket, onExchange, onStream) => {
        endpoint.onPacket = onPacket;
        endpoint.onExchange = onExchange;
        endpoint.onStream = onStream;
      },
      close: async () => {
        endpoint.killed = true;
        this.breakAll(endpoint, `${address} closed its transport`);
      },
    };
  }

  /** A scheduler for the node at `address` that stops while the node is paused. */
  scheduler(address: string): Scheduler {
    const base = this.options.scheduler;
    const wrap = (task: () => void) => () => {
      const e = this.endpoints.get(address);
      if (e?.killed) return;
      if (e?.paused) e.deferred.push(task);
      else task();
    };
    return {
      schedule: (delay, task) => base.schedule(delay, wrap(task)),
      scheduleRepeatedly: (initial, interval, task) => base.scheduleRepeatedly(initial, interval, wrap(task)),
      sleep: (delay) => new Promise((resolve) => base.schedule(delay, wrap(resolve))),
    };
  }

  /** Blocks packets, exchanges and new streams from `from` to `to` (one way), and breaks the streams between them. */
  block(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
    for (const s of [...(this.endpoints.get(from)?.streams ?? [])]) if (s.remote === to) s.break(`link ${from} > ${to} cut`);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) {
      this.block(x, y);
      this.block(y, x);
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  pause(address: string): void {
    this.endpoint(address).paused = true;
  }

  /** Resumes the node: its held timers run, then its held mail is delivered. */
  resume(address: string): void {
    const e = this.endpoint(address);
    e.paused = false;
    const tasks = [...e.deferred.splice(0), ...e.held.splice(0)];
    for (const t of tasks) t();
  }

  /** The node is gone: nothing reaches it, its timers stop, its streams break. */
  kill(address: string): void {
    const e = this.endpoint(address);
    e.killed = true;
    this.breakAll(e, `${address} killed`);
  }

  private breakAll(e: Endpoint, why: string): void {
    for (const s of [...e.streams]) s.break(why);
  }

  private endpoint(address: string): Endpoint {
    const e = this.endpoints.get(address);
    if (!e) throw new Error(`no node at ${address}`);
    return e;
  }

  private linked(from: string, to: string): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  private delay(): number {
    return this.latencyMs + this.options.random.next() * (this.jitterMs ?? this.latencyMs * 0.5);
  }

  /** Runs `deliver` at `to` after a latency, unless it is dead; holds it while paused. */
  private deliver(to: string, deliver: (e: Endpoint) => void): Cancellable {
    return this.options.scheduler.schedule(this.delay(), () => {
      const e = this.endpoints.get(to);
      if (!e || e.killed) return;
      if (e.paused) e.held.push(() => deliver(e));
      else deliver(e);
    });
  }

  private openStream(from: string, opener: Endpoint, to: string, timeoutMs: number): Promise<Stream> {
    const { scheduler } = this.options;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return false;
        settled = true;
        timer.cancel();
        fn();
        return true;
      };
      const timer = scheduler.schedule(timeoutMs, () => settle(() => reject(new CloudstateError('ERR_CLUSTER_TIMEOUT', `stream to ${to} not open after ${timeoutMs} ms`))));
      if (opener.killed || !this.linked(from, to)) return; // the connect goes nowhere: the timeout answers
      scheduler.schedule(this.delay(), () => {
        const e = this.endpoints.get(to);
        if (!this.linked(from, to) || opener.killed) return;
        if (!e || e.killed || !e.onStream) {
          const refused = new CloudstateError('ERR_CLUSTER_UNREACHABLE', `${to} refused the stream`);
          return void scheduler.schedule(this.delay(), () => settle(() => reject(refused)));
        }
        const net = { send: (a: string, b: string, task: () => void) => void this.deliver(b, task), highWaterMark: this.streamHighWaterMark };
        const mine = new MemoryStream(from, to, opener, net);
        const theirs = new MemoryStream(to, from, e, net);
        mine.peer = theirs;
        theirs.peer = mine;
        const accept = () => (e.onStream ? e.onStream(theirs) : theirs.close());
        if (e.paused) e.held.push(accept);
        else accept();
        scheduler.schedule(this.delay(), () => {
          if (!settle(() => resolve(mine))) mine.break(`stream to ${to} opened after the opener gave up`);
        });
      });
    });
  }

  private sendPacket(from: string, to: string, data: Uint8Array): void {
    this.sent.set(from, (this.sent.get(from) ?? 0) + 1);
    if (this.endpoints.get(from)?.killed || !this.linked(from, to)) return;
    if (this.lossRate > 0 && this.options.random.next() < this.lossRate) return;
    this.deliver(to, (e) => e.onPacket?.(from, data));
    if (this.duplicateRate > 0 && this.options.random.next() < this.duplicateRate) this.deliver(to, (e) => e.onPacket?.(from, data));
  }

  private exchange(from: string, to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = this.options.scheduler.schedule(timeoutMs, () => {
        if (!done) reject(new Error(`exchange with ${to} timed out after ${timeoutMs} ms`));
        done = true;
      });
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        timer.cancel();
        fn();
      };
      if (!this.linked(from, to)) return;
      this.deliver(to, (e) => {
        if (!e.onExchange) return;
        e.onExchange(from, data).then(
          (answer) => {
            if (this.linked(to, from)) this.deliver(from, () => finish(() => resolve(answer)));
          },
          (err: unknown) => this.deliver(from, () => finish(() => reject(toError(err)))),
        );
      });
    });
  }
}
