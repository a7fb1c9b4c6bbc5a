/**
 * The proxy's `Dispatcher` (../dispatch.ts): takes each call from the ingress to the entity
 * support of its service's entity type, routes the reply (../router.ts: side effects, forwards)
 * and turns the routed reply into what the client gets.
 *
 * - Event-sourced and value-entity services: one sharding entity type per service (type name
 *   = the service's persistence id), so each entity runs on one node of the cluster and handles
 *   one command at a time; the entity id comes from the request's key fields. Entities are
 *   passivated after the service's discovered passivation timeout, else `passivationTimeoutMs`.
 * - Actions: called directly on this node; a request message that does not decode as the
 *   method's input ends the call INVALID_ARGUMENT before the user function sees it.
 * - CRDT services (when `crdt` is given): an instance per entity on every node (../crdt/);
 *   server-streaming methods are streamed commands.
 *
 * A reply's `failure` becomes CallError(UNKNOWN, description); a reply payload whose type is
 * not the method's output type is reported to the user function as a warning and still sent.
 * No failure of one entity or call reaches another: every error ends its own call only.
 */
import { describeError, silentLogger, systemScheduler } from '../../core/index.js';
import type { Logger, Scheduler } from '../../core/index.js';
import { EntityType, TYPE_URL_PREFIX } from '../../protocol/index.js';
import type { Any, MetadataEntry } from '../../protocol/index.js';
import { idleTimeout } from '../../sharding/index.js';
import type { EntityTypeHandle, Sharding } from '../../sharding/index.js';
import { entityIdOf } from '../descriptors.js';
import { CallError, ClientActionFailure, Status } from '../dispatch.js';
import type { Call, Cancellable, Dispatcher, Response } from '../dispatch.js';
import type { CrdtSupport } from '../crdt/index.js';
import type { MethodModel, ProxyModel, ServiceModel } from '../model.js';
import { Router } from '../router.js';
import type { Hop } from '../router.js';
import type { UserFunctionClient } from '../user-function.js';
import { invokeAction, singleRequest, streamAction } from './action.js';
import { invalidRequest, toCallError } from './errors.js';
import { eventSourcedBehavior } from './event-sourced.js';
import type { EntityMetrics } from './instrumentation.js';
import { entityMessageSerializer } from './messages.js';
import type { EntityCommand, UserFunctionReply } from './messages.js';
import type { EntitySupportOptions } from './stream-entity.js';
import { valueEntityBehavior } from './value-entity.js';

export interface EntitySettings {
  /** Shards per entity type (default 100); fixed for the life of the data. */
  readonly numberOfShards: number;
  /** Idle time before an entity is passivated, ms, unless discovery gave one (default 30,000). */
  readonly passivationTimeoutMs: number;
  /** How long a command may take, user function included, ms (default 60,000). */
  readonly relayTimeoutMs: number;
  /** Longest chain of forwards and side effects (default 32). */
  readonly maxForwardDepth: number;
}

export const defaultEntitySettings: EntitySettings = { numberOfShards: 100, passivationTimeoutMs: 30_000, relayTimeoutMs: 60_000, maxForwardDepth: 32 };

export interface DispatcherOptions {
  readonly model: ProxyModel;
  readonly client: UserFunctionClient;
  /** Hosts the event-sourced and value entities; must have been created with the node's storage. */
  readonly sharding: Sharding;
  /** Serves the CRDT services, if this node serves them. */
  readonly crdt?: CrdtSupport;
  readonly settings?: Partial<EntitySettings>;
  /** Where the event-sourced and value entities' metrics go (./instrumentation.ts). */
  readonly metrics?: EntityMetrics;
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
}

/** Routes every call of the model's services; registers one sharding entity type per stateful service. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  return new EntityDispatcher(options);
}

/**
 * `invalidRequest` unless `bytes` decode as the method's input. Actions get the bytes as they
 * came (payloads pass through), so this only decodes, to keep malformed protobuf from the user
 * function: the client gets INVALID_ARGUMENT, as for an entity, whose key is decoded anyway.
 * Only bytes that claim to be the method's input (by `typeUrl`) are checked: eventing hands a
 * `google.protobuf.Any` method events of any type, JSON and primitives included, as they are.
 */
