/**
 * The causal context of a dot store (Almeida, Shoker, Baquero, "Delta State Replicated Data
 * Types", §5: "causal context" and "dot kernel"): the set of every event (dot = node, counter)
 * a replica has seen, kept compact as a version vector (each node's contiguous prefix
 * 1..n) plus a dot cloud (seen dots past the prefix, which deltas received out of order leave).
 * Because a removal is recorded as "these dots are seen and no longer in the store", removed
 * elements need no tombstones. Immutable; pure.
 */
import { sortedRecord } from './types.js';

export class CausalContext {
  static readonly empty = new CausalContext(new Map(), new Map());

  /** Use `CausalContext.of`/`empty`; the maps given here must already be compact. */
  private constructor(
    /** node → n: dots (node, 1..n) are all seen. */
    readonly vv: ReadonlyMap<string, number>,
    /** node → dots seen beyond vv (never contiguous with it once compact). */
    readonly cloud: ReadonlyMap<string, ReadonlySet<number>>,
  ) {}

  /** A compact context from a version vector and a cloud (either may overlap the other). */
  static of(vv: ReadonlyMap<string, number>, cloud: ReadonlyMap<string, Iterable<number>> = new Map()): CausalContext {
    const v = new Map<string, number>();
    for (const [n, c] of vv) if (c > 0) v.set(n, c);
    const d = new Map<string, Set<number>>();
    for (const [n, cs] of cloud) for (const c of cs) {
      if (c <= (v.get(n) ?? 0)) continue;
      let s = d.get(n);
      if (!s) d.set(n, (s = new Set()));
      s.add(c);
    }
    return CausalContext.compact(v, d);
  }

  private static compact(v: Map<string, number>, d: Map<string, Set<number>>): CausalContext {
    for (const [n, s] of d) {
      let top = v.get(n) ?? 0;
      while (s.delete(top + 1)) top++;
      if (top > 0) v.set(n, top);
      for (const c of s) if (c <= top) s.delete(c);
      if (s.size === 0) d.delete(n);
    }
    return new CausalContext(v, d);
  }

  /** True when the dot (node, counter) is in this context. */
  contains(node: string, counter: number): boolean {
    return counter <= (this.vv.get(node) ?? 0) || (this.cloud.get(node)?.has(counter) ?? false);
  }

  /** The highest counter seen from `node` (0 if none): a node's next dot is this + 1. */
  max(node: string): number {
    let m = this.vv.get(node) ?? 0;
    for (const c of this.cloud.get(node) ?? []) if (c > m) m = c;
    return m;
  }

  /** This context with more dots. */
  withDots(dots: Iterable<readonly [string, number]>): CausalContext {
    const v = new Map(this.vv);
    const d = new Map<string, Set<number>>();
    for (const [n, s] of this.cloud) d.set(n, new Set(s));
    for (const [n, c] of dots) {
      if (c <= (v.get(n) ?? 0)) continue;
      let s = d.get(n);
      if (!s) d.set(n, (s = new Set()));
      s.add(c);
    }
    return CausalContext.compact(v, d);
  }

  /** The union of both contexts (the join). */
  union(other: CausalContext): CausalContext {
    if (other === this || other.isEmpty()) return this;
    if (this.isEmpty()) return other;
    const v = new Map(this.vv);
    for (const [n, c] of other.vv) if (c > (v.get(n) ?? 0)) v.set(n, c);
    const d = new Map<string, Set<number>>();
    for (const ctx of [this, other]) for (const [n, s] of ctx.cloud) {
      let t = d.get(n);
      if (!t) d.set(n, (t = new Set()));
      for (const c of s) t.add(c);
    }
    return CausalContext.compact(v, d);
  }

  isEmpty(): boolean {
    return this.vv.size === 0 && this.cloud.size === 0;
  }

  /** Nodes with dots in this context. */
  nodes(): Set<string> {
    return new Set([...this.vv.keys(), ...this.cloud.keys()]);
  }

  /** This context without any dot of `node` (pruning). */
  withoutNode(node: string): CausalContext {
    if (!this.vv.has(node) && !this.cloud.has(node)) return this;
    const v = new Map(this.vv);
    v.delete(node);
    const d = new Map(this.cloud);
    d.delete(node);
    return new CausalContext(v, d);
  }

  toJSON(): { v: Record<string, number>; d?: Record<string, number[]> } {
    const v = sortedRecord(this.vv, (c) => c);
    if (this.cloud.size === 0) return { v };
    return { v, d: sortedRecord(this.cloud, (s) => [...s].sort((a, b) => a - b)) };
  }

  static fromJSON(json: { v?: Record<string, number>; d?: Record<string, number[]> }): CausalContext {
    return CausalContext.of(new Map(Object.entries(json.v ?? {})), new Map(Object.entries(json.d ?? {})));
  }
}
