/**
 * Builders for the protocol messages a TCK test expects or sends, as plain objects with the
 * protocol's snake_case field names: `es.*` builds `EventSourcedStreamIn/Out` messages, `ve.*`
 * `ValueEntityStreamIn/Out`, `action.*` `ActionCommand`/`ActionResponse`. They mirror what the
 * reference TCK's message helpers build, so an expectation reads like the protocol exchange.
 *
 * Payloads are `Any` values made by `any(typeName, value)` (./codec.ts). Owns no I/O.
 */
import type {
  Any,
  ActionCommand,
  ActionResponse,
  EventSourcedStreamIn,
  EventSourcedStreamOut,
  SideEffect,
  ValueEntityAction,
  ValueEntityStreamIn,
  ValueEntityStreamOut,
} from '../../../src/protocol/index.js';
import { any } from './codec.js';

/** The empty payload (`google.protobuf.Empty`). */
export const emptyPayload: Any = any('google.protobuf.Empty');

/** A side effect to `service`/`command` with `payload`. */
export function sideEffect(service: string, command: string, payload: Any, synchronous = false): SideEffect {
  return { service_name: service, command_name: command, payload, synchronous };
}

/** What an entity reply carries besides its client action. */
export interface EntityEffects {
  sideEffects?: SideEffect[];
  /** Event sourced: the emitted events. */
  events?: Any[];
  /** Event sourced: the snapshot taken with them. */
  snapshot?: Any;
  /** Value entity: the state action. */
  stateAction?: ValueEntityAction;
}

/** Merges effects; later lists are appended, a later snapshot or state action wins. */
export function effects(...parts: EntityEffects[]): EntityEffects {
  const out: EntityEffects = {};
  for (const part of parts) {
    if (part.sideEffects) out.sideEffects = [...(out.sideEffects ?? []), ...part.sideEffects];
    if (part.events) out.events = [...(out.events ?? []), ...part.events];
    if (part.snapshot) out.snapshot = part.snapshot;
    if (part.stateAction) out.stateAction = part.stateAction;
  }
  return out;
}

const replyAction = (payload: Any) => ({ reply: { payload } });
const forwardAction = (service: string, command: string, payload: Any) => ({ forward: { service_name: service, command_name: command, payload } });
const failureAction = (commandId: number, description: string, restart = false) => ({ failure: { command_id: commandId, description, restart } });

function command(id: number, entityId: string, name: string, payload: Any) {
  return { entity_id: entityId, id, name, payload };
}

/** Event-sourced entity messages (`cloudstate.eventsourced`). */
export const es = {
  init(serviceName: string, entityId: string, snapshot?: { sequence: number; payload: Any }): EventSourcedStreamIn {
    return {
      init: {
        service_name: serviceName,
        entity_id: entityId,
        ...(snapshot ? { snapshot: { snapshot_sequence: snapshot.sequence, snapshot: snapshot.payload } } : {}),
      },
    };
  },
  event(sequence: number, payload: Any): EventSourcedStreamIn {
    return { event: { sequence, payload } };
  },
  command(id: number, entityId: string, name: string, payload: Any = emptyPayload): EventSourcedStreamIn {
    return { command: command(id, entityId, name, payload) };
  },
  reply(commandId: number, payload: Any, fx: EntityEffects = {}): EventSourcedStreamOut {
    return { reply: esReply(commandId, replyAction(payload), fx) };
  },
  forward(commandId: number, service: string, name: string, payload: Any, fx: EntityEffects = {}): EventSourcedStreamOut {
    return { reply: esReply(commandId, forwardAction(service, name, payload), fx) };
  },
  /** A reply whose client action is a failure of the command (the command's id in the failure). */
  actionFailure(commandId: number, description: string, restart = false): EventSourcedStreamOut {
    return { reply: { command_id: commandId, client_action: failureAction(commandId, description, restart) } };
  },
  /** A stream-level failure. */
  failure(commandId: number, description: string): EventSourcedStreamOut {
    return { failure: { command_id: commandId, description } };
  },
};

function esReply(commandId: number, clientAction: object, fx: EntityEffects) {
  return {
    command_id: commandId,
    client_action: clientAction,
    side_effects: fx.sideEffects ?? [],
    events: fx.events ?? [],
    ...(fx.snapshot ? { snapshot: fx.snapshot } : {}),
  };
}

/** Value entity messages (`cloudstate.valueentity`). */
export const ve = {
  /** The init the reference proxy sends: `state` always present, with a value only when one is stored. */
  init(serviceName: string, entityId: string, state?: Any): ValueEntityStreamIn {
    return { init: { service_name: serviceName, entity_id: entityId, state: state ? { value: state } : {} } };
  },
  command(id: number, entityId: string, name: string, payload: Any = emptyPayload): ValueEntityStreamIn {
    return { command: command(id, entityId, name, payload) };
  },
  reply(commandId: number, payload: Any, fx: EntityEffects = {}): ValueEntityStreamOut {
    return { reply: veReply(commandId, replyAction(payload), fx) };
  },
  forward(commandId: number, service: string, name: string, payload: Any, fx: EntityEffects = {}): ValueEntityStreamOut {
    return { reply: veReply(commandId, forwardAction(service, name, payload), fx) };
  },
  actionFailure(commandId: number, description: string): ValueEntityStreamOut {
    return { reply: { command_id: commandId, client_action: failureAction(commandId, description) } };
  },
  failure(commandId: number, description: string): ValueEntityStreamOut {
    return { failure: { command_id: commandId, description } };
  },
  update(state: Any): EntityEffects {
    return { stateAction: { update: { value: state } } };
  },
  delete(): EntityEffects {
    return { stateAction: { delete: {} } };
  },
};

function veReply(commandId: number, clientAction: object, fx: EntityEffects) {
  return {
    command_id: commandId,
    client_action: clientAction,
    side_effects: fx.sideEffects ?? [],
    ...(fx.stateAction ? { state_action: fx.stateAction } : {}),
  };
}

/** Action messages (`cloudstate.action`). */
export const action = {
  /** A command; without a payload it is the header of a streamed-in or streamed call. */
  command(service: string, name: string, payload?: Any): ActionCommand {
    return { service_name: service, name, ...(payload ? { payload } : {}) };
  },
  /** A payload-only message of a streamed call. */
  payload(payload: Any): ActionCommand {
    return { payload };
  },
  reply(payload: Any, sideEffects: SideEffect[] = []): ActionResponse {
    return { reply: { payload }, side_effects: sideEffects };
  },
  noReply(sideEffects: SideEffect[] = []): ActionResponse {
    return { side_effects: sideEffects };
  },
  forward(service: string, name: string, payload: Any, sideEffects: SideEffect[] = []): ActionResponse {
    return { forward: { service_name: service, command_name: name, payload }, side_effects: sideEffects };
  },
  /** A failure; the reference compares `command_id` too, which is 0 for actions. */
  failure(description: string, sideEffects: SideEffect[] = []): ActionResponse {
    return { failure: { description }, side_effects: sideEffects };
  },
};
