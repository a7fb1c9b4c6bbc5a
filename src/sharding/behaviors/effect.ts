/**
 * Effects: what a command handler decided, as a value (after Akka Typed's `Effect`). A handler
 * never writes to storage itself; it returns an `Effect` and the behaviour carries it out:
 * persist first, then advance the state, then run the side effects, then compute the reply.
 * This module owns the vocabulary and the immutable builder; it must not touch storage, and
 * it knows nothing about how each behaviour stores what it persists.
 *
 * One `Effect` type serves both durable behaviours: for an event-sourced entity `persist`
 * carries events, for a durable-state entity it carries the new state. `Effect.delete()` is
 * typed so that only a durable-state handler can return it.
 */

declare const deletion: unique symbol;
/** The type marker of `Effect.delete()`: an event-sourced handler (whose events are not this) cannot return it. */
export type Deletion = typeof deletion;

/** What the behaviour is to do with storage, decided by the handler. */
export type EffectAction<E> =
  /** Store `value` (events: one event or an array of them; durable state: the new state, as is). */
  | { readonly kind: 'persist'; readonly value: E | readonly E[] }
  /** Store nothing. */
  | { readonly kind: 'none' }
  /** Durable state only: remove the stored state (the entity is back to its empty state). */
  | { readonly kind: 'delete' }
  /** The command fails with `CommandFailedError(message)`; nothing is stored. */
  | { readonly kind: 'fail'; readonly message: string };

/** A side effect, run once the action is durable, with the state after it. */
export type SideEffect<S> = (state: S) => void | Promise<void>;

/**
 * A command handler's decision. Immutable: each `then…` returns a new effect.
 *
 * - `E`: what `persist` carries (events, or the state for durable state).
 * - `S`: the entity's state, as the side effects and the reply see it after the action.
 * - `R`: the reply (`undefined` unless `thenReply` says otherwise).
 *
 * Order once the action is durable: the state advances, the `thenRun` side effects run in the
 * order they were added (each awaited), then the reply is computed, then (with `thenStop`)
 * the instance asks to be passivated.
 *
 * Typing: the factories' reply type is what they reply (`undefined` for `persist`, `none`,
 * `stop`), never widened to fit the handler. The state type of the callbacks is inferred from
 * the handler's declared return type for the LAST call of a chain only; for earlier calls
 * give it (`Effect.persist<Event, State>(e).thenRun(...)`) or annotate the parameter, or put
 * `thenReply` last (`Effect.persist(e).thenStop().thenReply((s) => ...)`: the order of the
 * calls does not change the order of execution).
 */
export class Effect<E, S, R> {
  private constructor(
    readonly action: EffectAction<E>,
    readonly sideEffects: readonly SideEffect<S>[],
    readonly replyWith: ((state: S) => R) | undefined,
    readonly stopAfter: boolean,
  ) {}

  /**
   * Persist one event or several (an array: one atomic write with consecutive seqNrs), or for
   * a durable-state entity the new state (stored as given, even if it is an array). An empty
   * array persists nothing. Events that are themselves arrays must be passed inside an array.
   */
  static persist<const E, S = unknown>(value: E | readonly E[]): Effect<E, S, undefined> {
    return new Effect<E, S, undefined>({ kind: 'persist', value }, [], undefined, false);
  }

  /** Persist nothing and reply `undefined`. */
  static none<S = unknown>(): Effect<never, S, undefined> {
    return new Effect<never, S, undefined>({ kind: 'none' }, [], undefined, false);
  }

  /** Persist nothing and reply `reply`. */
  static reply<R, S = unknown>(reply: R): Effect<never, S, R> {
    return new Effect<never, S, R>({ kind: 'none' }, [], () => reply, false);
  }

  /** The command fails with `CommandFailedError(message)`; nothing is persisted; the entity goes on. */
  static fail<S = unknown>(message: string): Effect<never, S, never> {
    return new Effect<never, S, never>({ kind: 'fail', message }, [], undefined, false);
  }

  /** Persist nothing, reply `undefined`, then ask to be passivated (see `thenStop`). */
  static stop<S = unknown>(): Effect<never, S, undefined> {
    return new Effect<never, S, undefined>({ kind: 'none' }, [], undefined, true);
  }

  /** Durable state only: delete the stored state; the entity's state becomes its empty state. */
  static delete<S = unknown>(): Effect<Deletion, S, undefined> {
    return new Effect<Deletion, S, undefined>({ kind: 'delete' }, [], undefined, false);
  }

  /** The reply, computed from the state after the action (replaces an earlier `thenReply`). */
  thenReply<R2, S2 extends S = S>(reply: (state: S2) => R2): Effect<E, S2, R2> {
    return new Effect<E, S2, R2>(this.action, this.sideEffects as readonly SideEffect<S2>[], reply, this.stopAfter);
  }

  /**
   * A side effect after the action is durable (logging, notifying another entity). If it
   * throws, the command fails with `CommandFailedError`, but what was persisted stays persisted
   * and the entity goes on with its new state.
   */
  thenRun<S2 extends S = S>(run: SideEffect<S2>): Effect<E, S2, R> {
    const sideEffects = [...(this.sideEffects as readonly SideEffect<S2>[]), run];
    return new Effect<E, S2, R>(this.action, sideEffects, this.replyWith as ((state: S2) => R) | undefined, this.stopAfter);
  }

  /**
   * After the reply, the instance asks to be passivated: its `wantsStop` becomes true (see
   * `BehaviorInstance.wantsStop`).
   */
  thenStop(): Effect<E, S, R> {
    return new Effect<E, S, R>(this.action, this.sideEffects, this.replyWith, true);
  }

  /** The events to persist (event-sourced reading of `persist`): always an array. */
  static eventsOf<E>(action: Extract<EffectAction<E>, { kind: 'persist' }>): readonly E[] {
    return Array.isArray(action.value) ? (action.value as readonly E[]) : [action.value as E];
  }
}
