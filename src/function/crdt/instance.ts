/**
 * One CRDT entity instance on one protocol stream: its CRDT replica, the streamed calls that
 * stay open, and the answers to each message from the proxy:
 *
 * - `init` (with the current state as a delta, if any) creates the instance;
 * - `command` runs the handler and answers a `CrdtReply`: client action, side effects, a state
 *   action (the local delta, or delete, with the write consistency) and `streamed` when the call
 *   stays open; then, when the state changed, a `CrdtStreamedMessage` for every other open call
 *   whose `onStateChange` has something to say;
 * - `delta` (a change from another node) is applied, then the open calls are told;
 * - `delete`: the CRDT was deleted elsewhere; the state is gone and open calls are dropped;
 * - `stream_cancelled`: the call's `onStreamCancel` runs, answered by a
 *   `CrdtStreamCancelledResponse` (with its state action and side effects), then open calls are told.
 *
 * A failed command (`ctx.fail`) answers `client_action.failure` and changes nothing: the state is
 * rolled back to what it was before the command. Any other exception fails the stream.
 */
import {
  int64ToNumber,
  type Command,
  type CrdtDelta,
  type CrdtInit,
  type CrdtReply,
  type CrdtStateAction,
  type CrdtStreamCancelledResponse,
  type CrdtStreamedMessage,
  type CrdtStreamOut,
  type StreamCancelled,
} from '../../protocol/index.js';
import { CommandFailure, replyPayload, type ServiceRegistry } from '../context.js';
import { Metadata } from '../metadata.js';
import {
  CrdtCommandContext,
  StreamCancelledContext,
  StreamedMessageContext,
  writeConsistencyValue,
  type StateChangeHandler,
  type StreamCancelHandler,
  type WriteConsistency,
} from './context.js';
import type { CrdtEntity } from './entity.js';
import { crdtFromDelta, deltaContext } from './factory.js';
import type { CrdtState, DeltaContext, Undo } from './state.js';

/** A streamed call kept open. */
interface Subscription<S extends CrdtState> {
  readonly commandId: number;
  readonly commandName: string;
  readonly metadata: Metadata;
  readonly onStateChange: StateChangeHandler<S> | undefined;
  readonly onStreamCancel: StreamCancelHandler<S> | undefined;
}

/** One CRDT entity instance. The server feeds it one message at a time; each answer is a list of messages to write. */
export class CrdtInstance<S extends CrdtState> {
  state: S | undefined;
  readonly entityId: string;
  readonly #subscriptions = new Map<number, Subscription<S>>();
  readonly #deltaContext: DeltaContext;

