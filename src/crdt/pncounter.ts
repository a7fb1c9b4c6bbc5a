/**
 * PNCounter: a counter that goes up and down, as two GCounters (increments and decrements)
 * whose difference is the value (Almeida, Shoker, Baquero, "Delta State Replicated Data
 * Types"; Akka Distributed Data's `PNCounter`). Its delta is the pair of the two deltas;
 * pruning prunes both halves.
 */
import { GCounter } from './gcounter.js';
import { assertKind } from './types.js';
import type { Crdt } from './types.js';

export class PNCounter implements Crdt<PNCounter> {
  static readonly empty = new PNCounter(GCounter.empty, GCounter.empty);
  readonly kind = 'pncounter' as const;

  constructor(
    readonly increments: GCounter,
    readonly decrements: GCounter,
    readonly delta: PNCounter | undefined = undefined,
  ) {}

  get value(): number {
    return this.increments.value - this.decrements.value;
  }

  /** Adds `n` (any safe integer, negative to decrement) for `node`. */
  increment(node: string, n = 1): PNCounter {
    if (!Number.isSafeInteger(n)) throw new RangeError(`a PNCounter changes by an integer, got ${n}`);
    if (n === 0) return this;
    const next = n > 0 ? new PNCounter(this.increments.increment(node, n), this.decrements) : new PNCounter(this.increments, this.decrements.increment(node, -n));
    const d = new PNCounter(next.increments.delta ?? GCounter.empty, next.decrements.delta ?? GCounter.empty);
    return new PNCounter(next.increments.resetDelta(), next.decrements.resetDelta(), this.delta ? this.delta.merge(d) : d);
  }

  decrement(node: string, n = 1): PNCounter {
    return this.increment(node, -n);
  }

  merge(other: PNCounter): PNCounter {
    return new PNCounter(this.increments.merge(other.increments), this.decrements.merge(other.decrements));
  }

  mergeDelta(delta: PNCounter): PNCounter {
    return this.merge(delta);
  }

  resetDelta(): PNCounter {
    return this.delta === undefined ? this : new PNCounter(this.increments, this.decrements);
  }

  modifiedByNodes(): ReadonlySet<string> {
    return new Set([...this.increments.state.keys(), ...this.decrements.state.keys()]);
  }

  needPruningFrom(removedNode: string): boolean {
    return this.increments.needPruningFrom(removedNode) || this.decrements.needPruningFrom(removedNode);
  }

  prune(removedNode: string, collapseInto: string): PNCounter {
    return new PNCounter(this.increments.prune(removedNode, collapseInto), this.decrements.prune(removedNode, collapseInto));
  }

  pruningCleanup(removedNode: string): PNCounter {
    return new PNCounter(this.increments.pruningCleanup(removedNode), this.decrements.pruningCleanup(removedNode));
  }

  toJSON() {
    return { t: 'pn', n: this.decrements.toJSON().s, p: this.increments.toJSON().s };
  }

  static fromJSON(json: { t: string; p?: Record<string, number>; n?: Record<string, number> }): PNCounter {
    assertKind(json, 'pn', 'pncounter');
    return new PNCounter(GCounter.fromJSON({ t: 'gc', s: json.p ?? {} }), GCounter.fromJSON({ t: 'gc', s: json.n ?? {} }));
  }
}
