/**
 * `ORMap`: an observed-remove map whose values are CRDTs themselves (a map of counters, of
 * registers, of sets…). Keys are compared by their packed form (./state.ts), kept in insertion
 * order (an entry put back by the rollback of a failed handler comes last). Values are created
 * on demand, `map.getOrCreate(key, () => new GCounter())`, and changed in place; their changes
 * are part of the map's delta.
 *
 * The delta is the protocol's `ORMapDelta`: `cleared` first, then `removed` keys, then `updated`
 * entries (the delta of a value that was there), then `added` entries (a new value with its whole
 * delta; an empty delta of its type when it has none). Removing an entry added since the last
 * reply only forgets the add; removing the last entry, or `clear()`, is a clear.
 */
import type { CrdtDelta, ORMapEntryDelta } from '../../protocol/index.js';
import { CrdtState, keyOfAny, packed, unpacked, type DeltaContext, type Packed } from './state.js';

interface Entry<K> {
  readonly key: Packed<K>;
  value: CrdtState;
}

/** An observed-remove map of CRDTs. */
export class ORMap<K = unknown, V extends CrdtState = CrdtState> extends CrdtState {
  readonly kind = 'ormap';
  #entries = new Map<string, Entry<K>>();
  #cleared = false;
  #removed = new Map<string, Packed<K>>();
  #added = new Set<string>();
  /** Keys whose value reported a change since the last reply: the delta looks only at these, not at every entry. */
  #changedValues = new Set<string>();

  /** The number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether there is an entry for `key`. */
  has(key: K): boolean {
    return this.#entries.has(packed(key).key);
  }

  /** The value for `key`, if any. */
  get(key: K): V | undefined {
    return this.#entries.get(packed(key).key)?.value as V | undefined;
  }

  /** The value for `key`, created with `create` (and added to the map) when there is none. */
  getOrCreate<W extends V>(key: K, create: () => W): W {
    const p = packed(key);
    const found = this.#entries.get(p.key);
    if (found) return found.value as W;
    const value = create();
    this.#add(p, value);
    this.changed(() => this.#entries.delete(p.key));
    return value;
  }

  /** Puts `value` under `key`, replacing any value there (a remove and an add). Returns this. */
  set(key: K, value: V): this {
    const p = packed(key);
    const found = this.#entries.get(p.key);
    if (found?.value === value) return this;
    if (found && !this.#added.has(p.key)) this.#removed.set(p.key, p);
    this.#add(p, value);
    this.changed(() => (found ? this.#entries.set(p.key, found) : this.#entries.delete(p.key)));
    return this;
  }

  #add(p: Packed<K>, value: CrdtState): void {
    if (!(value instanceof CrdtState)) throw new Error('ORMap values must be CRDTs (GCounter, ORSet, LWWRegister, …)');
    this.#entries.set(p.key, { key: p, value: this.#owned(p.key, value) });
    this.#added.add(p.key);
  }

  /**
   * A value of this map: its changes are this map's changes. It stays so after it is removed, so
   * that a handler that changes a value it removed is rolled back whole.
   */
  #owned(key: string, value: CrdtState): CrdtState {
    value.onChange((undo) => {
      this.#changedValues.add(key);
      this.changed(undo);
    });
    return value;
  }

  /** Removes the entry for `key`; returns whether there was one. */
  delete(key: K): boolean {
    const p = packed(key);
    const found = this.#entries.get(p.key);
    if (!found) return false;
    if (this.#entries.size === 1) {
      this.clear();
      return true;
    }
    this.#entries.delete(p.key);
    if (this.#added.has(p.key)) this.#added.delete(p.key);
    else this.#removed.set(p.key, p);
    this.changed(() => this.#entries.set(p.key, found));
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    if (this.#entries.size === 0 && this.#added.size === 0) return;
    const before = [...this.#entries];
    this.#entries.clear();
    this.#cleared = true;
    this.#removed.clear();
    this.#added.clear();
    this.changed(() => {
      this.#entries.clear();
      for (const [k, entry] of before) this.#entries.set(k, entry);
    });
  }

  /** The keys, in insertion order. */
  keys(): K[] {
    return [...this.#entries.values()].map((e) => e.key.value);
  }

  /** The values, in insertion order. */
  values(): V[] {
    return [...this.#entries.values()].map((e) => e.value as V);
  }

  /** The entries as [key, value] pairs, in insertion order. */
  entries(): Array<[K, V]> {
    return [...this.#entries.values()].map((e) => [e.key.value, e.value as V]);
  }

  [Symbol.iterator](): Iterator<[K, V]> {
    return this.entries()[Symbol.iterator]();
  }

  get hasDelta(): boolean {
    if (this.#cleared || this.#removed.size > 0 || this.#added.size > 0) return true;
    for (const k of this.#changedValues) if (this.#entries.get(k)?.value.hasDelta) return true;
    return false;
  }

  delta(): CrdtDelta | undefined {
    if (!this.hasDelta) return undefined;
    const updated: ORMapEntryDelta[] = [];
    const added: ORMapEntryDelta[] = [];
    for (const k of this.#added) {
      const entry = this.#entries.get(k)!;
      added.push({ key: entry.key.any, delta: entry.value.delta() ?? entry.value.emptyDelta() });
    }
    for (const k of this.#changedValues) {
      const entry = this.#entries.get(k);
      const delta = entry && !this.#added.has(k) ? entry.value.delta() : undefined;
      if (delta) updated.push({ key: entry!.key.any, delta });
    }
    return { ormap: { cleared: this.#cleared, removed: [...this.#removed.values()].map((p) => p.any), updated, added } };
  }

  resetDelta(): void {
    for (const k of [...this.#added, ...this.#changedValues]) this.#entries.get(k)?.value.resetDelta();
    this.#cleared = false;
    this.#removed.clear();
    this.#added.clear();
    this.#changedValues.clear();
  }

  applyDelta(delta: CrdtDelta, context: DeltaContext): void {
    const d = this.deltaOf(delta, 'ormap');
    if (d.cleared) this.#entries.clear();
    for (const any of d.removed ?? []) this.#entries.delete(keyOfAny(any));
    for (const entry of [...(d.updated ?? []), ...(d.added ?? [])]) {
      if (!entry.key || !entry.delta) throw new Error('incompatible CRDT delta: an ORMap entry without a key or a delta');
      const key = unpacked(entry.key, context) as Packed<K>;
      const found = this.#entries.get(key.key);
      if (found && found.value.kind === context.create(entry.delta).kind) {
        found.value.applyDelta(entry.delta, context);
      } else {
        const value = context.create(entry.delta);
        value.applyDelta(entry.delta, context);
        this.#entries.set(key.key, { key, value: this.#owned(key.key, value) });
      }
    }
  }

  fullDelta(): CrdtDelta {
    const added = [...this.#entries.values()].map((e) => ({ key: e.key.any, delta: e.value.fullDelta() }));
    return { ormap: { added } };
  }
}
