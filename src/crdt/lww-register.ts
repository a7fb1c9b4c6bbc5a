/**
 * LWWRegister: a last-writer-wins register (Akka Distributed Data's `LWWRegister`; a
 * delta-state CRDT in the sense of Almeida, Shoker, Baquero, "Delta State Replicated Data
 * Types", whose delta is the register itself after a write). Each write carries a timestamp
 * from one of the Cloudstate protocol's clocks (`CrdtClock`):
 *
 * - `default`: wall-clock ms, but always past the current timestamp (so a write on a node
 *   whose clock lags still wins over what it has seen);
 * - `reverse`: the negated wall clock, at most the current timestamp − 1: the first write wins;
 * - `custom`: the caller's value, as given;
 * - `custom-auto-increment`: the caller's value if it is past the current timestamp, else
 *   the current timestamp + 1.
 *
 * A write whose timestamp loses to the current one is ignored, locally too (so `reverse` makes
 * the register write-once). The join keeps the higher timestamp; on equal timestamps the smaller node id wins (any fixed
 * order works; this one is documented so every replica agrees). The empty register has no
 * value and loses to any write. The node id is only a tie-breaker, one per register: nothing
 * grows with the nodes that ever wrote, so nothing needs pruning.
 */
import { assertKind } from './types.js';
import type { Crdt } from './types.js';

export type LWWClock = 'default' | 'reverse' | 'custom' | 'custom-auto-increment';

const NONE: ReadonlySet<string> = new Set();

export class LWWRegister implements Crdt<LWWRegister> {
  static readonly empty = new LWWRegister(undefined, -Infinity, '');
  readonly kind = 'lwwregister' as const;

  constructor(
    /** The value; undefined only in the empty register. */
    readonly value: string | undefined,
    /** The write's timestamp (-Infinity for the empty register). */
    readonly timestamp: number,
    /** The node that wrote it (the tie-breaker). */
    readonly node: string,
    readonly delta: LWWRegister | undefined = undefined,
  ) {}

  /**
   * Writes `value` on `node`. `now` is the wall clock in ms (the `default` and `reverse`
   * clocks read it); `customValue` is required by the `custom` clocks.
   */
  set(node: string, value: string, now: number, clock: LWWClock = 'default', customValue?: number): LWWRegister {
    const ts = nextTimestamp(this.timestamp, now, clock, customValue);
    const written = new LWWRegister(value, ts, node);
    // A write that loses to the current value (the reverse clock after the first write, a
    // custom clock value in the past) changes nothing: were it kept locally, this replica
    // would disagree with every replica that merges the two writes.
    if (!written.wins(this)) return this;
    return new LWWRegister(value, ts, node, written);
  }

  /** True when `this` wins over `other` (or they are the same write). */
  private wins(other: LWWRegister): boolean {
    if (this.timestamp !== other.timestamp) return this.timestamp > other.timestamp;
    if (this.node !== other.node) return this.node < other.node;
    // Same timestamp and node: only a custom clock reused by one node; order by value so the join stays deterministic.
    return (this.value ?? '') >= (other.value ?? '');
  }

  merge(other: LWWRegister): LWWRegister {
    const w = this.wins(other) ? this : other;
    return w.delta === undefined ? w : new LWWRegister(w.value, w.timestamp, w.node);
  }

  mergeDelta(delta: LWWRegister): LWWRegister {
    return this.merge(delta);
  }

  resetDelta(): LWWRegister {
    return this.delta === undefined ? this : new LWWRegister(this.value, this.timestamp, this.node);
  }

  modifiedByNodes(): ReadonlySet<string> {
    return NONE;
  }

  needPruningFrom(): boolean {
    return false;
  }

  prune(): LWWRegister {
    return this;
  }

  pruningCleanup(): LWWRegister {
    return this;
  }

  toJSON() {
    if (this.value === undefined) return { t: 'lw' };
    return { t: 'lw', n: this.node, ts: this.timestamp, v: this.value };
  }

  static fromJSON(json: { t: string; v?: string; ts?: number; n?: string }): LWWRegister {
    assertKind(json, 'lw', 'lwwregister');
    return json.v === undefined ? LWWRegister.empty : new LWWRegister(json.v, json.ts ?? 0, json.n ?? '');
  }
}

/** The timestamp a write gets under `clock`, given the register's current timestamp (pure). */
export function nextTimestamp(current: number, now: number, clock: LWWClock, customValue?: number): number {
  switch (clock) {
    case 'default':
      return Number.isFinite(current) ? Math.max(Math.floor(now), current + 1) : Math.floor(now);
    case 'reverse':
      return Number.isFinite(current) ? Math.min(-Math.floor(now), current - 1) : -Math.floor(now);
    case 'custom':
      return requireCustom(customValue, clock);
    case 'custom-auto-increment': {
      const v = requireCustom(customValue, clock);
      return !Number.isFinite(current) || v > current ? v : current + 1;
    }
  }
}

function requireCustom(v: number | undefined, clock: LWWClock): number {
  if (v === undefined || !Number.isSafeInteger(v)) throw new RangeError(`the ${clock} clock needs an integer custom clock value, got ${String(v)}`);
  return v;
}
