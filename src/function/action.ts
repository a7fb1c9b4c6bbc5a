/**
 * Actions (stateless functions): the user-facing `Action` and the logic of its four call shapes
 * (`cloudstate.action.ActionProtocol`): unary, streamed in (client streaming), streamed out
 * (server streaming) and streamed (bidi). Streamed-in and streamed calls start with a header
 * message (service name, command name, metadata, no payload); later messages carry payloads.
 *
 * Unary and streamed-in handlers answer once: by returning the reply, `ctx.forward`, `ctx.fail`,
 * or nothing (side effects only). Streamed-out and streamed handlers send any number of
 * responses through their context (`reply`, `forward`, `fail`, `noReply`), or yield replies from
 * an async generator; the stream ends when the handler is done (or on `ctx.end()`).
 * Unlike entities, a failed action keeps its side effects (the TCK expects them).
 */
import { EntityType, type ActionCommand, type ActionResponse, type Entity as ProtocolEntity, type SideEffect } from '../protocol/index.js';
import { CommandContext, CommandFailure, replyPayload, type ServiceRegistry } from './context.js';
import { Entity, type EntityOptions } from './entity.js';
import { Metadata } from './metadata.js';
import { ANY_TYPE_NAME, protobuf, TYPE_URL_PREFIX } from '../protocol/index.js';
import { fullNameOf } from './any-support.js';

const ANY_TYPE_URL = `${TYPE_URL_PREFIX}${ANY_TYPE_NAME}`;

/* eslint-disable @typescript-eslint/no-explicit-any */
/** Unary: `(message, ctx) => reply | undefined`. */
export type UnaryActionHandler = (message: any, ctx: ActionContext) => unknown;
/** Streamed in: `(messages, ctx) => reply | undefined`, after consuming `messages`. */
export type StreamedInActionHandler = (messages: AsyncIterable<any>, ctx: ActionContext) => unknown;
/** Streamed out: sends through `ctx`, or returns an (async) iterable of replies; the stream ends when it is done. */
export type StreamedOutActionHandler = (message: any, ctx: StreamedActionContext) => unknown;
/** Streamed (bidi): like streamed out, with the incoming messages. */
export type StreamedActionHandler = (messages: AsyncIterable<any>, ctx: StreamedActionContext) => unknown;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Any action handler; its shape must match the method's streaming (checked when the call arrives). */
export type ActionHandler = UnaryActionHandler | StreamedInActionHandler | StreamedOutActionHandler | StreamedActionHandler;

export interface ActionOptions extends EntityOptions {
  /** Handlers by method name; the shape follows the method's streaming (see the handler types). */
  readonly commandHandlers: Readonly<Record<string, ActionHandler>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base takes any arguments
type ContextClass = new (...args: any[]) => object;

/**
 * Adds the client's cancellation (it went away, or the call's deadline passed) to an action
 * context class: `cancelled`, `onCancel`, and `cancel` for the server. What a handler sends after
 * it is dropped, so long work may stop early.
 */
function cancellable<Base extends ContextClass>(base: Base) {
  return class extends base {
    /** True once the client cancelled the call (what the handler sends after that is dropped). */
    cancelled = false;
    /** @internal */
    cancelListeners: Array<() => void> = [];

    /** Calls `listener` when the client cancels the call. */
    onCancel(listener: () => void): void {
      this.cancelListeners.push(listener);
    }

    /** @internal */
    cancel(): void {
      if (this.cancelled) return;
      this.cancelled = true;
      for (const listener of this.cancelListeners) listener();
    }
  };
}

/** The context of a unary or streamed-in action call: metadata, side effects, forward, fail, cancellation. */
export class ActionContext extends cancellable(CommandContext) {}

/** Where a streamed action writes its responses. */
export interface ResponseSink {
  write(response: ActionResponse): void;
  end(): void;
}

/**
 * The context of a streamed-out or streamed action call. Each of `reply`, `forward`, `fail` and
 * `noReply` sends one response, carrying the side effects asked for since the previous one.
 */
export class StreamedActionContext extends cancellable(class {}) {
  private effects: SideEffect[] = [];
  private ended = false;

  constructor(
    readonly commandName: string,
    readonly metadata: Metadata,
    private readonly method: protobuf.Method,
    private readonly registry: ServiceRegistry,
    private readonly sink: ResponseSink,
  ) {
    super();
  }

  /** Side effect to send with the next response. */
  effect(serviceName: string, commandName: string, message: object, synchronous = false, metadata?: Metadata): void {
    const effect: SideEffect = { service_name: serviceName, command_name: commandName, payload: this.registry.payload(serviceName, commandName, message), synchronous };
    if (metadata) effect.metadata = metadata.toProtocol();
    this.effects.push(effect);
  }

  private send(response: ActionResponse): void {
    response.side_effects = this.effects;
    this.effects = [];
    if (this.ended || this.cancelled) return;
    this.sink.write(response);
  }

  /** Sends a reply message (of the method's output type). */
  reply(message: object, metadata?: Metadata): void {
    this.send({ reply: { payload: replyPayload(this.method, message), ...(metadata ? { metadata: metadata.toProtocol() } : {}) } });
  }

  /** Sends a forward to `serviceName/commandName`. */
  forward(serviceName: string, commandName: string, message: object, metadata?: Metadata): void {
    const payload = this.registry.payload(serviceName, commandName, message);
    this.send({ forward: { service_name: serviceName, command_name: commandName, payload, ...(metadata ? { metadata: metadata.toProtocol() } : {}) } });
  }

  /** Sends a failure (the stream goes on; end it with `end()` if the call is over). */
  fail(description: string): void {
    this.send({ failure: { description } });
  }

