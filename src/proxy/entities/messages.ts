/**
 * What crosses the entity supports: an entity command (`EntityCommand`: the method's name and
 * its payload as an `Any`) and the user function's answer to any command (`UserFunctionReply`:
 * a client action and side effects, whatever entity type answered). Also the binary
 * serializer sharding uses when a command or a reply leaves the process: one tag byte, then
 * the protocol's own encoding (`cloudstate.Command` for a command, the field-compatible
 * `cloudstate.action.ActionResponse` for a reply), so payload bytes are copied once, never
 * re-encoded as text.
 */
import type { Serializer } from '../../sharding/index.js';
import { protocolType } from '../../protocol/index.js';
import type { ActionResponse, Any, ClientAction, Command, MetadataEntry, SideEffect } from '../../protocol/index.js';

/** A command for an event-sourced or value entity, routed by sharding (the entity id travels beside it). */
export interface EntityCommand {
  /** The method's simple name (the protocol's command name). */
  readonly name: string;
  /** The request: `type_url` of the method's input type (or what a forward carried), and its encoded bytes. */
  readonly payload: Any;
}

/** The user function's answer to one command, before routing (forwards, side effects). */
export interface UserFunctionReply {
  readonly client_action?: ClientAction | null;
  readonly side_effects?: readonly SideEffect[];
}

export const EMPTY_BYTES = new Uint8Array(0);

/** A reply that fails the command with `description` (gRPC UNKNOWN for the client). */
export function failureReply(description: string): UserFunctionReply {
  return { client_action: { failure: { description } } };
}

/** An action's response as a `UserFunctionReply`. */
export function fromActionResponse(response: ActionResponse): UserFunctionReply {
  const client_action: ClientAction | undefined = response.failure
    ? { failure: response.failure }
    : response.reply
      ? { reply: response.reply }
      : response.forward
        ? { forward: response.forward }
        : undefined;
  return { client_action, side_effects: response.side_effects ?? [] };
}

/** Metadata entries as a protocol `Metadata` (undefined when there are none). */
export function metadataOf(entries: readonly MetadataEntry[] | undefined): { entries: MetadataEntry[] } | undefined {
  return entries && entries.length > 0 ? { entries: [...entries] } : undefined;
}

const COMMAND = 1;
const REPLY = 2;
const commandType = protocolType('cloudstate.Command');
const replyType = protocolType('cloudstate.action.ActionResponse');

function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/**
 * Sharding's serializer for the proxy's entity types: `EntityCommand`s and `UserFunctionReply`s
 * to bytes and back. Anything else is a programming error and throws.
 */
export const entityMessageSerializer: Serializer = {
  encode(value) {
    if (isCommand(value)) {
      const command: Command = { name: value.name, payload: value.payload };
      return tagged(COMMAND, commandType.encode(command).finish());
    }
    const reply = value as UserFunctionReply;
    const ca = reply.client_action;
    const response: ActionResponse = { failure: ca?.failure, reply: ca?.reply, forward: ca?.forward, side_effects: [...(reply.side_effects ?? [])] };
    return tagged(REPLY, replyType.encode(response).finish());
  },
  decode(bytes) {
    const body = bytes.subarray(1);
    switch (bytes[0]) {
      case COMMAND: {
        const command = commandType.decode(body) as unknown as Command;
        return { name: command.name ?? '', payload: { type_url: command.payload?.type_url ?? '', value: command.payload?.value ?? EMPTY_BYTES } } satisfies EntityCommand;
      }
      case REPLY:
        return fromActionResponse(replyType.decode(body) as unknown as ActionResponse);
      default:
        throw new Error(`not an entity message (tag ${bytes[0]})`);
    }
  },
};

function isCommand(value: unknown): value is EntityCommand {
  return typeof value === 'object' && value !== null && typeof (value as EntityCommand).name === 'string' && 'payload' in value;
}
