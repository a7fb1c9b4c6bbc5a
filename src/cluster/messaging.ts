/**
 * Reliable messaging between members (after Akka Artery): one persistent outbound stream per
 * peer, opened lazily, that starts with a hello naming both ends. Delivery is AT MOST ONCE and
 * ORDERED per (sender, receiver) pair: messages arrive in send order with none duplicated, but
 * those written to a connection that breaks may be lost (the ones not yet written go out on
 * the next connection, in order; a receiver closes a member's older connection when a newer
 * one says hello, so the two cannot interleave). Whoever needs more (acknowledgements,
 * retries, idempotence) builds it on top.
 *
 * Under load, messages queued while the connection is busy (or in the same synchronous run as
 * one just written) go out together in one batch frame; one message alone is written at once. A peer's
 * queue is bounded in bytes: past the bound, `send` waits (back-pressure) instead of growing
 * memory. A receiver refuses a stream whose hello names another member id than its own (a
 * process restarted at an address is a new member and must not get its predecessor's mail).
 *
 * It owns connections, queues and handler dispatch; the frame format, queue accounting and
 * backoff are in ./messaging-codec.ts. It must not throw on what a peer sends: malformed
 * frames are counted and close that connection; a handler that throws is logged and counted.
 */
import { CloudstateError, describeError, silentLogger } from '../core/index.js';
import type { Cancellable, Clock, Logger, Scheduler } from '../core/index.js';

import {
  OutboundQueue,
  decodeFrame,
  encodeBatch,
  encodeHello,
  encodeRefused,
  encodeTopic,
  messageBytes,
  reconnectBackoffMs,
} from './messaging-codec.js';

/** The reason a receiver gives when it refuses a member it has forgotten (the sender matches it). */
const goneReason = (memberId: string) => `${memberId} is gone`;
import type { OutboundMessage } from './messaging-codec.js';
import type { Stream, StreamHandler, Transport } from './transport.js';

export interface MessengerOptions {
  transport: Transport;
  selfId: string;
  clock: Clock;
  scheduler: Scheduler;
  logger?: Logger;
  /** Bytes queued for one peer before `send` waits (default 8 MiB). */
  maxQueuedBytesPerPeer?: number;
  /** How long opening a connection may take, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** The largest message, topic included, in bytes (default 4 MiB); bigger ones are rejected at `send`. */
  maxMessageBytes?: number;
}

/** A member as messaging addresses it: its unique id (one per process start) and its transport address. */
export interface Peer {
  readonly id: string;
  readonly address: string;
}

export interface MessengerStats {
  /** Messages written to connections. */
  sent: number;
  /** Messages received in well-formed batches. */
  received: number;
  /** Batch frames written (under load, fewer than `sent`). */
  batchesOut: number;
  /** Messages received for a topic with no handler. */
  dropped: number;
  /** Malformed frames received (each closed its connection). */
  malformed: number;
  /** Connections to a peer opened again after one broke. */
  reconnects: number;
  /** Inbound streams refused (hello for another member id, or from a forgotten member). */
  refused: number;
  /** Handler calls that threw. */
  handlerErrors: number;
  /** Messages accepted by `send` and then discarded unsent (peer forgotten or refused, messenger closed). */
  discarded: number;
}

/** Batch frames are cut at this size (a single bigger message still goes alone). */
const MAX_BATCH_BYTES = 256 * 1024;
/** A connection that lived this long resets the reconnect backoff. */
const STABLE_CONNECTION_MS = 1000;
/** How many forgotten member ids are remembered (oldest first out). */
const MAX_GONE = 10_000;

/**
 * The outbound side of one peer, as a state machine:
 *
 *   idle ──mail──▶ connecting ──stream open──▶ open ──broke, no mail──▶ idle
 *                   ▲      │ failed             │ broke, mail waiting
 *                   │      ▼                    ▼
 *                   └─── backoff ◀──────────────┘      (backoff ──no mail──▶ idle)
 *
 *   any ──forget / refused / close──▶ gone (final)
 */
type LinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'gone';
const TRANSITIONS: Record<LinkState, readonly LinkState[]> = {
  idle: ['connecting', 'gone'],
  connecting: ['open', 'backoff', 'gone'],
  open: ['idle', 'backoff', 'gone'],
  backoff: ['connecting', 'idle', 'gone'],
  gone: [],
};

