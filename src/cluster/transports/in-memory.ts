/**
 * An in-memory network for simulating many nodes in one process (after memberlist's
 * MockNetwork, plus faults): packets and exchanges are delivered through the injected
 * scheduler with a latency, and the test can drop a share of packets, cut links (one way or
 * both), pause a node (it neither runs its timers nor reads its mail until resumed, like a
 * process stopped by the OS) and kill one. Nothing here is random except through `random`.
 */
import type { Cancellable, Random, Scheduler } from '../../core/index.js';
import type { ExchangeHandler, PacketHandler, Transport } from '../transport.js';

interface Endpoint {
  onPacket?: PacketHandler;
  onExchange?: ExchangeHandler;
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
  /** One-way delivery latency in ms (default 1; up to +50 % jitter). */
  latencyMs?: number;
  /** Share of packets lost, 0–1 (default 0). Exchanges are reliable and not affected. */
  lossRate?: number;
}

export class InMemoryNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly cut = new Set<string>();
  lossRate: number;
  latencyMs: number;
  /** Packets handed to the network, by sender address. */
  readonly sent = new Map<string, number>();

  constructor(private readonly options: InMemoryNetworkOptions) {
    this.lossRate = options.lossRate ?? 0;
    this.latencyMs = options.latencyMs ?? 1;
  }

  /** A transport bound to `address` on this network. */
  transport(address: string): Transport {
    const endpoint: Endpoint = { paused: false, killed: false, held: [], deferred: [] };
    this.endpoints.set(address, endpoint);
    return {
      address,
      sendPacket: (to, data) => this.sendPacket(address, to, data),
      exchange: (to, data, timeoutMs) => this.exchange(address, to, data, timeoutMs),
      listen: (onPacket, onExchange) => {
        endpoint.onPacket = onPacket;
        endpoint.onExchange = onExchange;
      },
      close: async () => {
        endpoint.killed = true;
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

  /** Blocks packets and exchanges from `from` to `to` (one way). */
  block(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
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

  /** The node is gone: nothing reaches it, its timers stop. */
  kill(address: string): void {
    this.endpoint(address).killed = true;
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
    return this.latencyMs * (1 + this.options.random.next() * 0.5);
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

  private sendPacket(from: string, to: string, data: Uint8Array): void {
    this.sent.set(from, (this.sent.get(from) ?? 0) + 1);
    if (this.endpoints.get(from)?.killed || !this.linked(from, to)) return;
    if (this.lossRate > 0 && this.options.random.next() < this.lossRate) return;
    this.deliver(to, (e) => e.onPacket?.(from, data));
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
          (err: unknown) => this.deliver(from, () => finish(() => reject(err instanceof Error ? err : new Error(String(err))))),
        );
      });
    });
  }
}
