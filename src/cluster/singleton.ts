/**
 * Cluster singleton: one instance of a behaviour in the whole cluster (or in one role), on
 * the oldest member (./singleton-rules.ts), and a proxy on every node that routes `tell` and
 * `ask` to it, buffering while it is unknown or moving.
 *
 * Hand-over: a host that starts leaving, loses quorum or is no longer the oldest stops its
 * instance (the message being handled finishes first, then `stop()` runs); the next host
 * starts only once the old one announced `exiting` or was downed. A message that reached a
 * node no longer hosting is answered "not here" and goes back into the sender's buffer, so it
 * is delivered once a host is up. A message in flight to a host that then died is failed
 * with `ERR_CLUSTER_SINGLETON_LOST` (it may or may not have been handled: at-most-once, as
 * in Akka). Messages are JSON values; the instance handles them one at a time, in order of
 * arrival.
 */
import { CloudstateError, describeError, silentLogger } from '../core/index.js';
import type { Cancellable, Logger, Scheduler } from '../core/index.js';
import type { ClusterMember } from './lifecycle.js';
import { mayHost, singletonTarget } from './singleton-rules.js';
import type { MembershipView } from './view.js';

/** The behaviour that runs as the singleton. */
export interface SingletonBehavior<M = unknown, R = unknown> {
  /** Handles one message; the value returned is the answer to an `ask`. Messages arrive one at a time. */
  receive(message: M, from: string): R | Promise<R>;
  /** Hand-over or shutdown: release what the instance holds. The next instance starts only after this settles. */
  stop?(): void | Promise<void>;
}

/** What the singleton needs of reliable messaging (the cluster's `Messenger` provides it). */
export interface MessageBus {
  send(to: { id: string; address: string }, topic: string, payload: Uint8Array): Promise<void>;
  on(topic: string, handler: (from: { id: string; address: string }, payload: Uint8Array) => void): () => void;
}

export interface SingletonOptions<M, R> {
  /** Unique per cluster; every node that hosts or calls this singleton uses the same name. */
  name: string;
  /** Only members with this role host it (default: any member). */
  role?: string;
  /** Creates the instance on the node that hosts it. Omit on nodes that only call it (a proxy). */
  create?: () => SingletonBehavior<M, R> | Promise<SingletonBehavior<M, R>>;
  /** Messages buffered while no host is known (default 1000); more are rejected with `ERR_CLUSTER_SINGLETON_BUFFER_FULL`. */
  bufferSize?: number;
  /** Default time for `tell` and `ask` to be answered, ms (default 10,000). */
  timeoutMs?: number;
}

interface Pending {
  readonly id: string;
  /** Order of the call on this node: a message sent back by a former host keeps its place. */
  readonly seq: number;
  readonly message: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: Cancellable;
  /** The member it was sent to, while in flight. */
  target?: string;
}

type Envelope = { id: string; message: unknown };
type Reply = { id: string; ok: true; value?: unknown } | { id: string; ok: false; error: string } | { id: string; notHere: true };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RETRY_MS = 100;

