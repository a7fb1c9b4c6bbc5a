/**
 * `CloudstateServer`: the gRPC server of a user function. It serves the protocol services the
 * proxy calls: `cloudstate.EntityDiscovery` always, and `EventSourced`, `ValueEntity` and
 * `ActionProtocol` only when an entity of that type is served. Each entity stream or action call
 * is routed by service name to its entity.
 *
 * Owns the gRPC plumbing only; the protocol logic lives with each entity type.
 */
import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '../core/index.js';
import {
  EntityType,
  protocolRoot,
  type ActionCommand,
  type ActionResponse,
  type EntitySpec,
  type EventSourcedStreamIn,
  type EventSourcedStreamOut,
  type ProxyInfo,
  type UserFunctionError,
  type ValueEntityStreamIn,
  type ValueEntityStreamOut,
} from '../protocol/index.js';
import { Action } from './action.js';
import { ServiceRegistry } from './context.js';
import { entitySpec, type ServiceIdentity } from './discovery.js';
import type { Entity } from './entity.js';
import { serveEntityStream } from './entity-stream.js';
import { EventSourcedEntity, type EventSourcedInstance } from './event-sourced.js';
import { serviceDefinition } from './grpc-definitions.js';
import { ValueEntity, type ValueEntityInstance } from './value-entity.js';

export interface CloudstateServerOptions extends ServiceIdentity {
  /** The entities to serve (each service at most once). */
  readonly entities: readonly Entity[];
  /** Where to log; default a pino logger named `cloudstate-function`. */
  readonly logger?: Logger;
}

export interface StartOptions {
  /** Interface to listen on; default `127.0.0.1` (the proxy runs beside the function). */
  readonly host?: string;
  /** Port; default 8080 (the proxy's default `USER_FUNCTION_PORT`); 0 picks a free one. */
  readonly port?: number;
}

const protocolService = (name: string) => protocolRoot().lookupService(name);

/** Serves user entities to a Cloudstate proxy over the Cloudstate protocol (0.2). */
export class CloudstateServer {
  private readonly entities: readonly Entity[];
  private readonly byService = new Map<string, Entity>();
  private readonly registry: ServiceRegistry;
  private readonly logger: Logger;
  private readonly identity: ServiceIdentity;
  private spec: EntitySpec | undefined;
  private server: grpc.Server | undefined;
  /** Errors the proxy reported through `reportError`, oldest first. */
  readonly reportedErrors: string[] = [];
  /** The last `ProxyInfo` received in `discover`. */
  proxyInfo: ProxyInfo | undefined;

  constructor(options: CloudstateServerOptions) {
    if (options.entities.length === 0) throw new Error('CloudstateServer needs at least one entity');
    this.entities = [...options.entities];
    for (const entity of this.entities) {
      if (this.byService.has(entity.serviceName)) throw new Error(`service ${entity.serviceName} is served twice`);
      this.byService.set(entity.serviceName, entity);
    }
    this.registry = new ServiceRegistry(this.entities);
    this.logger = options.logger ?? createLogger({ name: 'cloudstate-function' });
    this.identity = { serviceName: options.serviceName, serviceVersion: options.serviceVersion };
  }

  /** The discovery answer (built once, on first use). */
  entitySpec(): EntitySpec {
    this.spec ??= entitySpec(this.entities, this.identity);
    return this.spec;
  }

