/**
 * Value entities: the user-facing `ValueEntity` and one instance's protocol logic
 * (`ValueEntityInstance`): init with the stored state (if any), then commands one at a time.
 * A command may replace the state (`ctx.updateState`) or delete it (`ctx.deleteState`); the last
 * call wins and the reply carries one `state_action`. A failed command (`ctx.fail`) answers with
 * `client_action.failure` and changes nothing (no state action, no side effects); any other
 * exception becomes a stream-level `failure`. Stream plumbing lives in ./server.ts.
 */
import {
  EntityType,
  int64ToNumber,
  type Command,
  type Entity as ProtocolEntity,
  type ValueEntityInit,
  type ValueEntityReply,
  type ValueEntityStreamOut,
} from '../protocol/index.js';
import { messageTypeOf, type Packable } from './any-support.js';
import { CommandContext, CommandFailure, replyPayload, type ServiceRegistry } from './context.js';
import { Entity, statefulDiscovery, type StatefulEntityOptions } from './entity.js';
import { Metadata } from './metadata.js';

/** Handles one command: returns the reply (a plain object or message of the method's output type), or nothing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ValueEntityCommandHandler<S> = (command: any, state: S, ctx: ValueEntityCommandContext<S>) => unknown;

export interface ValueEntityOptions<S> extends StatefulEntityOptions {
  /** The state of an entity that has none stored (new, or deleted). */
  readonly initialState: (entityId: string) => S;
  /** Command handlers by method name. */
  readonly commandHandlers: Readonly<Record<string, ValueEntityCommandHandler<S>>>;
  /** Message type to store a plain-object state as (default: protobuf messages by their type, other objects as JSON). */
  readonly stateType?: string;
}

/** A value entity type, served by a `CloudstateServer`. */
export class ValueEntity<S = unknown> extends Entity {
  readonly entityType = EntityType.valueEntity;

  constructor(readonly options: ValueEntityOptions<S>) {
    super(options);
    this.handledMethods(options.commandHandlers);
  }

  toDiscovery(): ProtocolEntity {
    return statefulDiscovery(this, this.entityType, this.options);
  }

  /** @internal an instance for one `handle` stream, from its init message. */
  instance(init: ValueEntityInit, registry: ServiceRegistry): ValueEntityInstance<S> {
    return new ValueEntityInstance(this, init, registry);
  }
}

type StateChange<S> = { kind: 'update'; state: S } | { kind: 'delete' };

/** The context of a value entity command. */
export class ValueEntityCommandContext<S> extends CommandContext {
  /** @internal the last state change asked for. */
  change: StateChange<S> | undefined;

  constructor(
    private readonly current: S,
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

  /** The state as this command will leave it so far. */
  get state(): S | undefined {
    if (this.change === undefined) return this.current;
    return this.change.kind === 'update' ? this.change.state : undefined;
  }

  /** Replaces the stored state with `state` when the command succeeds (the last update or delete wins). */
  updateState(state: S): void {
    this.change = { kind: 'update', state };
  }

  /** Deletes the stored state when the command succeeds (the entity starts again from `initialState`). */
  deleteState(): void {
    this.change = { kind: 'delete' };
  }
}

/** One value entity instance on one protocol stream. The server feeds it one message at a time. */
export class ValueEntityInstance<S> {
  state: S;
  readonly entityId: string;

  constructor(
    readonly entity: ValueEntity<S>,
    init: ValueEntityInit,
    private readonly registry: ServiceRegistry,
  ) {
    this.entityId = init.entity_id ?? '';
    const stored = init.state?.value;
    this.state = stored ? (entity.anySupport.unpack(stored) as S) : entity.options.initialState(this.entityId);
  }

  /** Handles one command: a reply (possibly a client failure), or a stream failure after which the stream must end. */
  async command(command: Command): Promise<ValueEntityStreamOut> {
    const commandId = int64ToNumber(command.id);
    const name = command.name ?? '';
    const failure = (description: string): ValueEntityStreamOut => ({
      reply: { command_id: commandId, client_action: { failure: { command_id: commandId, description } } },
    });
    const method = this.entity.service.methods[name];
    const handler = this.entity.options.commandHandlers[name];
    if (!method) return failure(`unknown command ${name} for ${this.entity.serviceName}`);
    if (!handler) return failure(`command ${name} is not implemented by ${this.entity.serviceName}`);
    const ctx = new ValueEntityCommandContext(this.state, this.entityId, commandId, name, Metadata.fromProtocol(command.metadata), this.registry);
    try {
      const payload = method.resolvedRequestType!.decode(command.payload?.value ?? new Uint8Array(0));
      const result = await handler(payload, this.state, ctx);
      if (ctx.forwarded && result !== undefined) throw new Error(`command ${name} both returned a reply and forwarded`);
      const reply: ValueEntityReply = { command_id: commandId, side_effects: ctx.sideEffects };
      if (ctx.forwarded) reply.client_action = { forward: ctx.forwarded };
      else if (result !== undefined) reply.client_action = { reply: { payload: replyPayload(method, result) } };
      const change = ctx.change;
      if (change?.kind === 'update') {
        const stateType = this.entity.options.stateType;
        const packed = this.entity.anySupport.pack(
          change.state as Packable,
          stateType !== undefined && !messageTypeOf(change.state) ? { typeName: stateType } : {},
        );
        reply.state_action = { update: { value: packed } };
        // Keep what a restarted entity would see: the decoded stored value.
        this.state = this.entity.anySupport.unpack(packed) as S;
      } else if (change?.kind === 'delete') {
        reply.state_action = { delete: {} };
        this.state = this.entity.options.initialState(this.entityId);
      }
      return { reply };
    } catch (error) {
      if (error instanceof CommandFailure) return failure(error.description);
      const message = error instanceof Error ? error.message : String(error);
      return { failure: { command_id: commandId, description: `Unexpected error in ${this.entity.serviceName}.${name}: ${message}` } };
    }
  }
}