function undecodable(method: MethodModel, typeUrl: string | undefined, bytes: Uint8Array): CallError | undefined {
  if (typeUrl !== TYPE_URL_PREFIX + method.inputType.fullName.slice(1)) return undefined;
  try {
    method.inputType.decode(bytes);
    return undefined;
  } catch (err) {
    return invalidRequest(method, err);
  }
}

/**
 * A call's requests, each checked by `undecodable`; the first that fails ends them, kept in
 * `failed` (the action's stream to the user function swallows the error: it only cancels).
 */
async function* decodable(method: MethodModel, requests: AsyncIterable<Uint8Array>, failed: { error?: CallError }): AsyncGenerator<Uint8Array> {
  for await (const request of requests) {
    failed.error = undecodable(method, method.inputTypeUrl, request);
    if (failed.error) throw failed.error;
    yield request;
  }
}

const kindOf = (service: ServiceModel): string => (service.entityType === EntityType.valueEntity ? 'Value entity' : 'entity');

class EntityDispatcher implements Dispatcher {
  private readonly settings: EntitySettings;
  private readonly log: Logger;
  private readonly router: Router;
  private readonly types = new Map<string, EntityTypeHandle<EntityCommand, UserFunctionReply>>();
  private readonly warned = new Set<string>();

  constructor(private readonly o: DispatcherOptions) {
    this.settings = { ...defaultEntitySettings, ...o.settings };
    this.log = o.logger ?? silentLogger;
    this.router = new Router({
      model: o.model,
      invoke: (method, payload, metadata) => this.invoke(method, payload, metadata),
      reportError: (message) => this.reportError(message),
      logger: this.log,
      maxDepth: this.settings.maxForwardDepth,
    });
    if (o.crdt) {
      // A stream cancellation's response has no client: its side effects are routed all the same.
      o.crdt.detached = (reply, service) =>
        void this.router.complete(reply, [{ reason: 'initial', service: service.name, command: '(stream cancelled)' }]).catch((err: unknown) => this.log.warn({ service: service.name, err: describeError(err) }, 'side effect of a stream cancellation failed'));
    }
    for (const service of o.model.services.values()) {
      const behavior = service.entityType === EntityType.eventSourced ? eventSourcedBehavior : service.entityType === EntityType.valueEntity ? valueEntityBehavior : undefined;
      if (!behavior) continue;
      const support: EntitySupportOptions = { service, client: o.client, scheduler: o.scheduler ?? systemScheduler, logger: this.log, relayTimeoutMs: this.settings.relayTimeoutMs, ...(o.metrics ? { metrics: o.metrics } : {}) };
      const handle = o.sharding.init<EntityCommand, UserFunctionReply>({
        typeName: service.persistenceId,
        behavior: behavior(support),
        numberOfShards: this.settings.numberOfShards,
        passivation: () => idleTimeout(service.passivationTimeoutMs ?? this.settings.passivationTimeoutMs),
        serializer: entityMessageSerializer,
        askTimeoutMs: this.settings.relayTimeoutMs,
      });
      this.types.set(service.name, handle);
    }
  }

  async unary(method: MethodModel, payload: Uint8Array, metadata: readonly MetadataEntry[], cancel: Cancellable): Promise<Response> {
    const reply = await this.routed(method, { type_url: method.inputTypeUrl, value: payload }, metadata, cancel);
    const response = this.responseOf(method, reply);
    if (!response) throw new CallError(Status.INTERNAL, `${method.serviceName}.${method.name}: the user function sent no reply`);
    return response;
  }

  async *stream(call: Call): AsyncIterable<Response> {
    const { method } = call;
    const service = this.o.model.services.get(method.serviceName);
    if (service?.entityType === EntityType.crdt && this.o.crdt && method.serverStreaming) {
      yield* this.streamCrdt(call);
      return;
    }
    if (service?.entityType !== EntityType.action || (!method.clientStreaming && !method.serverStreaming)) {
      const payload = await singleRequest(call.requests);
      const response = this.responseOf(method, await this.routed(method, { type_url: method.inputTypeUrl, value: payload }, call.metadata, call));
      if (response) yield response;
      return;
    }
    const trace: Hop[] = [{ reason: 'initial', service: method.serviceName, command: method.name }];
    // A request that does not decode ends the call: the user function sees it cancelled.
    const failed: { error?: CallError } = {};
    try {
      for await (const reply of streamAction(this.o.client, { ...call, requests: decodable(method, call.requests, failed) })) {
        const response = this.responseOf(method, await this.router.complete(reply, trace));
        if (response) yield response;
      }
    } catch (err) {
      throw failed.error ?? toCallError(err);
    }
    if (failed.error) throw failed.error;
  }

