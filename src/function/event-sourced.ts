/**
 * Event-sourced entities: the user-facing `EventSourcedEntity` and one instance's protocol
 * logic (`EventSourcedInstance`): init (optionally from a snapshot), replayed events, then
 * commands one at a time. Commands emit events; each event is applied to the state as it is
 * emitted (so the reply sees it) and the reply carries the events, plus a snapshot of the state
 * when the sequence number crossed a multiple of `snapshotEvery`.
 *
 * A failed command (`ctx.fail`) answers with `client_action.failure` and drops its events and side
 * effects. Failing before any event was emitted leaves the state as it was. Failing after events
 * were emitted answers the failure with `restart = true`, as the Java support does: their handlers
 * may have changed the state in place, so the proxy restarts the entity, which replays its
 * snapshot and events. That costs a recovery on that rare path instead of a copy of the state on
 * every command. Any other exception from user code becomes a stream-level `failure` (the proxy
 * then restarts the entity too). Stream plumbing lives in ./server.ts.
 */
import {
  EntityType,
  int64ToNumber,
  type Any,
  type Command,
  type Entity as ProtocolEntity,
  type EventSourcedEvent,
  type EventSourcedInit,
  type EventSourcedReply,
  type EventSourcedStreamOut,
} from '../protocol/index.js';
import { messageTypeOf, type Packable } from './any-support.js';
import { CommandContext, CommandFailure, replyPayload, type ServiceRegistry } from './context.js';
import { Entity, statefulDiscovery, type StatefulEntityOptions } from './entity.js';
import { Metadata } from './metadata.js';

/** Handles one command: returns the reply (a plain object or message of the method's output type), or nothing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventSourcedCommandHandler<S> = (command: any, state: S, ctx: EventSourcedCommandContext<S>) => unknown;
/** Applies one event: returns the new state (or nothing, when it changed `state` in place). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventHandler<S> = (event: any, state: S) => S | void;

export interface EventSourcedEntityOptions<S> extends StatefulEntityOptions {
  /** The state of an entity with no snapshot and no events. */
  readonly initialState: (entityId: string) => S;
  /** Command handlers by method name (e.g. `AddItem`). */
  readonly commandHandlers: Readonly<Record<string, EventSourcedCommandHandler<S>>>;
  /** Event handlers by event type: simple name (`ItemAdded`) or full name; JSON events by their `type`. */
  readonly eventHandlers: Readonly<Record<string, EventHandler<S>>>;
  /** Turns a decoded snapshot into the state; default: the snapshot is the state. */
  readonly snapshotHandler?: (snapshot: unknown, entityId: string) => S;
  /** Emit a snapshot every this many events (default 100; 0 never). */
  readonly snapshotEvery?: number;
  /** Message type to store a plain-object state as (default: protobuf messages by their type, other objects as JSON). */
  readonly stateType?: string;
}

/** An event-sourced entity type, served by a `CloudstateServer`. */
export class EventSourcedEntity<S = unknown> extends Entity {
  readonly entityType = EntityType.eventSourced;
  readonly snapshotEvery: number;

  constructor(readonly options: EventSourcedEntityOptions<S>) {
    super(options);
    this.snapshotEvery = options.snapshotEvery ?? 100;
    if (!Number.isInteger(this.snapshotEvery) || this.snapshotEvery < 0) {
      throw new Error(`entity ${this.serviceName}: snapshotEvery must be a non-negative integer`);
    }
    this.handledMethods(options.commandHandlers);
  }

  toDiscovery(): ProtocolEntity {
    return statefulDiscovery(this, this.entityType, this.options);
  }

  /** @internal an instance for one `handle` stream, from its init message. */
  instance(init: EventSourcedInit, registry: ServiceRegistry): EventSourcedInstance<S> {
    return new EventSourcedInstance(this, init, registry);
  }
}

/** The context of an event-sourced command. */
export class EventSourcedCommandContext<S> extends CommandContext {
  /** @internal events emitted by this command, packed. */
  readonly events: Any[] = [];

  constructor(
    private readonly instance: EventSourcedInstance<S>,
    /** The entity's id. */
    readonly entityId: string,
    /** The command's id (per entity stream, from 1). */
    readonly commandId: number,
    commandName: string,
    metadata: Metadata,
    registry: ServiceRegistry,
  ) {
    super(commandName, metadata, registry);
  }

  /** The state now: the handler's `state` argument with the events emitted so far applied. */
  get state(): S {
    return this.instance.state;
  }

  /** Emits an event (a protobuf message, or a JSON object with a `type`): applied to the state now, persisted with the reply. */
  emit(event: Packable): void {
    this.events.push(this.instance.emit(event));
  }
}

