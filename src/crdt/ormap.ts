/**
 * ORMap: a map from string keys to CRDT values, with observed-remove (add-wins) keys. Built as
 * a dot store whose dots carry the value written with them (the "map embedding" idea of
 * Almeida, Shoker, Baquero, "Delta State Replicated Data Types", §6, with opaque CRDT
 * payloads; Akka Distributed Data's `ORMap` is the model of the API). Every update of a key
 * writes a fresh dot carrying the key's whole new value and supersedes the key's earlier dots;
 * a remove drops the key's dots (they stay in the causal context). A key's value is the merge
 * of the values on its surviving dots, so concurrent updates merge, an update concurrent with a
 * remove wins (with the updater's whole value), and a key removed and added again starts from
 * the new value, not the old one.
 *
 * Why whole values on dots rather than value deltas (Akka's approach): dropping a removed key's
 * value and later merging another replica's value delta for it is not associative (the result
 * depends on the order); carrying the value with its dot keeps the join a lattice join, at the
 * price of an update's delta holding the key's whole value (small for counters, registers,
 * flags and votes; a large nested set costs its size per update).
 */
import { CausalContext } from './causal-context.js';
import { assertKind, sorted } from './types.js';
import type { AnyCrdt, Crdt, CrdtJson } from './types.js';

/** One surviving write of a key: its dot and the value written. */
export interface Slot<V> {
  readonly node: string;
  readonly counter: number;
  readonly value: V;
}

type Slots<V> = readonly Slot<V>[];

export class ORMap<V extends Crdt<V> = AnyCrdt> implements Crdt<ORMap<V>> {
  static empty<V extends Crdt<V> = AnyCrdt>(): ORMap<V> {
    return new ORMap<V>(new Map(), CausalContext.empty);
  }
  readonly kind = 'ormap' as const;

  constructor(
    readonly entries: ReadonlyMap<string, Slots<V>>,
    readonly context: CausalContext,
    readonly delta: ORMap<V> | undefined = undefined,
  ) {}

  /**
   * The value of `key` (undefined when absent): the merge of the values of its surviving
   * writes. Should concurrent writes have put values of different types under one key, only
   * those of the first write's type (in dot order, the same on every replica) count.
   */
  get(key: string): V | undefined {
    const slots = this.entries.get(key);
    if (!slots || slots.length === 0) return undefined;
    let v = slots[0]!.value;
    for (let i = 1; i < slots.length; i++) if (slots[i]!.value.kind === v.kind) v = v.merge(slots[i]!.value);
    return v;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return sorted(this.entries.keys());
  }

  get size(): number {
    return this.entries.size;
  }

  /** Every present key with its value. */
  toMap(): Map<string, V> {
    const out = new Map<string, V>();
    for (const k of this.entries.keys()) out.set(k, this.get(k)!);
    return out;
  }

  /**
   * Updates `key` on `node`: `modify` gets the current value (or `initial` when the key is
   * absent) and returns the new one. A `modify` that returns its argument unchanged leaves a
   * present key alone; on an absent key it still adds the key with `initial`.
   */
  update(node: string, key: string, initial: V, modify: (value: V) => V = (v) => v): ORMap<V> {
    const current = this.get(key);
    const base = (current ?? initial).resetDelta();
    const next = modify(base);
    if (current !== undefined && next === base) return this;
    return this.put(node, key, next.resetDelta());
  }

  /** Sets `key` to `value` on `node`, superseding every value this replica has seen for it. */
  put(node: string, key: string, value: V): ORMap<V> {
    const counter = this.context.max(node) + 1;
    const slot: Slot<V> = { node, counter, value: value.resetDelta() };
    const old = this.entries.get(key) ?? [];
    const d = new ORMap<V>(new Map([[key, [slot]]]), CausalContext.empty.withDots([[node, counter], ...old.map((s) => [s.node, s.counter] as const)]));
    const entries = new Map(this.entries).set(key, [slot]);
    return new ORMap(entries, this.context.withDots([[node, counter]]), this.delta ? this.delta.merge(d) : d);
  }

  /** Removes `key` (the writes this replica has seen: a concurrent update wins). */
  remove(key: string): ORMap<V> {
    const old = this.entries.get(key);
    if (!old) return this;
    const d = new ORMap<V>(new Map(), CausalContext.empty.withDots(old.map((s) => [s.node, s.counter] as const)));
    const entries = new Map(this.entries);
    entries.delete(key);
    return new ORMap(entries, this.context, this.delta ? this.delta.merge(d) : d);
  }

  /** Removes every key this replica has seen. */
  clear(): ORMap<V> {
    if (this.entries.size === 0) return this;
    const dots: [string, number][] = [];
    for (const slots of this.entries.values()) for (const s of slots) dots.push([s.node, s.counter]);
    const d = new ORMap<V>(new Map(), CausalContext.empty.withDots(dots));
    return new ORMap(new Map(), this.context, this.delta ? this.delta.merge(d) : d);
  }

