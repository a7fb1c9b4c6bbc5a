/**
 * The piggyback queue: gossip waiting to ride on outgoing packets. Each entry is sent at most
 * `retransmitLimit(mult, N)` times (SWIM's infection-style dissemination reaches everyone in
 * O(log N) rounds); the least-sent entries go first; a newer message about a member replaces
 * the older one, so stale news is never spread.
 */
import { retransmitLimit } from './formulas.js';
import { messageSize } from './wire.js';
import type { Gossip } from './wire.js';

interface Entry {
  readonly gossip: Gossip;
  readonly size: number;
  transmits: number;
  readonly order: number;
}

export class BroadcastQueue {
  private readonly entries = new Map<string, Entry>();
  private order = 0;

  constructor(private readonly retransmitMult: number) {}

  /** Queues gossip about `gossip.id`, replacing anything queued about that member. */
  enqueue(gossip: Gossip): void {
    this.entries.set(gossip.id, { gossip, size: messageSize(gossip), transmits: 0, order: this.order++ });
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Takes gossip for one packet within `budgetBytes`, least-transmitted (then newest) first,
   * counting a transmission for each; entries sent `retransmitLimit` times are dropped.
   */
  take(budgetBytes: number, clusterSize: number): Gossip[] {
    if (this.entries.size === 0) return [];
    const limit = Math.max(1, retransmitLimit(this.retransmitMult, clusterSize));
    const sorted = [...this.entries.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order);
    const out: Gossip[] = [];
    let used = 0;
    for (const e of sorted) {
      if (used + e.size > budgetBytes) continue;
      used += e.size;
      out.push(e.gossip);
      if (++e.transmits >= limit) this.entries.delete(e.gossip.id);
    }
    return out;
  }
}
