/**
 * GSet: a grow-only set (Almeida, Shoker, Baquero, "Delta State Replicated Data Types";
 * Akka Distributed Data's `GSet`). The join is the union; an add's delta is the added element.
 * Nothing names a node, so nothing needs pruning.
 */
import { assertKind, sorted } from './types.js';
import type { Crdt } from './types.js';

const NONE: ReadonlySet<string> = new Set();

export class GSet implements Crdt<GSet> {
  static readonly empty = new GSet(new Set());
  readonly kind = 'gset' as const;

  constructor(
    readonly elements: ReadonlySet<string>,
    readonly delta: GSet | undefined = undefined,
  ) {}

  has(element: string): boolean {
    return this.elements.has(element);
  }

  get size(): number {
    return this.elements.size;
  }

  add(element: string): GSet {
    if (this.elements.has(element)) return this;
    const d = new GSet(new Set([element]));
    return new GSet(new Set(this.elements).add(element), this.delta ? this.delta.merge(d) : d);
  }

  merge(other: GSet): GSet {
    if (other.elements.size === 0) return this.delta === undefined ? this : new GSet(this.elements);
    const out = new Set(this.elements);
    for (const e of other.elements) out.add(e);
    return new GSet(out);
  }

  mergeDelta(delta: GSet): GSet {
    return this.merge(delta);
  }

  resetDelta(): GSet {
    return this.delta === undefined ? this : new GSet(this.elements);
  }

  modifiedByNodes(): ReadonlySet<string> {
    return NONE;
  }

  needPruningFrom(): boolean {
    return false;
  }

  prune(): GSet {
    return this;
  }

  pruningCleanup(): GSet {
    return this;
  }

  toJSON() {
    return { t: 'gs', e: sorted(this.elements) };
  }

  static fromJSON(json: { t: string; e?: string[] }): GSet {
    assertKind(json, 'gs', 'gset');
    return new GSet(new Set(json.e ?? []));
  }
}