  merge(other: ORMap<V>): ORMap<V> {
    const out = new Map<string, Slots<V>>();
    for (const [k, a] of this.entries) {
      const kept = joinSlots(a, this.context, other.entries.get(k), other.context);
      if (kept.length > 0) out.set(k, kept);
    }
    for (const [k, b] of other.entries) {
      if (this.entries.has(k)) continue;
      const kept = joinSlots(b, other.context, undefined, this.context);
      if (kept.length > 0) out.set(k, kept);
    }
    return new ORMap(out, this.context.union(other.context));
  }

  mergeDelta(delta: ORMap<V>): ORMap<V> {
    return this.merge(delta);
  }

  resetDelta(): ORMap<V> {
    return this.delta === undefined ? this : new ORMap(this.entries, this.context);
  }

  modifiedByNodes(): ReadonlySet<string> {
    const out = this.context.nodes();
    for (const slots of this.entries.values()) for (const s of slots) for (const n of s.value.modifiedByNodes()) out.add(n);
    return out;
  }

  needPruningFrom(removedNode: string): boolean {
    if (this.context.vv.has(removedNode) || this.context.cloud.has(removedNode)) return true;
    for (const slots of this.entries.values()) for (const s of slots) if (s.value.needPruningFrom(removedNode)) return true;
    return false;
  }

  /**
   * Each key the removed node wrote, or whose value holds its entries, becomes one fresh write
   * of `collapseInto` carrying the merge of the key's values, pruned: pruning the values one by
   * one would fold the removed node into `collapseInto`'s entry of each, and merging those
   * would count it once instead of adding them.
   */
  prune(removedNode: string, collapseInto: string): ORMap<V> {
    let counter = this.context.max(collapseInto);
    const fresh: [string, number][] = [];
    const entries = new Map<string, Slots<V>>();
    for (const [k, slots] of this.entries) {
      if (!slots.some((s) => s.node === removedNode || s.value.needPruningFrom(removedNode))) {
        entries.set(k, slots);
        continue;
      }
      const value = this.get(k)!.prune(removedNode, collapseInto);
      fresh.push([collapseInto, ++counter]);
      entries.set(k, [{ node: collapseInto, counter, value }]);
    }
    return new ORMap(entries, this.context.withoutNode(removedNode).withDots(fresh));
  }

  pruningCleanup(removedNode: string): ORMap<V> {
    if (!this.needPruningFrom(removedNode)) return this;
    const entries = new Map<string, Slots<V>>();
    for (const [k, slots] of this.entries) {
      const kept = slots.filter((s) => s.node !== removedNode).map((s) => ({ ...s, value: s.value.pruningCleanup(removedNode) }));
      if (kept.length > 0) entries.set(k, kept);
    }
    return new ORMap(entries, this.context.withoutNode(removedNode));
  }

  toJSON() {
    const e: Record<string, [string, number, CrdtJson][]> = {};
    for (const k of sorted(this.entries.keys())) e[k] = this.entries.get(k)!.map((s) => [s.node, s.counter, s.value.toJSON()]);
    return { t: 'om', c: this.context.toJSON(), e };
  }

  static fromJSON<V extends Crdt<V> = AnyCrdt>(json: { t: string; e?: Record<string, [string, number, CrdtJson][]>; c?: { v?: Record<string, number>; d?: Record<string, number[]> } }, decodeValue: (json: CrdtJson) => V): ORMap<V> {
    assertKind(json, 'om', 'ormap');
    const entries = new Map<string, Slots<V>>();
    for (const [k, slots] of Object.entries(json.e ?? {})) entries.set(k, slots.map(([node, counter, v]) => ({ node, counter, value: decodeValue(v) })));
    return new ORMap(entries, CausalContext.fromJSON(json.c ?? {}));
  }
}

/** The dot-kernel join of one key's slots: a slot survives if both sides have its dot, or the other side has not seen it. Sorted by dot. */
function joinSlots<V extends Crdt<V>>(a: Slots<V>, actx: CausalContext, b: Slots<V> | undefined, bctx: CausalContext): Slots<V> {
  const out: Slot<V>[] = [];
  for (const s of a) {
    const twin = b?.find((t) => t.node === s.node && t.counter === s.counter);
    if (twin) out.push(twin.value === s.value ? s : { ...s, value: s.value.merge(twin.value) });
    else if (!bctx.contains(s.node, s.counter)) out.push(s);
  }
  for (const t of b ?? []) {
    if (a.some((s) => s.node === t.node && s.counter === t.counter)) continue;
    if (!actx.contains(t.node, t.counter)) out.push(t);
  }
  if (out.length > 1) out.sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : x.counter - y.counter));
  return out;
}
