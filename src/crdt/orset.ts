/**
 * ORSet: an add-wins observed-remove set as a dot store with a causal context (Almeida, Shoker,
 * Baquero, "Delta State Replicated Data Types", §5.2 "add-wins set"; Akka Distributed Data's
 * `ORSet`). Each present element carries the dots (node, counter) of the adds that put it
 * there; the causal context holds every dot this replica has seen (./causal-context.ts). An
 * element whose dots are all seen by the other replica but no longer in its store was removed
 * there, so removes need no per-element tombstones. A concurrent add and remove: the add wins.
 *
 * Deltas: add(e) is ({e ↦ new dot}, {new dot} ∪ dots(e)); remove(e) is ({}, dots(e)); clear is
 * ({}, all dots). Pruning a removed node re-adds its elements with a fresh dot of the node
 * collapsed into (as Akka does), then forgets the removed node's dots: a remove that ran
 * concurrently with the prune, on a replica that had not seen the prune, is lost (the element
 * stays), as in Akka.
 */
import { CausalContext } from './causal-context.js';
import { assertKind, sorted, sortedRecord } from './types.js';
import type { Crdt } from './types.js';

/** An element's dots: node → counter (one dot per node at most). */
export type Dots = ReadonlyMap<string, number>;

export class ORSet implements Crdt<ORSet> {
  static readonly empty = new ORSet(new Map(), CausalContext.empty);
  readonly kind = 'orset' as const;

  constructor(
    readonly entries: ReadonlyMap<string, Dots>,
    readonly context: CausalContext,
    readonly delta: ORSet | undefined = undefined,
  ) {}

  /** The elements present. */
  get elements(): Set<string> {
    return new Set(this.entries.keys());
  }

  has(element: string): boolean {
    return this.entries.has(element);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds `element` on `node` (a fresh dot, superseding the element's earlier dots). */
  add(node: string, element: string): ORSet {
    const counter = this.context.max(node) + 1;
    const old = this.entries.get(element);
    const dots: Dots = new Map([[node, counter]]);
    const deltaCtx = CausalContext.empty.withDots([[node, counter], ...(old ?? new Map())]);
    const d = new ORSet(new Map([[element, dots]]), deltaCtx);
    const entries = new Map(this.entries).set(element, dots);
    return new ORSet(entries, this.context.withDots([[node, counter]]), this.accumulate(d));
  }

  /** Removes `element` (only the adds this replica has seen: a concurrent add wins). */
  remove(element: string): ORSet {
    const old = this.entries.get(element);
    if (!old) return this;
    const d = new ORSet(new Map(), CausalContext.empty.withDots(old));
    const entries = new Map(this.entries);
    entries.delete(element);
    return new ORSet(entries, this.context, this.accumulate(d));
  }

  /** Removes every element this replica has seen. */
  clear(): ORSet {
    if (this.entries.size === 0) return this;
    const dots: [string, number][] = [];
    for (const ds of this.entries.values()) dots.push(...ds);
    const d = new ORSet(new Map(), CausalContext.empty.withDots(dots));
    return new ORSet(new Map(), this.context, this.accumulate(d));
  }

  private accumulate(d: ORSet): ORSet {
    return this.delta ? this.delta.merge(d) : d;
  }

  merge(other: ORSet): ORSet {
    return new ORSet(ORSet.mergeEntries(this.entries, this.context, other.entries, other.context), this.context.union(other.context));
  }

  /** The dot-kernel join of two stores: a dot survives if both have it, or the other side has not seen it. */
  static mergeEntries(a: ReadonlyMap<string, Dots>, actx: CausalContext, b: ReadonlyMap<string, Dots>, bctx: CausalContext): Map<string, Dots> {
    const out = new Map<string, Dots>();
    for (const [e, da] of a) {
      const db = b.get(e);
      const kept = survivors(da, db, bctx);
      if (db) for (const [n, c] of db) if (da.get(n) !== c && !actx.contains(n, c)) kept.set(n, Math.max(c, kept.get(n) ?? 0));
      if (kept.size > 0) out.set(e, sameDots(kept, da) ? da : kept);
    }
    for (const [e, db] of b) {
      if (a.has(e)) continue;
      const kept = survivors(db, undefined, actx);
      if (kept.size > 0) out.set(e, sameDots(kept, db) ? db : kept);
    }
    return out;
  }

  mergeDelta(delta: ORSet): ORSet {
    return this.merge(delta);
  }

  resetDelta(): ORSet {
    return this.delta === undefined ? this : new ORSet(this.entries, this.context);
  }

  modifiedByNodes(): ReadonlySet<string> {
    return this.context.nodes();
  }

  needPruningFrom(removedNode: string): boolean {
    return this.context.vv.has(removedNode) || this.context.cloud.has(removedNode);
  }

  prune(removedNode: string, collapseInto: string): ORSet {
    let counter = this.context.max(collapseInto);
    const fresh: [string, number][] = [];
    const entries = new Map<string, Dots>();
    for (const [e, ds] of this.entries) {
      if (!ds.has(removedNode)) {
        entries.set(e, ds);
        continue;
      }
      const next = new Map(ds);
      next.delete(removedNode);
      next.set(collapseInto, ++counter);
      fresh.push([collapseInto, counter]);
      entries.set(e, next);
    }
    return new ORSet(entries, this.context.withoutNode(removedNode).withDots(fresh));
  }

  pruningCleanup(removedNode: string): ORSet {
    if (!this.needPruningFrom(removedNode)) return this;
    const entries = new Map<string, Dots>();
    for (const [e, ds] of this.entries) {
      if (!ds.has(removedNode)) entries.set(e, ds);
      else if (ds.size > 1) {
        const next = new Map(ds);
        next.delete(removedNode);
        entries.set(e, next);
      }
    }
    return new ORSet(entries, this.context.withoutNode(removedNode));
  }

  toJSON() {
    const e: Record<string, Record<string, number>> = {};
    for (const k of sorted(this.entries.keys())) e[k] = sortedRecord(this.entries.get(k)!, (c) => c);
    return { t: 'os', e, c: this.context.toJSON() };
  }

  static fromJSON(json: { t: string; e?: Record<string, Record<string, number>>; c?: { v?: Record<string, number>; d?: Record<string, number[]> } }): ORSet {
    assertKind(json, 'os', 'orset');
    const entries = new Map<string, Dots>();
    for (const [k, ds] of Object.entries(json.e ?? {})) entries.set(k, new Map(Object.entries(ds)));
    return new ORSet(entries, CausalContext.fromJSON(json.c ?? {}));
  }
}

/** The dots of `mine` the other side has too, or has not seen. */
function survivors(mine: Dots, theirs: Dots | undefined, theirCtx: CausalContext): Map<string, number> {
  const kept = new Map<string, number>();
  for (const [n, c] of mine) if (theirs?.get(n) === c || !theirCtx.contains(n, c)) kept.set(n, c);
  return kept;
}

function sameDots(a: Dots, b: Dots): boolean {
  if (a.size !== b.size) return false;
  for (const [n, c] of a) if (b.get(n) !== c) return false;
  return true;
}
