/**
 * One call the interceptor saw between the proxy and the user function, and the expectations a
 * test makes about it. Each direction is a queue of what happened, in order: messages, then a
 * completion (half-close / OK status) or an error (cancel / error status). `in` is proxy → user
 * function, `out` is user function → proxy; the two are read independently, like the
 * reference TCK's in/out probes, because their relative order is a race on the wire.
 *
 * Owns the recording and the expectation DSL; forwarding lives in ./interceptor.ts.
 */
import { AsyncQueue, Chain, DEFAULT_TIMEOUT_MS } from './async-queue.js';
import { assertSameMessage, canonical, canonicalBytes, decode, show } from './codec.js';

export type ConnectionKind =
  | 'eventSourced'
  | 'valueEntity'
  | 'crdt'
  | 'actionUnary'
  | 'actionStreamedIn'
  | 'actionStreamedOut'
  | 'actionStreamed';

/** What happened in one direction of a call. */
export type StreamEvent =
  | { readonly kind: 'message'; readonly bytes: Uint8Array }
  | { readonly kind: 'complete' }
  | { readonly kind: 'error'; readonly code: number; readonly details: string };

/** One direction of a call: its events, recorded in order; nothing after the end. */
export class StreamSide {
  readonly events = new AsyncQueue<StreamEvent>();
  #ended = false;

  constructor(
    readonly name: string,
    readonly typeName: string,
  ) {}

  message(bytes: Uint8Array): void {
    if (!this.#ended) this.events.push({ kind: 'message', bytes });
  }
  complete(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.events.push({ kind: 'complete' });
  }
  error(status: { code: number; details: string }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.events.push({ kind: 'error', ...status });
  }

  describe(event: StreamEvent): string {
    if (event.kind === 'message') return `${this.name} message ${show(canonicalBytes(this.typeName, event.bytes))}`;
    if (event.kind === 'complete') return `${this.name} completion`;
    return `${this.name} error ${event.code} ${JSON.stringify(event.details)}`;
  }
}

export class InterceptedConnection {
  readonly in: StreamSide;
  readonly out: StreamSide;

  constructor(
    /** A `ConnectionKind` for the interceptor's connections, or any label for a client's calls. */
    readonly kind: ConnectionKind | (string & {}),
    inType: string,
    outType: string,
    /** Top-level fields of incoming messages left out of comparisons (action commands: `metadata`). */
    readonly ignoredIncoming: readonly string[] = [],
  ) {
    this.in = new StreamSide('incoming', inType);
    this.out = new StreamSide('outgoing', outType);
  }

  describe(): string {
    return `${this.kind} connection`;
  }

  /** The next incoming message, decoded (int64 as numbers); fails on anything else. */
  async nextIncoming(ms = DEFAULT_TIMEOUT_MS): Promise<Record<string, any>> {
    return this.#nextMessage(this.in, ms);
  }

  /** The next outgoing message, decoded (int64 as numbers); fails on anything else. */
  async nextOutgoing(ms = DEFAULT_TIMEOUT_MS): Promise<Record<string, any>> {
    return this.#nextMessage(this.out, ms);
  }

  async #nextMessage(side: StreamSide, ms: number): Promise<Record<string, any>> {
    const event = await side.events.next(`the next ${side.name} message on the ${this.describe()}`, ms);
    if (event.kind !== 'message') throw new Error(`${this.describe()}: expected an ${side.name} message, found ${side.describe(event)}`);
    return decode(side.typeName, event.bytes);
  }

  /** Asserts the next event on `side` is `expected` (a plain object of the side's type). */
  async expectMessage(side: StreamSide, expected: object, ms = DEFAULT_TIMEOUT_MS): Promise<void> {
    const want = () => show(canonical(side.typeName, expected));
    const event = await side.events.next(`${side.name} ${side.typeName} on the ${this.describe()}`, ms).catch((e: Error) => {
      throw new Error(`${e.message}: expected ${want()}`);
    });
    if (event.kind !== 'message') {
      throw new Error(`${this.describe()}: expected ${side.name} ${side.typeName} ${want()}, found ${side.describe(event)}`);
    }
    assertSameMessage(`${this.describe()} (${side.name})`, side.typeName, expected, canonicalBytes(side.typeName, event.bytes), side === this.in ? this.ignoredIncoming : []);
  }

