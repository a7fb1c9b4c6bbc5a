/**
 * One LevelDB write at a time for many callers: items submitted while a write is under way
 * queue up and go together in the next one, so concurrent callers share a write (and, for
 * synced writes, an fsync) instead of paying one each. Items submitted in the same tick start
 * together. The journal has its own group commit (../../group-commit.ts); this one serves the
 * snapshot and key-value stores, whose writes have no per-id ordering to keep beyond call order.
 *
 * `write` gets the items in call order and answers one outcome per item: a value, or an
 * `Error` for that item alone. When `write` throws, every item of that call rejects with it.
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve(value: O): void; reject(err: unknown): void }[] = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly write: (items: I[]) => Promise<(O | Error)[]>,
    private readonly maxItems = 1000,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running || this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        void this.drain();
      });
    });
  }

  /** Resolves once nothing is queued or being written. */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const taken = this.queue.splice(0, this.maxItems);
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
}
