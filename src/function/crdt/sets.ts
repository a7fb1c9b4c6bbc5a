/**
 * Sets: `GSet` (grow only) and `ORSet` (observed-remove: add and remove any number of times; a
 * concurrent add wins over a remove, decided by the proxy). Elements are compared by their packed
 * form (./state.ts), kept in insertion order (an element put back by the rollback of a failed
 * handler comes last).
 *
 * The ORSet delta is the protocol's `ORSetDelta`: `cleared` (the set was emptied first), then
 * `removed`, then `added`. Local changes fold into it: removing an element added since the last
 * reply only forgets the add, re-adding a removed element only forgets the remove, and removing
 * the last element or `clear()` is a clear (as the Java and JavaScript supports do).
 */
import type { CrdtDelta } from '../../protocol/index.js';
import { CrdtState, keyOfAny, packed, unpacked, type DeltaContext, type Packed } from './state.js';

/** What both sets read the same way: their elements, packed, by canonical key. */
abstract class ElementSet<T> extends CrdtState {
  protected readonly elements = new Map<string, Packed<T>>();

  /** The number of elements. */
  get size(): number {
    return this.elements.size;
  }

  /** Whether `element` is in the set. */
  has(element: T): boolean {
    return this.elements.has(packed(element).key);
  }

  /** The elements, in insertion order. */
  values(): T[] {
    return [...this.elements.values()].map((e) => e.value);
  }

  [Symbol.iterator](): Iterator<T> {
    return this.values()[Symbol.iterator]();
  }
}

/** A set that only grows. */
export class GSet<T = unknown> extends ElementSet<T> {
  readonly kind = 'gset';
  #added = new Map<string, Packed<T>>();

  /** Adds `element`; returns whether it was new. */
  add(element: T): boolean {
    const p = packed(element);
    if (this.elements.has(p.key)) return false;
    this.elements.set(p.key, p);
    this.#added.set(p.key, p);
    this.changed(() => this.elements.delete(p.key));
    return true;
  }

  get hasDelta(): boolean {
    return this.#added.size > 0;
  }
  delta(): CrdtDelta | undefined {
    return this.hasDelta ? { gset: { added: [...this.#added.values()].map((e) => e.any) } } : undefined;
  }
  resetDelta(): void {
    this.#added.clear();
  }
  applyDelta(delta: CrdtDelta, context: DeltaContext): void {
    for (const any of this.deltaOf(delta, 'gset').added ?? []) {
      const e = unpacked(any, context) as Packed<T>;
      if (!this.elements.has(e.key)) this.elements.set(e.key, e);
    }
  }
  fullDelta(): CrdtDelta {
    return { gset: { added: [...this.elements.values()].map((e) => e.any) } };
  }
}

/** An observed-remove set. */
export class ORSet<T = unknown> extends ElementSet<T> {
  readonly kind = 'orset';
  #cleared = false;
  #removed = new Map<string, Packed<T>>();
  #added = new Map<string, Packed<T>>();

  /** Adds `element`; returns whether it was new. */
  add(element: T): boolean {
    const p = packed(element);
    if (this.elements.has(p.key)) return false;
    this.elements.set(p.key, p);
    if (this.#removed.has(p.key)) this.#removed.delete(p.key);
    else this.#added.set(p.key, p);
    this.changed(() => this.elements.delete(p.key));
    return true;
  }

  /** Removes `element`; returns whether it was there. */
  delete(element: T): boolean {
    const key = packed(element).key;
    const p = this.elements.get(key);
    if (!p) return false;
    if (this.elements.size === 1) {
      this.clear();
      return true;
    }
    this.elements.delete(key);
    if (this.#added.has(key)) this.#added.delete(key);
    else this.#removed.set(key, p);
    this.changed(() => this.elements.set(key, p));
    return true;
  }

  /** Removes every element. */
  clear(): void {
    if (this.elements.size === 0 && this.#added.size === 0) return;
    const before = [...this.elements];
    this.elements.clear();
    this.#cleared = true;
    this.#removed.clear();
    this.#added.clear();
    this.changed(() => {
      this.elements.clear();
      for (const [key, p] of before) this.elements.set(key, p);
    });
  }

  get hasDelta(): boolean {
    return this.#cleared || this.#removed.size > 0 || this.#added.size > 0;
  }
  delta(): CrdtDelta | undefined {
    if (!this.hasDelta) return undefined;
    return {
      orset: {
        cleared: this.#cleared,
        removed: [...this.#removed.values()].map((e) => e.any),
        added: [...this.#added.values()].map((e) => e.any),
      },
    };
  }
  resetDelta(): void {
    this.#cleared = false;
    this.#removed.clear();
    this.#added.clear();
  }
  applyDelta(delta: CrdtDelta, context: DeltaContext): void {
    const d = this.deltaOf(delta, 'orset');
    if (d.cleared) this.elements.clear();
    for (const any of d.removed ?? []) this.elements.delete(keyOfAny(any));
    for (const any of d.added ?? []) {
      const e = unpacked(any, context) as Packed<T>;
      if (!this.elements.has(e.key)) this.elements.set(e.key, e);
    }
  }
  fullDelta(): CrdtDelta {
    return { orset: { added: [...this.elements.values()].map((e) => e.any) } };
  }
}
