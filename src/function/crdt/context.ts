/**
 * What CRDT handlers get: the context of a command (`CrdtCommandContext`: the state, delete,
 * write consistency, and for server-streamed commands the callbacks that keep the call open),
 * the context of a message streamed after a state change (`StreamedMessageContext`: end the
 * stream, side effects, forward) and the context of a cancelled streamed call
 * (`StreamCancelledContext`: change the state, side effects). They collect what the handler
 * asks for; ./instance.ts turns it into protocol messages.
 */
import type { CrdtWriteConsistency } from '../../protocol/index.js';
import { CommandContext, type ServiceRegistry } from '../context.js';
import type { Metadata } from '../metadata.js';
import { CrdtState } from './state.js';

/** How many replicas must have an update before the proxy answers: this node, a majority, all. */
export type WriteConsistency = 'local' | 'majority' | 'all';

/** The protocol's `CrdtWriteConsistency` of a `WriteConsistency`. */
export function writeConsistencyValue(consistency: WriteConsistency): CrdtWriteConsistency {
  switch (consistency) {
    case 'local': return 0;
    case 'majority': return 1;
    case 'all': return 2;
    default: throw new Error(`unknown write consistency ${String(consistency)} (local, majority or all)`);
  }
}

/** Called after every change of the state while a streamed call is open: returns the message to stream (or nothing). */
export type StateChangeHandler<S extends CrdtState = CrdtState> = (state: S, ctx: StreamedMessageContext) => unknown;
/** Called when the client cancels a streamed call; may change the state and ask for side effects. */
export type StreamCancelHandler<S extends CrdtState = CrdtState> = (state: S | undefined, ctx: StreamCancelledContext<S>) => unknown;

/** @internal Where a context reads and sets the entity's state. */
export interface StateHolder {
  state: CrdtState | undefined;
  setState(state: CrdtState): void;
}

/** What changes the state and its replication: shared by commands and cancellations. */
abstract class StateContext<S extends CrdtState> extends CommandContext {
  /** @internal */
  deleted = false;
  /** The write consistency of this update (default `local`). */
  writeConsistency: WriteConsistency = 'local';

  constructor(
    /** @internal */
    protected readonly holder: StateHolder,
    /** The entity's id. */
    readonly entityId: string,
    /** The id of the command (for a cancellation: of the streamed command). */
    readonly commandId: number,
    commandName: string,
    metadata: Metadata,
    registry: ServiceRegistry,
  ) {
    super(commandName, metadata, registry);
  }

  /** The entity's CRDT; undefined until it is set (or received from the proxy). */
  get state(): S | undefined {
    return this.holder.state as S | undefined;
  }

  /** Sets the entity's CRDT, once: it cannot be replaced by another (only changed, or deleted). */
  set state(state: S | undefined) {
    if (!(state instanceof CrdtState)) throw new Error('the state of a CRDT entity must be a CRDT (GCounter, ORSet, LWWRegister, …)');
    if (this.holder.state === state) return;
    if (this.holder.state !== undefined) throw new Error(`the state of this entity is already set (a ${this.holder.state.kind}); change it instead of replacing it`);
    this.holder.setState(state);
  }

  /** Deletes the CRDT everywhere, when the command succeeds; the proxy then ends this entity's stream. */
  delete(): void {
    this.deleted = true;
  }
}

/** The context of a CRDT command. One per command; not to be kept after the handler returns. */
export class CrdtCommandContext<S extends CrdtState = CrdtState> extends StateContext<S> {
  /** @internal */
  stateChangeHandler: StateChangeHandler<S> | undefined;
  /** @internal */
  streamCancelHandler: StreamCancelHandler<S> | undefined;

  constructor(
    holder: StateHolder,
    entityId: string,
    commandId: number,
    commandName: string,
    metadata: Metadata,
    registry: ServiceRegistry,
    /** Whether the command is a server-streamed call, which may stay open (`onStateChange`, `onStreamCancel`). */
    readonly streamed: boolean,
  ) {
    super(holder, entityId, commandId, commandName, metadata, registry);
  }

  /**
   * Keeps a streamed call open: after every later change of the state (by a command, another
   * node or a cancellation) `handler(state, ctx)` is called, and what it returns is sent to the
   * client (nothing when it returns undefined). `ctx.endStream()` ends the call.
   */
  set onStateChange(handler: StateChangeHandler<S>) {
    this.requireStreamed('onStateChange');
    this.stateChangeHandler = handler;
  }

  /** Keeps a streamed call open, and calls `handler` when the client cancels it. */
  set onStreamCancel(handler: StreamCancelHandler<S>) {
    this.requireStreamed('onStreamCancel');
    this.streamCancelHandler = handler;
  }

  private requireStreamed(what: string): void {
    if (!this.streamed) throw new Error(`${what}: command ${this.commandName} is not a streamed call (its method must be server-streaming and called as such)`);
  }
}

/** The context of a message streamed after a state change. */
export class StreamedMessageContext extends CommandContext {
  /** @internal */
  ended = false;

  constructor(
    /** The entity's id. */
    readonly entityId: string,
    /** The id of the streamed command. */
    readonly commandId: number,
    commandName: string,
    metadata: Metadata,
    registry: ServiceRegistry,
  ) {
    super(commandName, metadata, registry);
  }

  /** Ends the streamed call after this message (if any). */
  endStream(): void {
    this.ended = true;
  }
}

/** The context of a cancelled streamed call: the state may be changed (e.g. a presence vote withdrawn). */
export class StreamCancelledContext<S extends CrdtState = CrdtState> extends StateContext<S> {
  /** A cancelled call cannot be answered. */
  override forward(): void {
    throw new Error('a cancelled streamed call cannot be forwarded');
  }
}
