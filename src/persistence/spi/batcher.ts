/**
 * Group commit for a plugin's stores, one write at a time: items submitted while a write is
 * under way queue up and go together in the next one, so concurrent callers share a write
 * (and, for synced writes, an fsync or a commit) instead of paying one each. Items submitted
 * in the same tick start together. (The journal has its own, per-id group commit above the
 * plugins: ../group-commit.ts.)
 *
 * `write` gets the items in call order and answers one outcome per item: a value, or an
 * `Error` for that item alone. When `write` throws, every item of that call rejects with it.
 *
 * With `keyOf`, a write holds at most one item per key: a later item of a key already in it
 * waits for the next write, so each key's items are written in call order, one per write.
 * `pending(key)` then tells when the key's last submitted item is done (undefined when none is
 * queued or being written), so a read can wait for its own writes.
 */
export interface BatcherOptions<I> {
  /** Items per write (default 1000). */
  readonly maxItems?: number;
  /** Approximate bytes per write (default 8 MiB; a larger single item still goes, alone). */
  readonly maxBytes?: number;
  /** The bytes an item adds to a write (default 0: only `maxItems` bounds a write). */
  readonly bytesOf?: (item: I) => number;
  /** The key of an item: at most one item per key in a write. */
  readonly keyOf?: (item: I) => string;
}

interface Queued<I, O> {
  readonly item: I;
  resolve(value: O): void;
  reject(err: unknown): void;
}

export class Batcher<I, O> {
  private queue: Queued<I, O>[] = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private readonly lastOfKey = new Map<string, Promise<void>>();
  private readonly maxItems: number;
  private readonly maxBytes: number;

  constructor(
    private readonly write: (items: I[]) => Promise<(O | Error)[]>,
    private readonly options: BatcherOptions<I> = {},
  ) {
    this.maxItems = options.maxItems ?? 1000;
    this.maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  }

  submit(item: I): Promise<O> {
    const done = new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running || this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        void this.drain();
      });
    });
    const keyOf = this.options.keyOf;
    if (keyOf) this.track(keyOf(item), done);
    return done;
  }

  /** Settles once the last item submitted with `key` was written or failed; undefined when none is queued or being written. */
  pending(key: string): Promise<void> | undefined {
    return this.lastOfKey.get(key);
  }

  /** Resolves once nothing is queued or being written. */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private track(key: string, done: Promise<unknown>): void {
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.lastOfKey.set(key, settled);
    void settled.then(() => {
      if (this.lastOfKey.get(key) === settled) this.lastOfKey.delete(key);
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const taken = this.take();
      try {
        const outcomes = await this.write(taken.map((t) => t.item));
        taken.forEach((t, i) => {
          const outcome = outcomes[i];
          if (outcome instanceof Error) t.reject(outcome);
          else t.resolve(outcome as O);
        });
      } catch (err) {
        for (const t of taken) t.reject(err);
      }
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * The next write's items: up to `maxItems` and about `maxBytes`. Unkeyed, a prefix of the
   * queue (call order is kept across writes). Keyed, one item per key: an item that does not go
   * waits, and so does every later item of its key, while other keys' items may go ahead of it.
   */
  private take(): Queued<I, O>[] {
    const { keyOf, bytesOf } = this.options;
    const taken: Queued<I, O>[] = [];
    const rest: Queued<I, O>[] = [];
    const held = new Set<string>();
    let bytes = 0;
    for (const [i, q] of this.queue.entries()) {
      const size = bytesOf?.(q.item) ?? 0;
      const fits = taken.length < this.maxItems && (taken.length === 0 || bytes + size <= this.maxBytes);
      if (!keyOf) {
        if (!fits) {
          rest.push(...this.queue.slice(i));
          break;
        }
        bytes += size;
        taken.push(q);
        continue;
      }
      const key = keyOf(q.item);
      if (fits && !held.has(key)) {
        bytes += size;
        taken.push(q);
      } else {
        rest.push(q);
      }
      held.add(key);
    }
    this.queue = rest;
    return taken;
  }
}