function transition(link: Link, to: LinkState): void {
  if (!TRANSITIONS[link.state].includes(to)) throw new CloudstateError('ERR_CLUSTER_INTERNAL', `messaging link to ${link.peer.id}: ${link.state} → ${to} is not a transition`);
  link.state = to;
}

interface Waiter {
  message: OutboundMessage;
  size: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The outbound side of one peer (see `LinkState`). */
interface Link {
  readonly peer: Peer;
  state: LinkState;
  stream: Stream | undefined;
  writable: boolean;
  readonly queue: OutboundQueue;
  /** Sends waiting for room in the queue, in order. */
  readonly waiters: Waiter[];
  attempt: number;
  openedAt: number;
  everOpened: boolean;
  /** A flush is queued for the end of this synchronous run: sends until then join one batch. */
  tickPending: boolean;
  timer: Cancellable | undefined;
}

const resolved = Promise.resolve();

export class Messenger {
  /** Bound handler to give `SwimNode` as its `onStream` option (so `transport.listen` gets it). */
  readonly onStream: StreamHandler = (stream) => this.accept(stream);
  readonly stats: MessengerStats = { sent: 0, received: 0, batchesOut: 0, dropped: 0, malformed: 0, reconnects: 0, refused: 0, handlerErrors: 0, discarded: 0 };
  private readonly links = new Map<string, Link>();
  private readonly gone = new Set<string>();
  private readonly handlers = new Map<string, (from: Peer, payload: Uint8Array) => void>();
  private readonly inbound = new Map<Stream, Peer | undefined>();
  private readonly topics = new Map<string, Uint8Array>();
  private readonly log: Logger;
  private readonly maxQueued: number;
  private readonly maxMessageBytes: number;
  private readonly connectTimeoutMs: number;
  private closed = false;

  constructor(private readonly o: MessengerOptions) {
    this.log = o.logger ?? silentLogger;
    this.maxQueued = o.maxQueuedBytesPerPeer ?? 8 * 1024 * 1024;
    this.maxMessageBytes = o.maxMessageBytes ?? 4 * 1024 * 1024;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5000;
  }

  /** This node as peers see it. */
  get self(): Peer {
    return { id: this.o.selfId, address: this.o.transport.address };
  }

  /**
   * Sends `payload` on `topic` to member `to`. Ordered per (this node, `to`), at most once.
   * Resolves once the message is queued on the peer's connection; while that queue holds
   * `maxQueuedBytesPerPeer` it waits (back-pressure). Rejects with `ERR_CLUSTER_MESSENGER_CLOSED`
   * after `close()`, `ERR_CLUSTER_PEER_GONE` when the peer was forgotten (or its address now
   * belongs to another member), `ERR_CLUSTER_MESSAGE_TOO_LARGE` over `maxMessageBytes`.
   * The payload must not be modified until the promise resolves. A message to this node
   * itself is delivered locally, in order.
   */
  send(to: Peer, topic: string, payload: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new CloudstateError('ERR_CLUSTER_MESSENGER_CLOSED', 'the messenger is closed'));
    if (this.gone.has(to.id)) return Promise.reject(new CloudstateError('ERR_CLUSTER_PEER_GONE', `member ${to.id} is gone`));
    const size = Buffer.byteLength(topic, 'utf8') + payload.byteLength;
    if (size > this.maxMessageBytes) {
      return Promise.reject(new CloudstateError('ERR_CLUSTER_MESSAGE_TOO_LARGE', `message of ${size} bytes on ${topic} exceeds ${this.maxMessageBytes}`));
    }
    if (to.id === this.o.selfId) {
      queueMicrotask(() => this.deliver(this.self, topic, payload));
      return resolved;
    }
    const message = { topic: this.topicBytes(topic), payload };
    const link = this.link(to);
    const bytes = messageBytes(message);
    if (link.waiters.length === 0 && link.queue.admits(bytes)) {
      link.queue.push(message);
      this.kick(link);
      return resolved;
    }
    return new Promise((resolve, reject) => link.waiters.push({ message, size: bytes, resolve, reject }));
  }

  /** Sets the handler for `topic` (one per topic; a new one replaces it); returns a function that removes it. */
  on(topic: string, handler: (from: Peer, payload: Uint8Array) => void): () => void {
    this.handlers.set(topic, handler);
    return () => {
      if (this.handlers.get(topic) === handler) this.handlers.delete(topic);
    };
  }

