/**
 * GCounter: a grow-only counter (Shapiro et al.; delta-state form after Almeida, Shoker and
 * Baquero, "Delta State Replicated Data Types", §4; Akka Distributed Data's `GCounter`). Each
 * node counts its own increments; the value is the sum, the join the per-node maximum. An
 * increment's delta is the node's new entry alone. Pruning folds a removed node's count into
 * another node's entry. Values are JS numbers: exact up to `Number.MAX_SAFE_INTEGER`.
 */
import { assertKind, sortedRecord } from './types.js';
import type { Crdt } from './types.js';

export class GCounter implements Crdt<GCounter> {
  static readonly empty = new GCounter(new Map());
  readonly kind = 'gcounter' as const;

  constructor(
    /** node → that node's increments (never negative). */
    readonly state: ReadonlyMap<string, number>,
    readonly delta: GCounter | undefined = undefined,
  ) {}

  /** The sum of every node's increments. */
  get value(): number {
    let sum = 0;
    for (const c of this.state.values()) sum += c;
    return sum;
  }

  /** Adds `n` (a non-negative integer) for `node`. */
  increment(node: string, n = 1): GCounter {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a GCounter increments by a non-negative integer, got ${n}`);
    if (n === 0) return this;
    const next = (this.state.get(node) ?? 0) + n;
    const state = new Map(this.state).set(node, next);
    const d = new GCounter(new Map([[node, next]]));
    return new GCounter(state, this.delta ? this.delta.merge(d) : d);
  }

  merge(other: GCounter): GCounter {
    const state = new Map(this.state);
    for (const [n, c] of other.state) if (c > (state.get(n) ?? 0)) state.set(n, c);
    return new GCounter(state);
  }

  mergeDelta(delta: GCounter): GCounter {
    return this.merge(delta);
  }

  resetDelta(): GCounter {
    return this.delta === undefined ? this : new GCounter(this.state);
  }

  modifiedByNodes(): ReadonlySet<string> {
    return new Set(this.state.keys());
  }

  needPruningFrom(removedNode: string): boolean {
    return this.state.has(removedNode);
  }

  prune(removedNode: string, collapseInto: string): GCounter {
    const removed = this.state.get(removedNode);
    if (removed === undefined) return this;
    const state = new Map(this.state);
    state.delete(removedNode);
    state.set(collapseInto, (state.get(collapseInto) ?? 0) + removed);
    return new GCounter(state);
  }

  pruningCleanup(removedNode: string): GCounter {
    if (!this.state.has(removedNode)) return this;
    const state = new Map(this.state);
    state.delete(removedNode);
    return new GCounter(state);
  }

  toJSON() {
    return { t: 'gc', s: sortedRecord(this.state, (c) => c) };
  }

  static fromJSON(json: { t: string; s?: Record<string, number> }): GCounter {
    assertKind(json, 'gc', 'gcounter');
    return new GCounter(new Map(Object.entries(json.s ?? {})));
  }
}