  /** Sends a response with no reply: only the pending side effects. */
  noReply(): void {
    this.send({});
  }

  /** Ends the response stream (idempotent). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.cancelled) this.sink.end();
  }
}

const isIterable = (value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && (Symbol.asyncIterator in value || Symbol.iterator in value);

/** An action type (stateless), served by a `CloudstateServer`. */
export class Action extends Entity {
  readonly entityType = EntityType.action;

  constructor(readonly options: ActionOptions) {
    super(options);
    this.handledMethods(options.commandHandlers, 'action');
  }

  toDiscovery(): ProtocolEntity {
    return { entity_type: this.entityType, service_name: this.serviceName, persistence_id: '' };
  }

  /** The method and handler for a call, or a failure response saying why there is none. */
  private target(name: string): { method: protobuf.Method; handler: ActionHandler } | ActionResponse {
    const method = this.service.methods[name];
    const handler = this.options.commandHandlers[name];
    if (!method) return { failure: { description: `unknown command ${name} for ${this.serviceName}` } };
    if (!handler) return { failure: { description: `command ${name} is not implemented by ${this.serviceName}` } };
    return { method, handler };
  }

  private decode(method: protobuf.Method, command: ActionCommand): unknown {
    const type = method.resolvedRequestType!;
    const payload = command.payload;
    // A method taking google.protobuf.Any gets the payload Any itself when it holds something
    // else (the proxy's event-log eventing sends an event's own Any, as the reference does).
    if (fullNameOf(type) === ANY_TYPE_NAME && payload?.type_url && payload.type_url !== ANY_TYPE_URL) {
      return type.decode(protobuf.Writer.create().uint32(10).string(payload.type_url).uint32(18).bytes(payload.value ?? new Uint8Array(0)).finish());
    }
    return type.decode(payload?.value ?? new Uint8Array(0));
  }

  private async *payloads(method: protobuf.Method, messages: AsyncIterable<ActionCommand>): AsyncGenerator<unknown> {
    for await (const message of messages) yield this.decode(method, message);
  }

  private async answerOnce(method: protobuf.Method, ctx: ActionContext, run: () => unknown): Promise<ActionResponse> {
    try {
      const result = await run();
      if (ctx.forwarded && result !== undefined) throw new Error(`command ${ctx.commandName} both returned a reply and forwarded`);
      if (ctx.forwarded) return { forward: ctx.forwarded, side_effects: ctx.sideEffects };
      if (result !== undefined) return { reply: { payload: replyPayload(method, result) }, side_effects: ctx.sideEffects };
      return { side_effects: ctx.sideEffects };
    } catch (error) {
      if (error instanceof CommandFailure) return { failure: { description: error.description }, side_effects: ctx.sideEffects };
      throw error;
    }
  }

  /**
   * @internal a unary call; `onCancel` registers what the server calls when the client cancels
   * it. Exceptions other than `CommandFailure` propagate (the server logs them and answers a failure).
   */
  async unary(command: ActionCommand, registry: ServiceRegistry, onCancel?: (cancel: () => void) => void): Promise<ActionResponse> {
    const target = this.target(command.name ?? '');
    if (!('method' in target)) return target;
    const ctx = new ActionContext(command.name ?? '', Metadata.fromProtocol(command.metadata), registry);
    onCancel?.(() => ctx.cancel());
    const handler = target.handler as UnaryActionHandler;
    return this.answerOnce(target.method, ctx, () => handler(this.decode(target.method, command), ctx));
  }

  /** @internal a streamed-in call: `header` is the first message, `messages` the rest. */
  async streamedIn(header: ActionCommand, messages: AsyncIterable<ActionCommand>, registry: ServiceRegistry, onCancel?: (cancel: () => void) => void): Promise<ActionResponse> {
    const target = this.target(header.name ?? '');
    if (!('method' in target)) return target;
    const ctx = new ActionContext(header.name ?? '', Metadata.fromProtocol(header.metadata), registry);
    onCancel?.(() => ctx.cancel());
    const handler = target.handler as StreamedInActionHandler;
    return this.answerOnce(target.method, ctx, () => handler(this.payloads(target.method, messages), ctx));
  }

  /**
   * @internal a streamed-out (`messages` undefined) or streamed call. Resolves when the handler is
   * done and the stream ended; user exceptions are sent as a failure response, then the stream ends.
   */
  async streamed(
    header: ActionCommand,
    messages: AsyncIterable<ActionCommand> | undefined,
    sink: ResponseSink,
    registry: ServiceRegistry,
    onCancel: (cancel: () => void) => void,
  ): Promise<void> {
    const target = this.target(header.name ?? '');
    if (!('method' in target)) {
      sink.write(target);
      sink.end();
      return;
    }
    const ctx = new StreamedActionContext(header.name ?? '', Metadata.fromProtocol(header.metadata), target.method, registry, sink);
    onCancel(() => ctx.cancel());
    try {
      const input = messages === undefined ? this.decode(target.method, header) : this.payloads(target.method, messages);
      const result = await (target.handler as StreamedOutActionHandler)(input, ctx);
      if (isIterable(result)) {
        for await (const reply of result as AsyncIterable<unknown>) {
          if (ctx.cancelled) break;
          ctx.reply(reply as object);
        }
      }
    } catch (error) {
      if (ctx.cancelled) return; // the client went away: reading its stream fails, nothing to answer
      ctx.fail(error instanceof CommandFailure ? error.description : `Unexpected error in ${this.serviceName}.${ctx.commandName}`);
      if (!(error instanceof CommandFailure)) {
        ctx.end();
        throw error;
      }
    }
    ctx.end();
  }
}
