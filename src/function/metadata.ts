/**
 * Command metadata (`cloudstate.Metadata`): an ordered list of key/value entries, string or
 * bytes valued, with keys compared case-insensitively (they are mostly HTTP headers). The proxy
 * passes request headers to actions this way; user code may attach metadata to replies,
 * forwards and side effects.
 */
import type { Metadata as ProtocolMetadata, MetadataEntry } from '../protocol/index.js';

export type MetadataValue = string | Uint8Array;

/** Mutable metadata; `toProtocol()` gives the wire shape. */
export class Metadata {
  private readonly list: Array<{ key: string; value: MetadataValue }>;

  constructor(entries: ReadonlyArray<{ key: string; value: MetadataValue }> = []) {
    this.list = entries.map((e) => ({ key: e.key, value: e.value }));
  }

  /** Metadata from the protocol message (absent → empty). */
  static fromProtocol(metadata: ProtocolMetadata | null | undefined): Metadata {
    const entries = (metadata?.entries ?? []).map((entry: MetadataEntry) => ({
      key: entry.key ?? '',
      value: entry.bytes_value != null && entry.string_value == null ? entry.bytes_value : (entry.string_value ?? ''),
    }));
    return new Metadata(entries);
  }

  /** The first value for `key`, or undefined. */
  get(key: string): MetadataValue | undefined {
    const lower = key.toLowerCase();
    return this.list.find((e) => e.key.toLowerCase() === lower)?.value;
  }

  /** Every value for `key`, in order. */
  getAll(key: string): MetadataValue[] {
    const lower = key.toLowerCase();
    return this.list.filter((e) => e.key.toLowerCase() === lower).map((e) => e.value);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Replaces every value of `key` with `value`. */
  set(key: string, value: MetadataValue): this {
    this.delete(key);
    this.list.push({ key, value });
    return this;
  }

  /** Adds a value for `key`, keeping the others. */
  add(key: string, value: MetadataValue): this {
    this.list.push({ key, value });
    return this;
  }

  delete(key: string): this {
    const lower = key.toLowerCase();
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]!.key.toLowerCase() === lower) this.list.splice(i, 1);
    return this;
  }

  get size(): number {
    return this.list.length;
  }

  /** The entries, in order. */
  entries(): ReadonlyArray<{ key: string; value: MetadataValue }> {
    return this.list;
  }

  /** The wire shape (`cloudstate.Metadata`). */
  toProtocol(): ProtocolMetadata {
    return {
      entries: this.list.map((e) =>
        typeof e.value === 'string' ? { key: e.key, string_value: e.value } : { key: e.key, bytes_value: e.value },
      ),
    };
  }
}
