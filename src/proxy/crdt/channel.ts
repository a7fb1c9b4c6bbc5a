/**
 * A one-reader queue that a producer pushes to and a consumer iterates: the messages of one
 * streamed CRDT command on their way to the client. Pushes after the end are dropped; the
 * consumer stopping early (`return()` on its iterator) runs `onAbandon` once, so the entity
 * learns that the client went away.
 */

export class Channel<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private error: unknown;
  private abandoned = false;

  constructor(private readonly onAbandon: () => void = () => undefined) {}

  /** True once ended (by the producer, a failure, or the consumer going away). */
  get closed(): boolean {
    return this.ended || this.abandoned;
  }

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake();
  }

  /** Ends the stream after the items already pushed. */
  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.wake();
  }

  /** Ends the stream with an error, thrown to the consumer after the items already pushed. */
  fail(error: unknown): void {
    if (this.closed) return;
    this.error = error;
    this.ended = true;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        const item = this.items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.ended) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      if (!this.ended && !this.abandoned) {
        this.abandoned = true;
        this.onAbandon();
      }
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