  /** Starts listening; resolves the bound port. */
  async start(options: StartOptions = {}): Promise<number> {
    if (this.server) throw new Error('server already started');
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 8080;
    this.entitySpec(); // fail fast on bad protos, before the proxy asks
    const server = new grpc.Server();
    this.register(server);
    this.server = server;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
    }).catch((error: unknown) => {
      this.server = undefined;
      throw error;
    });
    this.logger.info({ address: `${host}:${bound}`, entities: this.entities.map((e) => e.serviceName) }, 'user function listening');
    return bound;
  }

  /** Stops the server: waits for calls in flight up to `graceMs` (default 2 s), then cancels them. */
  async shutdown(graceMs = 2000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private entitiesOf<T extends Entity>(kind: abstract new (...args: never[]) => T): boolean {
    return this.entities.some((entity) => entity instanceof kind);
  }

  private register(server: grpc.Server): void {
    server.addService(serviceDefinition(protocolService('cloudstate.EntityDiscovery')), {
      discover: (call: grpc.ServerUnaryCall<ProxyInfo, EntitySpec>, callback: grpc.sendUnaryData<EntitySpec>) => {
        this.proxyInfo = call.request;
        this.logger.info({ proxy: call.request.proxy_name, version: call.request.proxy_version }, 'discovery');
        try {
          callback(null, this.entitySpec());
        } catch (error) {
          this.logger.error({ err: error }, 'discovery failed');
          callback({ code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) });
        }
      },
      reportError: (call: grpc.ServerUnaryCall<UserFunctionError, object>, callback: grpc.sendUnaryData<object>) => {
        const message = call.request.message ?? '';
        this.reportedErrors.push(message);
        this.logger.error({ userFunctionError: message }, 'the proxy reported an error in this user function');
        callback(null, {});
      },
    });
    if (this.entitiesOf(EventSourcedEntity)) {
      server.addService(serviceDefinition(protocolService(EntityType.eventSourced)), {
        handle: (call: grpc.ServerDuplexStream<EventSourcedStreamIn, EventSourcedStreamOut>) =>
          serveEntityStream<EventSourcedStreamIn, EventSourcedStreamOut, EventSourcedInstance<unknown>>(call, {
            initOf: (message) => message.init,
            create: (message) => this.entity(EventSourcedEntity, message.init?.service_name).instance(message.init!, this.registry),
            handle: async (instance, message) => {
              if (message.event) {
                instance.replay(message.event);
                return undefined;
              }
              if (message.command) return instance.command(message.command);
              return { failure: { description: 'empty or unknown EventSourcedStreamIn message' } };
            },
          }, this.logger),
      });
    }
    if (this.entitiesOf(ValueEntity)) {
      server.addService(serviceDefinition(protocolService(EntityType.valueEntity)), {
        handle: (call: grpc.ServerDuplexStream<ValueEntityStreamIn, ValueEntityStreamOut>) =>
          serveEntityStream<ValueEntityStreamIn, ValueEntityStreamOut, ValueEntityInstance<unknown>>(call, {
            initOf: (message) => message.init,
            create: (message) => this.entity(ValueEntity, message.init?.service_name).instance(message.init!, this.registry),
            handle: async (instance, message) =>
              message.command ? instance.command(message.command) : { failure: { description: 'empty or unknown ValueEntityStreamIn message' } },
          }, this.logger),
      });
    }
    if (this.entitiesOf(Action)) server.addService(serviceDefinition(protocolService(EntityType.action)), this.actionHandlers());
  }

  /** The served entity of type `kind` for a service name; throws (ending the stream with a failure) when there is none. */
  private entity<T extends Entity>(kind: abstract new (...args: never[]) => T, serviceName: string | undefined): T {
    const entity = this.byService.get(serviceName ?? '');
    if (!(entity instanceof kind)) throw new Error(`service ${serviceName ?? '(none)'} is not served as this entity type here`);
    return entity;
  }

  private action(serviceName: string | undefined): Action | ActionResponse {
    const entity = this.byService.get(serviceName ?? '');
    if (entity instanceof Action) return entity;
    return { failure: { description: `service ${serviceName ?? '(none)'} is not served as an action here` } };
  }

  private unexpected(error: unknown, command: ActionCommand): ActionResponse {
    this.logger.error({ err: error, service: command.service_name, command: command.name }, 'action handler failed');
    return { failure: { description: `Unexpected error in ${command.service_name ?? ''}.${command.name ?? ''}` } };
  }

  private actionHandlers(): grpc.UntypedServiceImplementation {
    const registry = this.registry;
    /** The first message (the header) of a client stream, and the rest of it. */
    const split = async (call: NodeJS.EventEmitter) => {
      const iterator = incoming<ActionCommand>(call);
      const first = await iterator.next();
      const rest: AsyncIterable<ActionCommand> = { [Symbol.asyncIterator]: () => iterator };
      return { header: first.done ? undefined : first.value, rest };
    };
    interface ResponseStream {
      write(response: ActionResponse): unknown;
      end(): unknown;
      on(event: 'cancelled', listener: () => void): unknown;
    }
    const streamed = (call: ResponseStream, header: ActionCommand, rest: AsyncIterable<ActionCommand> | undefined) => {
      const action = this.action(header.service_name);
      const sink = { write: (response: ActionResponse) => call.write(response), end: () => call.end() };
      if (!(action instanceof Action)) {
        sink.write(action);
        sink.end();
        return;
      }
      action
        .streamed(header, rest, sink, registry, (cancel) => call.on('cancelled', cancel))
        .catch((error: unknown) => this.logger.error({ err: error, service: header.service_name, command: header.name }, 'streamed action handler failed'));
    };
    return {
      handleUnary: (call: grpc.ServerUnaryCall<ActionCommand, ActionResponse>, callback: grpc.sendUnaryData<ActionResponse>) => {
        const action = this.action(call.request.service_name);
        if (!(action instanceof Action)) return callback(null, action);
        action.unary(call.request, registry).then(
          (response) => callback(null, response),
          (error: unknown) => callback(null, this.unexpected(error, call.request)),
        );
      },
      handleStreamedIn: (call: grpc.ServerReadableStream<ActionCommand, ActionResponse>, callback: grpc.sendUnaryData<ActionResponse>) => {
        void split(call).then(async ({ header, rest }) => {
          if (!header) return callback(null, {});
          const action = this.action(header.service_name);
          if (!(action instanceof Action)) return callback(null, action);
          const response = await action.streamedIn(header, rest, registry).catch((error: unknown) => this.unexpected(error, header));
          callback(null, response);
        }, (error: unknown) => this.logger.warn({ err: error }, 'streamed-in action call broke'));
      },
      handleStreamedOut: (call: grpc.ServerWritableStream<ActionCommand, ActionResponse>) => streamed(call, call.request, undefined),
      handleStreamed: (call: grpc.ServerDuplexStream<ActionCommand, ActionResponse>) => {
        void split(call).then(({ header, rest }) => {
          if (!header) return call.end();
          streamed(call, header, rest);
        }, (error: unknown) => this.logger.warn({ err: error }, 'streamed action call broke'));
      },
    };
  }
}

/**
 * The messages of a gRPC client stream as an async iterator. Not the stream's own
 * `Symbol.asyncIterator`: that destroys the call when the input ends, and a destroyed server
 * call can no longer send its responses and status.
 */
function incoming<T>(stream: NodeJS.EventEmitter): AsyncIterator<T> {
  const buffered: T[] = [];
  const waiting: Array<{ resolve: (result: IteratorResult<T>) => void; reject: (error: Error) => void }> = [];
  let done = false;
  let failure: Error | undefined;
  stream.on('data', (message: T) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve({ value: message, done: false });
    else buffered.push(message);
  });
  const finish = (error?: Error) => {
    if (done) return;
    done = true;
    failure = error;
    for (const waiter of waiting.splice(0)) {
      if (error) waiter.reject(error);
      else waiter.resolve({ value: undefined, done: true });
    }
  };
  stream.on('end', () => finish());
  stream.on('cancelled', () => finish(new Error('call cancelled')));
  stream.on('error', (error: Error) => finish(error));
  return {
    next: () => {
      if (buffered.length > 0) return Promise.resolve({ value: buffered.shift()!, done: false });
      if (failure) return Promise.reject(failure);
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}