  /**
   * The member is gone (removed, downed): closes its connections both ways, discards what is
   * queued for it, rejects waiting sends with `ERR_CLUSTER_PEER_GONE`, and refuses it from now on.
   */
  forget(peerId: string): void {
    this.gone.add(peerId);
    if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.values().next().value!);
    const link = this.links.get(peerId);
    if (link) this.retire(link, new CloudstateError('ERR_CLUSTER_PEER_GONE', `member ${peerId} is gone`));
    for (const [stream, from] of this.inbound) if (from?.id === peerId) stream.close();
  }

  /**
   * The member is back (a partition healed after it was downed here: same process, same id):
   * accept it and send to it again. Messages refused while it was gone stay refused.
   */
  revive(peerId: string): void {
    this.gone.delete(peerId);
  }

  /** Bytes queued for `peerId` and not yet written (for monitoring and tests). */
  queuedBytes(peerId: string): number {
    return this.links.get(peerId)?.queue.bytes ?? 0;
  }

  /** Writes what the connections can take now, then closes them all; waiting sends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of [...this.links.values()]) {
      if (link.state === 'open') this.flush(link);
      this.retire(link, new CloudstateError('ERR_CLUSTER_MESSENGER_CLOSED', 'the messenger is closed'));
    }
    for (const stream of [...this.inbound.keys()]) stream.close();
  }

  private topicBytes(topic: string): Uint8Array {
    let bytes = this.topics.get(topic);
    if (!bytes) {
      bytes = encodeTopic(topic);
      if (this.topics.size >= 1024) this.topics.clear();
      this.topics.set(topic, bytes);
    }
    return bytes;
  }

  private link(peer: Peer): Link {
    let link = this.links.get(peer.id);
    if (!link) {
      link = {
        peer: { id: peer.id, address: peer.address },
        state: 'idle',
        stream: undefined,
        writable: false,
        queue: new OutboundQueue(this.maxQueued),
        waiters: [],
        attempt: 0,
        openedAt: 0,
        everOpened: false,
        tickPending: false,
        timer: undefined,
      };
      this.links.set(peer.id, link);
    }
    return link;
  }

  /**
   * New mail for `link`: connect if idle; otherwise write at once, unless a write already
   * happened in this synchronous run, whose later sends then go out together in one batch when
   * it ends (a microtask, not a timer: no added latency, and deterministic under virtual time).
   */
  private kick(link: Link): void {
    if (link.state === 'idle') return this.connect(link);
    if (link.state !== 'open' || !link.writable || link.tickPending) return;
    this.flush(link);
    link.tickPending = true;
    queueMicrotask(() => {
      link.tickPending = false;
      if (link.state === 'open' && link.queue.length > 0) this.flush(link);
    });
  }

  /** Writes batches while the stream takes them, admitting waiting sends as room frees up. */
  private flush(link: Link): void {
    const stream = link.stream;
    if (!stream) return;
    for (;;) {
      while (link.writable && link.queue.length > 0) {
        const { messages, bytes } = link.queue.take(MAX_BATCH_BYTES);
        link.writable = stream.write(encodeBatch(messages, bytes));
        this.stats.batchesOut++;
        this.stats.sent += messages.length;
      }
      let admitted = false;
      while (link.waiters.length > 0 && link.queue.admits(link.waiters[0]!.size)) {
        const w = link.waiters.shift()!;
        link.queue.push(w.message);
        w.resolve();
        admitted = true;
      }
      if (!admitted || !link.writable) return;
    }
  }

  private connect(link: Link): void {
    transition(link, 'connecting');
    this.o.transport.openStream(link.peer.address, this.connectTimeoutMs).then(
      (stream) => {
        if (link.state !== 'connecting') return void stream.close(); // forgotten or closed meanwhile
        transition(link, 'open');
        link.stream = stream;
        link.openedAt = this.o.clock.monotonic();
        if (link.everOpened) this.stats.reconnects++;
        link.everOpened = true;
        stream.onFrame((frame) => this.onReply(link, stream, frame));
        stream.onDrain(() => {
          if (link.stream !== stream) return;
          link.writable = true;
          this.flush(link);
        });
        stream.onClose((err) => this.onBroken(link, stream, err));
        link.writable = stream.write(encodeHello({ fromId: this.o.selfId, fromAddress: this.o.transport.address, toId: link.peer.id }));
        this.flush(link);
      },
      (err: unknown) => {
        if (link.state !== 'connecting') return;
        this.log.debug({ peer: link.peer.id, err: describeError(err) }, 'cannot connect; will retry');
        this.backoff(link);
      },
    );
  }

  private backoff(link: Link): void {
    transition(link, 'backoff');
    link.timer = this.o.scheduler.schedule(reconnectBackoffMs(link.attempt++), () => {
      link.timer = undefined;
      if (link.state !== 'backoff') return;
      if (link.queue.length > 0 || link.waiters.length > 0) this.connect(link);
      else transition(link, 'idle');
    });
  }

  private onBroken(link: Link, stream: Stream, err?: Error): void {
    if (link.stream !== stream) return;
    link.stream = undefined;
    link.writable = false;
    if (link.state !== 'open') return;
    this.log.debug({ peer: link.peer.id, err: err && describeError(err) }, 'connection closed');
    if (this.o.clock.monotonic() - link.openedAt >= STABLE_CONNECTION_MS) link.attempt = 0;
    if (link.queue.length > 0 || link.waiters.length > 0) this.backoff(link);
    else transition(link, 'idle');
  }

  /** A frame from the receiver on our outbound stream: only `refused` is expected. */
  private onReply(link: Link, stream: Stream, frame: Uint8Array): void {
    const decoded = decodeFrame(frame);
    if (decoded?.kind === 'refused') {
      if (decoded.reason === goneReason(this.o.selfId)) {
        // The peer still holds *us* as gone (it downed us during a partition and has not seen us
        // come back yet). It is not gone to us: drop what was queued and try again on the next
        // send, by which time its view may have taken us back (member-joining revives us there).
        this.log.info({ peer: link.peer.id }, 'peer refused the connection: it still holds this member as gone');
        return this.retire(link, new CloudstateError('ERR_CLUSTER_PEER_REFUSED', `member ${link.peer.id} refused this member (it holds it as gone)`));
      }
      this.log.info({ peer: link.peer.id, reason: decoded.reason }, 'peer refused the connection: another member is at its address');
      return this.forget(link.peer.id);
    }
    this.stats.malformed++;
    stream.close();
  }

  /** Ends a link for good: discards its queue, rejects its waiters with `err`. */
  private retire(link: Link, err: CloudstateError): void {
    this.links.delete(link.peer.id);
    transition(link, 'gone');
    link.timer?.cancel();
    link.stream?.close();
    link.stream = undefined;
    this.stats.discarded += link.queue.clear() + link.waiters.length;
    for (const w of link.waiters.splice(0)) w.reject(err);
  }

  /** Takes a stream a peer opened: expects a hello for this member, then batches. */
  private accept(stream: Stream): void {
    if (this.closed) return stream.close();
    this.inbound.set(stream, undefined);
    stream.onClose(() => this.inbound.delete(stream));
    const reject = (why: string) => {
      this.stats.malformed++;
      this.log.warn({ remote: stream.remote, why }, 'malformed messaging frame; closing the connection');
      stream.close();
    };
    stream.onFrame((frame) => {
      const decoded = decodeFrame(frame);
      if (!decoded) return reject('undecodable frame');
      const from = this.inbound.get(stream);
      if (!from) {
        if (decoded.kind !== 'hello') return reject(`${decoded.kind} before hello`);
        const { fromId, fromAddress, toId } = decoded.hello;
        if (toId !== this.o.selfId || this.gone.has(fromId)) {
          this.stats.refused++;
          this.log.info({ remote: stream.remote, fromId, toId }, 'refused a connection meant for another member, or from a forgotten one');
          stream.write(encodeRefused(toId !== this.o.selfId ? `this is ${this.o.selfId}, not ${toId}` : goneReason(fromId)));
          return stream.close();
        }
        // A newer connection from the same member replaces any older one, so that mail still
        // buffered on the old one cannot be handed up after mail on the new one (order per pair).
        for (const [other, peer] of this.inbound) if (other !== stream && peer?.id === fromId) other.close();
        this.inbound.set(stream, { id: fromId, address: fromAddress });
        return;
      }
      if (decoded.kind !== 'batch') return reject(`${decoded.kind} after hello`);
      for (const m of decoded.messages) this.deliver(from, m.topic, m.payload);
    });
  }

  private deliver(from: Peer, topic: string, payload: Uint8Array): void {
    this.stats.received++;
    const handler = this.handlers.get(topic);
    if (!handler) {
      this.stats.dropped++;
      return;
    }
    try {
      handler(from, payload);
    } catch (err) {
      this.stats.handlerErrors++;
      this.log.warn({ from: from.id, topic, err: describeError(err) }, 'a message handler threw');
    }
  }
}