  /** Asserts the next event on `side` is its normal end. */
  async expectComplete(side: StreamSide, ms = DEFAULT_TIMEOUT_MS): Promise<void> {
    const event = await side.events.next(`the ${side.name} completion of the ${this.describe()}`, ms);
    if (event.kind !== 'complete') throw new Error(`${this.describe()}: expected the ${side.name} completion, found ${side.describe(event)}`);
  }

  /** Asserts the next event on `side` is an error (a cancel or an error status); returns it. */
  async expectError(side: StreamSide, ms = DEFAULT_TIMEOUT_MS): Promise<{ code: number; details: string }> {
    const event = await side.events.next(`an ${side.name} error on the ${this.describe()}`, ms);
    if (event.kind !== 'error') throw new Error(`${this.describe()}: expected an ${side.name} error, found ${side.describe(event)}`);
    return event;
  }

  /** Asserts the next event on `side` ends it, normally or not (a completion, a cancel or an error). */
  async expectEnd(side: StreamSide, ms = DEFAULT_TIMEOUT_MS): Promise<void> {
    const event = await side.events.next(`the end of the ${side.name} side of the ${this.describe()}`, ms);
    if (event.kind === 'message') throw new Error(`${this.describe()}: expected the ${side.name} side to end, found ${side.describe(event)}`);
  }

  /**
   * Takes the messages recorded but never taken by a test and describes them (so that one
   * test's leftovers are reported once, not again after every later test).
   */
  takeUnconsumedMessages(): string[] {
    return [this.in, this.out].flatMap((side) => {
      const pending = side.events.pending();
      if (!pending.some((e) => e.kind === 'message')) return [];
      return side.events.drain().filter((e) => e.kind === 'message').map((e) => side.describe(e));
    });
  }

  /** A chain of expectations on this connection (see ConnectionChain). */
  get expect(): ConnectionChain {
    return new ConnectionChain(this);
  }

  expectIncoming(message: object, ms?: number): ConnectionChain {
    return this.expect.expectIncoming(message, ms);
  }
  expectOutgoing(message: object, ms?: number): ConnectionChain {
    return this.expect.expectOutgoing(message, ms);
  }
  expectInComplete(ms?: number): ConnectionChain {
    return this.expect.expectInComplete(ms);
  }
  expectOutComplete(ms?: number): ConnectionChain {
    return this.expect.expectOutComplete(ms);
  }
  expectClosed(ms?: number): ConnectionChain {
    return this.expect.expectClosed(ms);
  }
}

/**
 * Expectations on one intercepted connection, run in order when awaited; awaiting gives the
 * connection back for later expectations.
 */
export class ConnectionChain extends Chain<InterceptedConnection> {
  /** The proxy sent `message` (an `…StreamIn` / `ActionCommand` plain object) to the user function. */
  expectIncoming(message: object, ms?: number): this {
    return this.step((c) => c.expectMessage(c.in, message, ms));
  }
  /** The user function sent `message` (an `…StreamOut` / `ActionResponse`) to the proxy. */
  expectOutgoing(message: object, ms?: number): this {
    return this.step((c) => c.expectMessage(c.out, message, ms));
  }
  /** The proxy half-closed its side. */
  expectInComplete(ms?: number): this {
    return this.step((c) => c.expectComplete(c.in, ms));
  }
  /** The user function completed its side. */
  expectOutComplete(ms?: number): this {
    return this.step((c) => c.expectComplete(c.out, ms));
  }
  /** Both sides ended normally (an entity passivated, a streamed call finished). */
  expectClosed(ms?: number): this {
    return this.step(async (c) => {
      await c.expectComplete(c.in, ms);
      await c.expectComplete(c.out, ms);
    });
  }
  /** The proxy ended its side, by a half-close or a cancel. */
  expectInEnd(ms?: number): this {
    return this.step((c) => c.expectEnd(c.in, ms));
  }
  /** The proxy cancelled the call (or it failed) on its side. */
  expectInError(ms?: number): this {
    return this.step((c) => c.expectError(c.in, ms));
  }
}