  /** A streamed CRDT command: each message routed; leaving the loop (client gone, failure) cancels the command. */
  private async *streamCrdt(call: Call): AsyncGenerator<Response> {
    const { method } = call;
    const payload = await singleRequest(call.requests);
    const trace: Hop[] = [{ reason: 'initial', service: method.serviceName, command: method.name }];
    try {
      for await (const reply of this.o.crdt!.streamed(method, { type_url: method.inputTypeUrl, value: payload }, call.signal)) {
        const response = this.responseOf(method, await this.router.complete(reply, trace));
        if (response) yield response;
      }
    } catch (err) {
      throw toCallError(err);
    }
  }

  /** The call's reply after its side effects and forwards. */
  private async routed(method: MethodModel, payload: Any, metadata: readonly MetadataEntry[], cancel?: Cancellable): Promise<UserFunctionReply> {
    const first = await this.invoke(method, payload, metadata, cancel);
    // Most replies have neither: skip the router (and its trace) for them.
    if ((first.side_effects === undefined || first.side_effects.length === 0) && !first.client_action?.forward) return first;
    return this.router.complete(first, [{ reason: 'initial', service: method.serviceName, command: method.name }]);
  }

  /** One command to its target, unrouted. Rejects with a CallError only. */
  private async invoke(method: MethodModel, payload: Any, metadata: readonly MetadataEntry[], cancel?: Cancellable): Promise<UserFunctionReply> {
    const service = this.o.model.services.get(method.serviceName);
    if (!service) throw new CallError(Status.UNIMPLEMENTED, `service ${method.serviceName} is not served by the user function`);
    if (service.entityType === EntityType.action) {
      if (method.clientStreaming || method.serverStreaming) throw new CallError(Status.INTERNAL, `${method.path} is streamed: call it as a stream`);
      const invalid = undecodable(method, payload.type_url, payload.value ?? new Uint8Array(0));
      if (invalid) throw invalid;
      return invokeAction(this.o.client, method, payload, metadata, cancel?.signal).catch((err: unknown) => {
        throw toCallError(err);
      });
    }
    if (service.entityType === EntityType.crdt && this.o.crdt) {
      if (method.clientStreaming || method.serverStreaming) throw new CallError(Status.INTERNAL, `${method.path} is streamed: call it as a stream`);
      return this.o.crdt.invoke(method, payload).catch((err: unknown) => {
        throw toCallError(err);
      });
    }
    const type = this.types.get(service.name);
    if (!type) throw new CallError(Status.UNIMPLEMENTED, `${service.name} is a ${service.entityType} service, which this proxy does not serve`);
    let entityId: string;
    try {
      entityId = entityIdOf(method, payload.value ?? new Uint8Array(0));
    } catch (err) {
      throw invalidRequest(method, err);
    }
    // Entities get no metadata: the reference proxy sends none and the TCK compares exactly.
    try {
      return await type.entityRef(entityId).ask({ name: method.name, payload });
    } catch (err) {
      throw toCallError(err, kindOf(service));
    }
  }

  /** The client's message for a routed reply: a failure throws, no reply is undefined. */
  private responseOf(method: MethodModel, reply: UserFunctionReply): Response | undefined {
    const action = reply.client_action;
    if (action?.failure) throw new ClientActionFailure(action.failure.description ?? '');
    const answer = action?.reply;
    if (!answer) return undefined;
    const typeUrl = answer.payload?.type_url;
    if (typeUrl && typeUrl !== method.outputTypeUrl) this.warnTypeUrl(method, typeUrl);
    const entries = answer.metadata?.entries;
    return { payload: answer.payload?.value ?? new Uint8Array(0), ...(entries && entries.length > 0 ? { metadata: entries } : {}) };
  }

  private warnTypeUrl(method: MethodModel, typeUrl: string): void {
    const key = `${method.path} ${typeUrl}`;
    const message = `${method.serviceName}.${method.name}: Expected reply type_url to be [${method.outputTypeUrl}] but was [${typeUrl}].`;
    this.log.warn(message);
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.reportError(`Warning: ${message}`);
  }

  private reportError(message: string): void {
    this.o.client.reportError(message).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'reportError to the user function failed'));
  }
}