/** One entity instance on one protocol stream. Not reentrant: the server feeds it one message at a time. */
export class EventSourcedInstance<S> {
  state: S;
  sequence = 0;
  readonly entityId: string;
  private snapshotDue = false;
  /** While a command runs: where to go back to if it fails before emitting. */
  private rollback: { sequence: number; state: S } | undefined;

  constructor(
    readonly entity: EventSourcedEntity<S>,
    init: EventSourcedInit,
    private readonly registry: ServiceRegistry,
  ) {
    this.entityId = init.entity_id ?? '';
    const snapshot = init.snapshot;
    if (snapshot?.snapshot) {
      this.sequence = int64ToNumber(snapshot.snapshot_sequence);
      this.state = this.fromSnapshot(snapshot.snapshot);
    } else {
      this.state = entity.options.initialState(this.entityId);
    }
  }

  private fromSnapshot(any: Any): S {
    const decoded = this.entity.anySupport.unpack(any);
    const handler = this.entity.options.snapshotHandler;
    return handler ? handler(decoded, this.entityId) : (decoded as S);
  }

  private pack(state: S): Any {
    const stateType = this.entity.options.stateType;
    return this.entity.anySupport.pack(state as Packable, stateType !== undefined && !messageTypeOf(state) ? { typeName: stateType } : {});
  }

  /** Applies a journal event (replay). Throws when no handler matches its type. */
  replay(event: EventSourcedEvent): void {
    this.apply(event.payload ?? {});
    this.sequence = int64ToNumber(event.sequence);
  }

  private apply(any: Any): void {
    const url = any.type_url ?? '';
    const fullName = url.slice(url.lastIndexOf('/') + 1);
    const simpleName = fullName.slice(fullName.lastIndexOf('.') + 1);
    const handlers = this.entity.options.eventHandlers;
    const handler = Object.hasOwn(handlers, fullName) ? handlers[fullName] : Object.hasOwn(handlers, simpleName) ? handlers[simpleName] : undefined;
    if (!handler) throw new Error(`entity ${this.entity.serviceName}: no event handler for ${fullName}`);
    const next = handler(this.entity.anySupport.unpack(any), this.state);
    if (next !== undefined) this.state = next;
  }

  /** @internal packs and applies an emitted event; returns it packed. */
  emit(event: Packable): Any {
    if (!this.rollback) throw new Error(`entity ${this.entity.serviceName}: emit outside of a running command`);
    const any = this.entity.anySupport.pack(event, { allowPrimitives: true });
    this.apply(any);
    this.sequence++;
    const every = this.entity.snapshotEvery;
    if (every > 0 && this.sequence % every === 0) this.snapshotDue = true;
    return any;
  }

  /** Handles one command: a reply (possibly a client failure), or a stream failure after which the stream must end. */
  async command(command: Command): Promise<EventSourcedStreamOut> {
    const commandId = int64ToNumber(command.id);
    const name = command.name ?? '';
    const failure = (description: string, restart = false): EventSourcedStreamOut => ({
      reply: { command_id: commandId, client_action: { failure: { command_id: commandId, description, ...(restart ? { restart } : {}) } } },
    });
    const method = this.entity.service.methods[name];
    const handler = this.entity.options.commandHandlers[name];
    if (!method) return failure(`unknown command ${name} for ${this.entity.serviceName}`);
    if (!handler) return failure(`command ${name} is not implemented by ${this.entity.serviceName}`);

    this.rollback = { sequence: this.sequence, state: this.state };
    const ctx = new EventSourcedCommandContext(this, this.entityId, commandId, name, Metadata.fromProtocol(command.metadata), this.registry);
    try {
      const payload = method.resolvedRequestType!.decode(command.payload?.value ?? new Uint8Array(0));
      const result = await handler(payload, this.state, ctx);
      if (ctx.forwarded && result !== undefined) throw new Error(`command ${name} both returned a reply and forwarded`);
      const reply: EventSourcedReply = { command_id: commandId, side_effects: ctx.sideEffects, events: ctx.events };
      if (ctx.forwarded) reply.client_action = { forward: ctx.forwarded };
      else if (result !== undefined) reply.client_action = { reply: { payload: replyPayload(method, result) } };
      if (this.snapshotDue) reply.snapshot = this.pack(this.state);
      this.snapshotDue = false;
      return { reply };
    } catch (error) {
      const emitted = ctx.events.length > 0;
      // Restored in any case; after emitted events the state object may have been changed in
      // place, so the failure asks for a restart, which rebuilds it from the journal.
      this.state = this.rollback.state;
      this.sequence = this.rollback.sequence;
      this.snapshotDue = false;
      if (error instanceof CommandFailure) return failure(error.description, emitted);
      const message = error instanceof Error ? error.message : String(error);
      return { failure: { command_id: commandId, description: `Unexpected error in ${this.entity.serviceName}.${name}: ${message}` } };
    } finally {
      this.rollback = undefined;
    }
  }
}
