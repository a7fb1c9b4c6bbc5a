/**
 * A FIFO of things that happen asynchronously (a connection opened, a message passed, a stream
 * closed), read by tests that await the next one with a deadline. The TCK's version of a test
 * probe: what arrives is kept until a test takes it, so the order of arrival is what a test sees.
 *
 * Owns waiting and timing out only; what the items mean belongs to the interceptor and the
 * protocol client.
 */

/** Thrown when nothing arrives before the deadline. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = 'TimeoutError';
  }
}

/** How long an expectation waits by default: generous, the machine is shared and slow to wake. */
export const DEFAULT_TIMEOUT_MS = 5_000;

export class AsyncQueue<T> {
  readonly #items: T[] = [];
  readonly #waiters: Array<(item: T) => void> = [];

  /** Adds an item; the oldest waiter, if any, gets it at once. */
  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  /** The items nobody took yet, oldest first (without taking them). */
  pending(): readonly T[] {
    return [...this.#items];
  }

  /** Takes every item nobody took yet. */
  drain(): T[] {
    return this.#items.splice(0);
  }

  /** The next item, or a TimeoutError naming `what` after `ms` milliseconds. */
  next(what: string, ms = DEFAULT_TIMEOUT_MS): Promise<T> {
    const ready = this.#items.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise<T>((resolve, reject) => {
      const waiter = (item: T) => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new TimeoutError(what, ms));
      }, ms);
      this.#waiters.push(waiter);
    });
  }
}

/**
 * A fluent chain of asynchronous expectations that can be awaited: each step runs after the
 * previous one succeeded, and awaiting the chain gives the subject (a connection) back, so a
 * test can continue with it later. The first failing step rejects the chain.
 */
export class Chain<S extends object> implements PromiseLike<S> {
  #promise: Promise<S>;

  constructor(subject: S | Promise<S>) {
    this.#promise = Promise.resolve(subject);
  }

  /** Appends a step; `this` for chaining. */
  protected step(run: (subject: S) => unknown): this {
    this.#promise = this.#promise.then(async (subject) => {
      await run(subject);
      return subject;
    });
    return this;
  }

  then<A = S, B = never>(
    onFulfilled?: ((value: S) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.#promise.then(onFulfilled, onRejected);
  }
}
