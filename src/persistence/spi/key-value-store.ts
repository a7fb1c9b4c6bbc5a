/**
 * The key-value store SPI, for value entities (after Akka's DurableStateStore). Each key holds
 * one serialized value and a revision that goes up by one on every upsert; an upsert or delete
 * that states the revision it expects fails with `RevisionConflictError` when another writer
 * moved it on, which is how storage enforces a single writer for value entities too.
 */

export interface StoredValue {
  readonly payload: Uint8Array;
  readonly manifest: string;
  /** 1 after the first upsert, then up by one per upsert; a delete removes it (the next upsert is 1 again). */
  readonly revision: number;
}

export interface KeyValueStore {
  /** The value under `key`, or undefined when there is none (never stored, or deleted). */
  get(key: string): Promise<StoredValue | undefined>;
  /**
   * Stores `payload` under `key` and resolves to the new revision. With `expectedRevision`
   * (0 = the key must hold no value), fails with `RevisionConflictError` unless the stored
   * revision is that one.
   */
  upsert(key: string, value: { payload: Uint8Array; manifest: string }, expectedRevision?: number): Promise<number>;
  /** Removes the value under `key`; same `expectedRevision` rule as `upsert`. */
  delete(key: string, expectedRevision?: number): Promise<void>;
  close(): Promise<void>;
}

/** An upsert or delete waiting in a plugin's batch (for stores that group their writes, see `Batcher`). */
export interface KeyValueChange {
  readonly key: string;
  /** The new value, or undefined for a delete. */
  readonly value: { payload: Uint8Array; manifest: string } | undefined;
  readonly expectedRevision: number | undefined;
}

/** About what a change adds to a write (its key, manifest and payload): a `Batcher`'s `bytesOf`. */
export function keyValueChangeBytes(c: KeyValueChange): number {
  return c.key.length + (c.value ? c.value.manifest.length + c.value.payload.byteLength : 0);
}
