/**
 * What a command handler can do besides replying, for every entity type: read the command's
 * metadata, ask for side effects, forward the command to another service, or fail it. The
 * pieces are collected here and turned into protocol messages by each entity type's stream.
 *
 * Forwards and side effects name a service and a command; the payload is encoded as that
 * method's input type, looked up among the services of every entity the server knows.
 */
import { TYPE_URL_PREFIX, type Any, type Forward, type SideEffect } from '../protocol/index.js';
import { packMessage, fullNameOf } from './any-support.js';
import type { Entity } from './entity.js';
import type { Metadata } from './metadata.js';
import { protobuf } from '../protocol/index.js';

/**
 * Thrown by `ctx.fail(description)`: the command fails with this description (the client sees a
 * gRPC UNKNOWN status / HTTP 500 with it). Handlers may throw it themselves too.
 */
export class CommandFailure extends Error {
  constructor(readonly description: string) {
    super(description);
    this.name = 'CommandFailure';
  }
}

/** The methods of every served service, to encode forwards and side effects. */
export class ServiceRegistry {
  private readonly services = new Map<string, protobuf.Service>();

  constructor(entities: readonly Entity[]) {
    for (const entity of entities) {
      // The served service first, then any other service in the same protos (forward targets need not be served here).
      this.services.set(entity.serviceName, entity.service);
    }
    for (const entity of entities) this.collect(entity.root);
  }

  private collect(ns: protobuf.NamespaceBase): void {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Service) {
        const name = fullNameOf(nested);
        if (!this.services.has(name)) this.services.set(name, nested);
      } else if (nested instanceof protobuf.Namespace && !(nested instanceof protobuf.Type)) {
        this.collect(nested);
      }
    }
  }

  /** The method `serviceName/commandName`; throws with a clear message when either is unknown. */
  method(serviceName: string, commandName: string): protobuf.Method {
    const service = this.services.get(serviceName.replace(/^\./, ''));
    if (!service) throw new Error(`unknown service ${serviceName} (not in the loaded protos)`);
    const method = service.methods[commandName];
    if (!method) throw new Error(`service ${serviceName} has no method ${commandName}`);
    method.resolve();
    return method;
  }

  /** The payload of a call to `serviceName/commandName` with `message` (plain fields or a message instance). */
  payload(serviceName: string, commandName: string, message: object): Any {
    const type = this.method(serviceName, commandName).resolvedRequestType!;
    return packMessage(type, message);
  }
}

/** The reply payload of `method`: `value` encoded as its output type. */
export function replyPayload(method: protobuf.Method, value: unknown): Any {
  method.resolve();
  const type = method.resolvedResponseType!;
  if (typeof value !== 'object' || value === null) {
    throw new Error(`reply of ${method.name} must be an object (a ${fullNameOf(type)}), got ${String(value)}`);
  }
  return packMessage(type, value);
}

/** A type URL for a message type. */
export const typeUrlOf = (type: protobuf.Type): string => TYPE_URL_PREFIX + fullNameOf(type);

/**
 * The context every command handler gets: metadata, side effects, forward and fail.
 * One instance per command (or per action call); not to be kept after the handler returns.
 */
export class CommandContext {
  /** @internal side effects asked for so far, in order. */
  readonly sideEffects: SideEffect[] = [];
  /** @internal the forward asked for, if any. */
  forwarded: Forward | undefined;

  constructor(
    /** The name of the command (the gRPC method). */
    readonly commandName: string,
    /** The command's metadata (for actions: the request headers; entities get none from the reference proxy). */
    readonly metadata: Metadata,
    /** @internal */
    protected readonly registry: ServiceRegistry,
  ) {}

  /**
   * Asks the proxy to call `serviceName/commandName` with `message` after this command succeeds.
   * `synchronous` effects are awaited by the proxy before it answers the client.
   */
  effect(serviceName: string, commandName: string, message: object, synchronous = false, metadata?: Metadata): void {
    const effect: SideEffect = {
      service_name: serviceName,
      command_name: commandName,
      payload: this.registry.payload(serviceName, commandName, message),
      synchronous,
    };
    if (metadata) effect.metadata = metadata.toProtocol();
    this.sideEffects.push(effect);
  }

  /**
   * Answers the command by forwarding it to `serviceName/commandName` with `message`: the client
   * gets that call's reply. The handler then returns nothing (returning a reply too is an error).
   */
  forward(serviceName: string, commandName: string, message: object, metadata?: Metadata): void {
    if (this.forwarded) throw new Error(`command ${this.commandName} already forwarded`);
    const forward: Forward = {
      service_name: serviceName,
      command_name: commandName,
      payload: this.registry.payload(serviceName, commandName, message),
    };
    if (metadata) forward.metadata = metadata.toProtocol();
    this.forwarded = forward;
  }

  /** Fails the command with `description` (throws a `CommandFailure`; nothing after it runs). */
  fail(description: string): never {
    throw new CommandFailure(description);
  }
}
