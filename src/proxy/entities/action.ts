/**
 * Actions (`cloudstate.action.ActionProtocol`), after the reference proxy's
 * `ActionProtocolSupportFactory`: no entity, no state, no sharding; each call goes straight to
 * the user function in the shape of its method. Unary → `handleUnary`; server streaming →
 * `handleStreamedOut`; client streaming → `handleStreamedIn`; bidi → `handleStreamed`. A
 * client-streaming call sends a header (`service_name`, `name`, the call's metadata, no
 * payload), then one payload-only command per request message. Actions, unlike entities, get
 * the call's metadata.
 */
import type { ActionCommand, MetadataEntry } from '../../protocol/index.js';
import type { Call } from '../dispatch.js';
import type { MethodModel } from '../model.js';
import type { UserFunctionClient } from '../user-function.js';
import { fromActionResponse, metadataOf } from './messages.js';
import type { UserFunctionReply } from './messages.js';
import type { Any } from '../../protocol/index.js';

/** One unary action command; rejects with `UserFunctionCallError`. */
export async function invokeAction(client: UserFunctionClient, method: MethodModel, payload: Any, metadata: readonly MetadataEntry[], signal?: AbortSignal): Promise<UserFunctionReply> {
  const command: ActionCommand = { service_name: method.serviceName, name: method.name, payload, metadata: metadataOf(metadata) };
  return fromActionResponse(await client.actionUnary(command, signal));
}

/**
 * The replies of a streamed action call (any of the three streaming shapes), unrouted, in the
 * order the user function sent them. Throws `UserFunctionCallError` when the call fails.
 */
export async function* streamAction(client: UserFunctionClient, call: Call): AsyncGenerator<UserFunctionReply> {
  const { method } = call;
  const header: ActionCommand = { service_name: method.serviceName, name: method.name, metadata: metadataOf(call.metadata) };
  const payload = (value: Uint8Array): Any => ({ type_url: method.inputTypeUrl, value });
  if (method.clientStreaming) {
    async function* commands(): AsyncGenerator<ActionCommand> {
      yield header;
      for await (const request of call.requests) yield { payload: payload(request) };
    }
    if (method.serverStreaming) {
      for await (const response of client.actionStreamed(commands(), call.signal)) yield fromActionResponse(response);
    } else {
      yield fromActionResponse(await client.actionStreamedIn(commands(), call.signal));
    }
    return;
  }
  const request = await singleRequest(call.requests);
  const command: ActionCommand = { ...header, payload: payload(request) };
  if (method.serverStreaming) {
    for await (const response of client.actionStreamedOut(command, call.signal)) yield fromActionResponse(response);
  } else {
    yield fromActionResponse(await client.actionUnary(command, call.signal));
  }
}

/** The one request message of a call that is not client streaming (an empty message if the client sent none). */
export async function singleRequest(requests: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  let first: Uint8Array | undefined;
  for await (const request of requests) first ??= request;
  return first ?? new Uint8Array(0);
}