  constructor(
    readonly entity: CrdtEntity<S>,
    init: CrdtInit,
    private readonly registry: ServiceRegistry,
  ) {
    this.entityId = init.entity_id ?? '';
    this.#deltaContext = deltaContext((any) => entity.anySupport.unpack(any));
    if (init.delta) this.setState(crdtFromDelta(init.delta, this.#deltaContext) as S);
  }

  /** Sets the state object (from the proxy, `ctx.state = …`, a rollback) and tells the entity's observer. */
  setState(state: CrdtState): void {
    this.state = state as S;
    this.entity.options.onStateSet?.(this.state, this.entityId);
  }

  /** Handles a command. */
  async command(command: Command): Promise<CrdtStreamOut[]> {
    const commandId = int64ToNumber(command.id);
    const name = command.name ?? '';
    const failure = (description: string): CrdtStreamOut[] => [
      { reply: { command_id: commandId, client_action: { failure: { command_id: commandId, description } } } },
    ];
    const method = this.entity.service.methods[name];
    const handler = this.entity.options.commandHandlers[name];
    if (!method) return failure(`unknown command ${name} for ${this.entity.serviceName}`);
    if (!handler) return failure(`command ${name} is not implemented by ${this.entity.serviceName}`);
    const metadata = Metadata.fromProtocol(command.metadata);
    const before = this.state;
    const watch = this.#watch(before);
    const ctx = new CrdtCommandContext<S>(this, this.entityId, commandId, name, metadata, this.registry, command.streamed === true);
    try {
      const payload = method.resolvedRequestType!.decode(command.payload?.value ?? new Uint8Array(0));
      const result = await handler(payload, ctx);
      if (ctx.forwarded && result !== undefined) throw new Error(`command ${name} both returned a reply and forwarded`);
      const reply: CrdtReply = { command_id: commandId, side_effects: ctx.sideEffects };
      if (ctx.forwarded) reply.client_action = { forward: ctx.forwarded };
      else if (result !== undefined) reply.client_action = { reply: { payload: replyPayload(method, result) } };
      const stateAction = this.#stateAction(ctx.deleted, ctx.writeConsistency);
      if (stateAction) reply.state_action = stateAction;
      const keepOpen = ctx.streamed && !ctx.deleted && (ctx.stateChangeHandler !== undefined || ctx.streamCancelHandler !== undefined);
      if (keepOpen) reply.streamed = true;
      const out: CrdtStreamOut[] = [{ reply }];
      if (ctx.deleted) this.#deleted();
      else if (stateAction) out.push(...(await this.#changed()));
      if (keepOpen) {
        this.#subscriptions.set(commandId, {
          commandId,
          commandName: name,
          metadata,
          onStateChange: ctx.stateChangeHandler,
          onStreamCancel: ctx.streamCancelHandler,
        });
      }
      return out;
    } catch (error) {
      this.#rollback(before, watch.undos);
      if (error instanceof CommandFailure) return failure(error.description);
      return [{ failure: { command_id: commandId, description: `Unexpected error in ${this.entity.serviceName}.${name}: ${messageOf(error)}` } }];
    } finally {
      watch.stop();
    }
  }

  /** Applies a change replicated from another node. */
  async delta(delta: CrdtDelta): Promise<CrdtStreamOut[]> {
    if (this.state) this.state.applyDelta(delta, this.#deltaContext);
    else this.setState(crdtFromDelta(delta, this.#deltaContext));
    return this.#changed();
  }

  /** The CRDT was deleted (elsewhere): no state, no open calls. */
  deleted(): CrdtStreamOut[] {
    this.#deleted();
    return [];
  }

  /** The client cancelled the streamed call `id`. */
  async streamCancelled(cancelled: StreamCancelled): Promise<CrdtStreamOut[]> {
    const commandId = int64ToNumber(cancelled.id);
    const subscription = this.#subscriptions.get(commandId);
    this.#subscriptions.delete(commandId);
    const response: CrdtStreamCancelledResponse = { command_id: commandId, side_effects: [] };
    if (subscription?.onStreamCancel) {
      const before = this.state;
      const watch = this.#watch(before);
      const ctx = new StreamCancelledContext<S>(this, this.entityId, commandId, subscription.commandName, subscription.metadata, this.registry);
      try {
        await subscription.onStreamCancel(this.state, ctx);
        response.side_effects = ctx.sideEffects;
        const stateAction = this.#stateAction(ctx.deleted, ctx.writeConsistency);
        if (stateAction) response.state_action = stateAction;
        if (ctx.deleted) this.#deleted();
      } catch (error) {
        this.#rollback(before, watch.undos);
        if (!(error instanceof CommandFailure)) throw error;
        // A failed cancellation handler changes nothing; there is no client left to tell.
      } finally {
        watch.stop();
      }
    }
    const out: CrdtStreamOut[] = [{ stream_cancelled_response: response }];
    if (response.state_action?.update) out.push(...(await this.#changed()));
    return out;
  }

  /** The state action for the local changes (or the delete), taking the delta. */
  #stateAction(deleted: boolean, consistency: WriteConsistency): CrdtStateAction | undefined {
    const write_consistency = writeConsistencyValue(consistency);
    if (deleted) return { delete: {}, write_consistency };
    const delta = this.state?.delta();
    if (!delta) return undefined;
    this.state!.resetDelta();
    return { update: delta, write_consistency };
  }

  /** After a change: the entity's observer, then a streamed message per open call with something to say. */
  async #changed(): Promise<CrdtStreamOut[]> {
    const state = this.state;
    if (!state) return [];
    this.entity.options.onStateChange?.(state, this.entityId);
    const out: CrdtStreamOut[] = [];
    for (const subscription of [...this.#subscriptions.values()]) {
      if (!subscription.onStateChange) continue;
      const message = await this.#streamedMessage(subscription, state);
      if (message) out.push({ streamed_message: message });
    }
    return out;
  }

  async #streamedMessage(subscription: Subscription<S>, state: S): Promise<CrdtStreamedMessage | undefined> {
    const { commandId, commandName } = subscription;
    const ctx = new StreamedMessageContext(this.entityId, commandId, commandName, subscription.metadata, this.registry);
    const message: CrdtStreamedMessage = { command_id: commandId, side_effects: [] };
    try {
      const result = await subscription.onStateChange!(state, ctx);
      if (ctx.forwarded && result !== undefined) throw new Error(`streamed ${commandName} both returned a message and forwarded`);
      message.side_effects = ctx.sideEffects;
      if (ctx.forwarded) message.client_action = { forward: ctx.forwarded };
      else if (result !== undefined) message.client_action = { reply: { payload: replyPayload(this.entity.service.methods[commandName]!, result) } };
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      message.client_action = { failure: { command_id: commandId, description: error.description } };
      ctx.endStream();
    }
    if (ctx.ended) {
      message.end_stream = true;
      this.#subscriptions.delete(commandId);
    }
    const empty = !message.client_action && message.side_effects!.length === 0 && !message.end_stream;
    return empty ? undefined : message;
  }

  /**
   * Keeps the undo log of the state a handler starts with (nested values included: an ORMap
   * passes its values' changes on), so that rolling back costs what the handler changed, not
   * the size of the state, and a handler that succeeds pays for no copy.
   */
  #watch(state: S | undefined): { readonly undos: Undo[]; stop(): void } {
    const undos: Undo[] = [];
    state?.onChange((undo) => undos.push(undo));
    return { undos, stop: () => state?.onChange(undefined) };
  }

  /**
   * Puts the state back as it was before a failed handler: `before`, with the handler's changes
   * to it undone, newest first, and its delta dropped (a handler starts with none: every reply
   * takes it). Tells the entity's observer when anything changed.
   */
  #rollback(before: S | undefined, undos: readonly Undo[]): void {
    if (undos.length === 0 && this.state === before) return; // nothing changed
    for (let i = undos.length - 1; i >= 0; i--) undos[i]!();
    if (before === undefined) {
      this.state = undefined;
      return;
    }
    before.resetDelta();
    this.setState(before);
  }

  #deleted(): void {
    this.state = undefined;
    this.#subscriptions.clear();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
