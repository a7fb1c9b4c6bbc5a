// A many-node SWIM simulation in one process: the in-memory network, one manual scheduler
// (virtual time), one seed for all randomness. A failing test prints its seed; set SIM_SEED
// to replay exactly that run.
import { ManualScheduler, SeededRandom } from '../../src/core/index.js';
import { presets } from '../../src/cluster/config.js';
import type { SwimConfig } from '../../src/cluster/config.js';
import { SwimNode } from '../../src/cluster/swim.js';
import { InMemoryNetwork } from '../../src/cluster/transports/in-memory.js';
import type { MembershipEvent } from '../../src/cluster/types.js';

const SLICE_MS = 10;

export interface SimOptions {
  nodes: number;
  seed: number;
  config?: SwimConfig;
  lossRate?: number;
  latencyMs?: number;
  jitterMs?: number;
  duplicateRate?: number;
}

export interface RecordedEvent {
  at: number;
  observer: string;
  event: MembershipEvent;
}

export class Sim {
  readonly scheduler = new ManualScheduler();
  readonly random: SeededRandom;
  readonly network: InMemoryNetwork;
  readonly nodes: SwimNode[] = [];
  readonly events: RecordedEvent[] = [];
  readonly config: SwimConfig;
  private killed = new Set<string>();

  constructor(readonly options: SimOptions) {
    this.random = new SeededRandom(options.seed);
    this.config = options.config ?? presets.lan;
    this.network = new InMemoryNetwork({ scheduler: this.scheduler, random: this.random.fork(), lossRate: options.lossRate ?? 0, latencyMs: options.latencyMs ?? 1, jitterMs: options.jitterMs, duplicateRate: options.duplicateRate });
    for (let i = 0; i < options.nodes; i++) this.addNode();
  }

  static address(i: number): string {
    return `node-${i}:7946`;
  }

  addNode(): SwimNode {
    const i = this.nodes.length;
    const address = Sim.address(i);
    const node = new SwimNode({
      id: `n${i}`,
      transport: this.network.transport(address),
      config: this.config,
      clock: this.scheduler,
      scheduler: this.network.scheduler(address),
      random: this.random.fork(),
    });
    node.events.on('membership', (event) => this.events.push({ at: this.scheduler.monotonic(), observer: node.id, event }));
    this.nodes.push(node);
    return node;
  }

  /**
   * Runs virtual time forward: synchronously in 10 ms slices, letting promise callbacks (the
   * push-pull exchanges) settle between slices. Settling after every single task would cost
   * far more under a test runner that tracks every promise, and 10 ms of extra latency on an
   * exchange changes nothing the tests look at. Deterministic either way.
   */
  async run(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= SLICE_MS) {
      this.scheduler.advance(Math.min(SLICE_MS, left));
      for (let i = 0; i < 4; i++) await Promise.resolve();
    }
  }

  /** Runs time forward in steps until `done()` or `maxMs` passed; resolves to the time it took. */
  async until(done: () => boolean, maxMs: number, stepMs = 50): Promise<number | undefined> {
    const start = this.scheduler.monotonic();
    while (this.scheduler.monotonic() - start < maxMs) {
      if (done()) return this.scheduler.monotonic() - start;
      await this.run(stepMs);
    }
    return done() ? this.scheduler.monotonic() - start : undefined;
  }

  /** Starts every node and joins them all through node 0, the time running meanwhile. */
  async startAll(): Promise<void> {
    for (const n of this.nodes) n.start();
    const joins = Promise.all(this.nodes.slice(1).map((n) => n.join([Sim.address(0)])));
    let settled = false;
    void joins.finally(() => (settled = true));
    while (!settled) await this.run(10);
    await joins;
  }

  kill(i: number): void {
    this.killed.add(this.nodes[i]!.id);
    this.nodes[i]!.stop();
    this.network.kill(Sim.address(i));
  }

  live(): SwimNode[] {
    return this.nodes.filter((n) => !this.killed.has(n.id));
  }

  /** Every live node sees every live node alive, and every killed node dead or gone. */
  converged(): boolean {
    const live = this.live();
    return live.every((observer) =>
      this.nodes.every((n) => {
        const m = observer.member(n.id);
        return this.killed.has(n.id) ? m === undefined || m.status === 'dead' || m.status === 'left' : m?.status === 'alive';
      }),
    );
  }

  /** 'failed' events about a member that was never killed: SWIM's false positives. */
  falsePositives(): RecordedEvent[] {
    return this.events.filter((e) => e.event.type === 'failed' && !this.killed.has(e.event.member.id));
  }
}

/** The seed for a simulation: SIM_SEED when replaying, else a fixed default per test. */
export function simSeed(fallback: number): number {
  return process.env.SIM_SEED ? Number(process.env.SIM_SEED) : fallback;
}
