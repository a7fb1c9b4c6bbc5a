/**
 * `CloudstateServer`: the gRPC server of a user function. It serves the protocol services the
 * proxy calls: `cloudstate.EntityDiscovery` always, and `EventSourced`, `ValueEntity`, `Crdt` and
 * `ActionProtocol` only when an entity of that type is served. Each entity stream or action call
 * is routed by service name to its entity.
 *
 * Owns the wiring only: the gRPC server is ./h2-server.ts (raw node:http2), the protocol logic
 * lives with each entity type.
 */
import { createLogger, type Logger } from '../core/index.js';
import {
  EntityType,
  GrpcStatus,
  protocolRoot,
  type CrdtStreamIn,
  type CrdtStreamOut,
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
import { CrdtEntity } from './crdt/entity.js';
import { serveCrdtStream } from './crdt/stream.js';
import { entitySpec, type ServiceIdentity } from './discovery.js';
import type { Entity } from './entity.js';
import { serveEntityStream } from './entity-stream.js';
import { serveActionProtocol } from './action-service.js';
import { EventSourcedEntity, type EventSourcedInstance } from './event-sourced.js';
import { serverMethod } from './grpc-definitions.js';
import { GrpcH2Server, GrpcStatusError } from './h2-server.js';
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

/** Method `name` of protocol service `service`, for the server. */
const protocolMethod = <Request, Response>(service: string, name: string) => serverMethod<Request, Response>(protocolRoot().lookupService(service), name);

/** Serves user entities to a Cloudstate proxy over the Cloudstate protocol (0.2). */
export class CloudstateServer {
  private readonly entities: readonly Entity[];
  private readonly byService = new Map<string, Entity>();
  private readonly registry: ServiceRegistry;
  private readonly logger: Logger;
  private readonly identity: ServiceIdentity;
  private spec: EntitySpec | undefined;
  private server: GrpcH2Server | undefined;
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
    for (const problem of this.entities.flatMap(proxyWillReject)) this.logger.warn(problem);
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
    const server = new GrpcH2Server({ logger: this.logger });
    this.register(server);
    this.server = server;
    const bound = await server.listen(host, port).catch((error: unknown) => {
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
    await server.close(graceMs);
  }

  private entitiesOf<T extends Entity>(kind: abstract new (...args: never[]) => T): boolean {
    return this.entities.some((entity) => entity instanceof kind);
  }

  private register(server: GrpcH2Server): void {
    server
      .unary(protocolMethod<ProxyInfo, EntitySpec>('cloudstate.EntityDiscovery', 'discover'), (info) => {
        this.proxyInfo = info;
        this.logger.info({ proxy: info.proxy_name, version: info.proxy_version }, 'discovery');
        const supported = info.supported_entity_types ?? [];
        const unsupported = [...new Set(this.entities.map((e) => e.entityType))].filter((type) => !supported.includes(type));
        if (supported.length > 0 && unsupported.length > 0) {
          this.logger.warn({ unsupported, supported }, 'the proxy does not support every entity type served here');
        }
        try {
          return this.entitySpec();
        } catch (error) {
          this.logger.error({ err: error }, 'discovery failed');
          throw new GrpcStatusError(GrpcStatus.INTERNAL, error instanceof Error ? error.message : String(error));
        }
      })
      .unary(protocolMethod<UserFunctionError, object>('cloudstate.EntityDiscovery', 'reportError'), (error) => {
        const message = error.message ?? '';
        this.reportedErrors.push(message);
        this.logger.error({ userFunctionError: message }, 'the proxy reported an error in this user function');
        return {};
      });
    if (this.entitiesOf(EventSourcedEntity)) {
      server.bidi(protocolMethod<EventSourcedStreamIn, EventSourcedStreamOut>(EntityType.eventSourced, 'handle'), (call) =>
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
      );
    }
    if (this.entitiesOf(ValueEntity)) {
      server.bidi(protocolMethod<ValueEntityStreamIn, ValueEntityStreamOut>(EntityType.valueEntity, 'handle'), (call) =>
        serveEntityStream<ValueEntityStreamIn, ValueEntityStreamOut, ValueEntityInstance<unknown>>(call, {
          initOf: (message) => message.init,
          create: (message) => this.entity(ValueEntity, message.init?.service_name).instance(message.init!, this.registry),
          handle: async (instance, message) =>
            message.command ? instance.command(message.command) : { failure: { description: 'empty or unknown ValueEntityStreamIn message' } },
        }, this.logger),
      );
    }
    if (this.entitiesOf(CrdtEntity)) {
      server.bidi(protocolMethod<CrdtStreamIn, CrdtStreamOut>(EntityType.crdt, 'handle'), (call) =>
        serveCrdtStream(call, (message) => this.entity(CrdtEntity, message.init?.service_name).instance(message.init!, this.registry), this.logger),
      );
    }
    if (this.entitiesOf(Action)) {
      const actionOf = (serviceName: string | undefined) => {
        const entity = this.byService.get(serviceName ?? '');
        return entity instanceof Action ? entity : undefined;
      };
      serveActionProtocol(server, actionOf, this.registry, this.logger);
    }
  }

  /** The served entity of type `kind` for a service name; throws (ending the stream with a failure) when there is none. */
  private entity<T extends Entity>(kind: abstract new (...args: never[]) => T, serviceName: string | undefined): T {
    const entity = this.byService.get(serviceName ?? '');
    if (!(entity instanceof kind)) throw new Error(`service ${serviceName ?? '(none)'} is not served as this entity type here`);
    return entity;
  }
}

/**
 * What the reference proxy rejects at discovery in a stateful entity (a method without an
 * `(cloudstate.entity_key)` field, a streamed method; for CRDT entities a client-streaming one),
 * said early and plainly. Only warnings:
 * serving such a function is how a proxy's discovery errors get tested.
 */
function proxyWillReject(entity: Entity): string[] {
  const crdt = entity instanceof CrdtEntity;
  if (!(entity instanceof EventSourcedEntity) && !(entity instanceof ValueEntity) && !crdt) return [];
  const problems: string[] = [];
  for (const method of entity.service.methodsArray) {
    const where = `${entity.serviceName}.${method.name}`;
    // CRDT entities serve server-streaming methods (streamed commands), not client streaming.
    if (method.requestStream || (method.responseStream && !crdt)) problems.push(`${where} is streamed: the proxy rejects ${crdt ? 'client-streaming' : 'streamed'} methods on ${entity.entityType}`);
    const keys = method.resolvedRequestType?.fieldsArray.filter(
      (field) => field.options?.['(cloudstate.entity_key)'] === true || field.options?.['(cloudstate.legacy_entity_key)'] === true,
    );
    if (keys?.length === 0) problems.push(`${where}: its input ${method.requestType} has no (cloudstate.entity_key) field; the proxy requires one`);
  }
  return problems;
}
