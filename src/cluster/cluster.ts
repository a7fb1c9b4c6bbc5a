/**
 * `Cluster`: the membership layer as an application uses it. It binds the transport, runs a
 * SWIM node, joins the cluster through seed addresses (a static `host:port` list, or names
 * that DNS resolves to many addresses, such as a headless Kubernetes Service), and reports
 * membership changes as typed events. Time, randomness and the transport can be injected
 * (simulation); the defaults are the real ones.
 *
 * Seeds: a node whose own address is the first seed forms a new cluster when no other seed
 * answers (as Akka's first seed node does); every other node keeps trying its seeds, with
 * backoff, until one answers.
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'eventemitter3';
import { SeededRandom, describeError, silentLogger, systemClock, systemScheduler } from '../core/index.js';
import type { Clock, Logger, Random, Scheduler } from '../core/index.js';
import { presets } from './config.js';
import type { SwimConfig } from './config.js';
import { SwimNode } from './swim.js';
import type { Transport } from './transport.js';
import { UdpTcpTransport, splitAddress } from './transports/udp-tcp.js';
import type { Member, MembershipEvent } from './types.js';

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
  /** This node's id (default: address plus a random suffix, unique per start). */
  id?: string;
  transport?: Transport;
  clock?: Clock;
  scheduler?: Scheduler;
  random?: Random;
  logger?: Logger;
}

type Events = {
  [K in MembershipEvent['type']]: [member: Member];
} & { membership: [event: MembershipEvent] };

export class Cluster extends EventEmitter<Events> {
  /** Resolves once this node is part of a cluster (joined through a seed, or formed one). */
  readonly joined: Promise<void>;
  private stopped = false;

  private constructor(
    private readonly node: SwimNode,
    private readonly transport: Transport,
    private readonly options: ClusterOptions,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
  ) {
    super();
    node.events.on('membership', (e) => {
      this.emit(e.type, e.member);
      this.emit('membership', e);
    });
    this.joined = this.joinSeeds();
    this.joined.catch(() => undefined);
  }

  /** Binds, starts the membership protocol and begins joining the seeds. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const transport = options.transport ?? (await UdpTcpTransport.bind({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }));
    const random = options.random ?? SeededRandom.fromEntropy();
    const scheduler = options.scheduler ?? systemScheduler;
    const config = { ...presets[options.preset ?? 'lan'], ...options.config };
    const id = options.id ?? `${transport.address}#${random.int(2 ** 31).toString(36)}`;
    const log = options.logger ?? silentLogger;
    const node = new SwimNode({ id, transport, config, clock: options.clock ?? systemClock, scheduler, random, logger: log });
    node.start();
    return new Cluster(node, transport, options, scheduler, log);
  }

  get self(): Member {
    return this.node.self;
  }

  get address(): string {
    return this.transport.address;
  }

  /** Known members, this node included, with their status. */
  members(): Member[] {
    return this.node.members();
  }

  /** Members currently alive (this node included). */
  alive(): Member[] {
    return this.node.members().filter((m) => m.status === 'alive');
  }

  /** Leaves gracefully: the others see a leave, not a failure. */
  async leave(waitMs = 1000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.node.leave(waitMs);
    await this.transport.close();
  }

  /** Stops at once, without telling anyone (they will detect a failure). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.node.stop();
    await this.transport.close();
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
        this.log.info({ attempt, err: describeError(err) }, 'no seed answered yet');
      }
      // The first seed forms the cluster when no one else is there.
      if (addresses[0] === this.transport.address || others.length === 0) return;
      await this.scheduler.sleep(backoff);
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