export class ClusterSingleton<M = unknown, R = unknown> {
  private instance: SingletonBehavior<M, R> | undefined;
  private transition: Promise<void> | undefined;
  private inbox: Promise<unknown> = Promise.resolve();
  private readonly buffer: Pending[] = [];
  private readonly inFlight = new Map<string, Pending>();
  private readonly unsubscribe: (() => void)[] = [];
  private retry: Cancellable | undefined;
  private counter = 0;
  private closed = false;
  private readonly log: Logger;
  private readonly bufferSize: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly view: MembershipView,
    private readonly bus: MessageBus,
    private readonly scheduler: Scheduler,
    private readonly options: SingletonOptions<M, R>,
    logger?: Logger,
    /** False while this node must not host anything (it lost quorum or was declared dead, and has not yet come back up). */
    private readonly canHost: () => boolean = () => true,
  ) {
    this.log = (logger ?? silentLogger).child({ singleton: options.name });
    this.bufferSize = options.bufferSize ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.unsubscribe.push(bus.on(`singleton/${options.name}`, (from, data) => this.onEnvelope(from, data)));
    this.unsubscribe.push(bus.on(`singleton-reply/${options.name}`, (_from, data) => this.onReply(data)));
    const reconcile = () => this.reconcile();
    for (const e of ['change', 'quorum-lost', 'quorum-regained'] as const) {
      view.on(e, reconcile);
      this.unsubscribe.push(() => view.off(e, reconcile));
    }
    this.reconcile();
  }

  /** True while the instance runs on this node. */
  get isHost(): boolean {
    return this.instance !== undefined;
  }

  /** The member messages go to now, if one is known. */
  get host(): ClusterMember | undefined {
    return singletonTarget(this.view.members(), this.options.role);
  }

  /** Delivers `message`; resolves once the instance has handled it (its answer is dropped). */
  async tell(message: M, timeoutMs = this.timeoutMs): Promise<void> {
    await this.ask(message, timeoutMs);
  }

  /** Delivers `message` and resolves with the instance's answer; rejects on timeout or when the instance failed it. */
  ask(message: M, timeoutMs = this.timeoutMs): Promise<R> {
    if (this.closed) return Promise.reject(new CloudstateError('ERR_CLUSTER_SINGLETON_CLOSED', `singleton ${this.options.name} is closed`));
    if (this.buffer.length >= this.bufferSize) {
      return Promise.reject(new CloudstateError('ERR_CLUSTER_SINGLETON_BUFFER_FULL', `singleton ${this.options.name}: ${this.bufferSize} messages already wait for a host`));
    }
    return new Promise<R>((resolve, reject) => {
      const seq = ++this.counter;
      const id = `${this.view.self.id}/${seq}`;
      const timer = this.scheduler.schedule(timeoutMs, () => {
        this.forget(id);
        reject(new CloudstateError('ERR_CLUSTER_SINGLETON_TIMEOUT', `singleton ${this.options.name} did not answer within ${timeoutMs} ms (host: ${this.host?.id ?? 'none known'})`));
      });
      this.buffer.push({ id, seq, message, resolve: resolve as (v: unknown) => void, reject, timer });
      this.flush();
    });
  }

  /** Resolves once no instance runs here and no start or stop is under way (a graceful leave waits for it). */
  async whenStopped(): Promise<void> {
    this.reconcile();
    while (this.transition) await this.transition;
  }

  /** Stops the local instance (if any) and fails everything pending. */
  async close(): Promise<void> {
    this.closed = true;
    for (const u of this.unsubscribe) u();
    this.retry?.cancel();
    for (const p of [...this.buffer, ...this.inFlight.values()]) {
      p.timer.cancel();
      p.reject(new CloudstateError('ERR_CLUSTER_SINGLETON_CLOSED', `singleton ${this.options.name} is closed`));
    }
    this.buffer.length = 0;
    this.inFlight.clear();
    if (this.transition) await this.transition;
    await this.stopInstance();
  }

  /** Starts or stops the local instance as the view says, fails messages lost with a dead host, then flushes. */
  reconcile(): void {
    if (this.closed) return;
    const members = this.view.members();
    const self = this.view.self;
    const should = this.options.create !== undefined && this.canHost() && mayHost(self, members, this.options.role, this.view.hasQuorum);
    if (!this.transition) {
      if (should && !this.instance) this.runTransition(() => this.startInstance());
      else if (!should && this.instance) this.runTransition(() => this.stopInstance());
    }
    const present = new Set(members.map((m) => m.id));
    for (const p of this.inFlight.values()) {
      if (p.target && !present.has(p.target)) {
        this.inFlight.delete(p.id);
        p.timer.cancel();
        p.reject(new CloudstateError('ERR_CLUSTER_SINGLETON_LOST', `singleton ${this.options.name}: host ${p.target} left or was downed with this message in flight`));
      }
    }
    this.flush();
  }

  private runTransition(step: () => Promise<void>): void {
    this.transition = step()
      .catch((err: unknown) => this.log.error({ err: describeError(err) }, 'singleton start/stop failed'))
      .finally(() => {
        this.transition = undefined;
        this.reconcile();
      });
  }

  private async startInstance(): Promise<void> {
    this.log.info('starting the singleton here');
    this.instance = await this.options.create!();
  }

  private async stopInstance(): Promise<void> {
    const instance = this.instance;
    if (!instance) return;
    this.instance = undefined; // new messages are answered "not here" from now on
    this.log.info('stopping the singleton here (hand-over)');
    await this.inbox;
    await instance.stop?.();
  }

  /** Sends buffered messages to the host (or hands them to the local instance). */
  private flush(): void {
    if (this.buffer.length === 0) return;
    const target = this.host;
    if (!target || !target.reachable) return;
    const self = this.view.self;
    if (target.id === self.id && !this.instance) return; // starting here: flushed when it runs
    for (const p of this.buffer.splice(0)) {
      if (target.id === self.id) this.handleLocally(p.message).then(p.resolve, p.reject).finally(() => p.timer.cancel());
      else this.sendTo(target, p);
    }
  }

  private sendTo(target: ClusterMember, p: Pending): void {
    p.target = target.id;
    this.inFlight.set(p.id, p);
    const envelope: Envelope = { id: p.id, message: p.message };
    this.bus.send(target, `singleton/${this.options.name}`, encoder.encode(JSON.stringify(envelope))).catch((err: unknown) => {
      if (!this.inFlight.delete(p.id)) return;
      p.timer.cancel();
      p.reject(new CloudstateError('ERR_CLUSTER_SINGLETON_LOST', `singleton ${this.options.name}: could not send to ${target.id}: ${describeError(err)}`, { cause: err }));
    });
  }

  private handleLocally(message: unknown): Promise<unknown> {
    const instance = this.instance!;
    const result = this.inbox.then(() => instance.receive(message as M, this.view.self.id));
    this.inbox = result.catch(() => undefined);
    return result;
  }

  private onEnvelope(from: { id: string; address: string }, data: Uint8Array): void {
    const envelope = parseJson(data) as Envelope | undefined;
    if (!envelope || typeof envelope.id !== 'string') return void this.log.warn({ from: from.id }, 'dropped a malformed singleton message');
    const reply = (r: Reply) => void this.bus.send(from, `singleton-reply/${this.options.name}`, encoder.encode(JSON.stringify(r))).catch(() => undefined);
    if (!this.instance || this.closed) return reply({ id: envelope.id, notHere: true });
    const instance = this.instance;
    const result = this.inbox.then(() => instance.receive(envelope.message as M, from.id));
    this.inbox = result.catch(() => undefined);
    result.then(
      (value) => reply({ id: envelope.id, ok: true, value }),
      (err: unknown) => reply({ id: envelope.id, ok: false, error: describeError(err) }),
    );
  }

  private onReply(data: Uint8Array): void {
    const r = parseJson(data) as Reply | undefined;
    const p = r && typeof r.id === 'string' ? this.inFlight.get(r.id) : undefined;
    if (!r || !p) return;
    this.inFlight.delete(r.id);
    if ('notHere' in r) {
      p.target = undefined;
      const at = this.buffer.findIndex((q) => q.seq > p.seq);
      this.buffer.splice(at < 0 ? this.buffer.length : at, 0, p);
      this.retry ??= this.scheduler.schedule(RETRY_MS, () => {
        this.retry = undefined;
        this.flush();
      });
      return;
    }
    p.timer.cancel();
    if (r.ok) p.resolve(r.value);
    else p.reject(new CloudstateError('ERR_CLUSTER_SINGLETON_FAILED', `singleton ${this.options.name} failed the message: ${r.error}`));
  }

  private forget(id: string): void {
    this.inFlight.delete(id);
    const i = this.buffer.findIndex((p) => p.id === id);
    if (i >= 0) this.buffer.splice(i, 1);
  }
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}
