/**
 * `cloudstate.action.ActionProtocol` on the library's HTTP/2 server (./h2-server.ts): routes
 * each of the four call shapes to the served `Action` by service name, splits client streams
 * into their header (the first message) and the payload messages after it, and turns unexpected
 * handler exceptions into a logged failure response (the client sees `Unexpected error in
 * <service>.<command>`, not the exception's text).
 */
import type { Logger } from '../core/index.js';
import { EntityType, protocolRoot, type ActionCommand, type ActionResponse } from '../protocol/index.js';
import type { Action } from './action.js';
import type { ServiceRegistry } from './context.js';
import { serverMethod } from './grpc-definitions.js';
import type { GrpcH2Server, ServerReadable } from './h2-server.js';

/**
 * The messages of a gRPC client stream as an async iterator. It ends when the client
 * half-closes, or when the call is over before that (the handler ended it: nothing more will be
 * read); it fails when the client cancels or the stream breaks the protocol.
 */
function incoming<T>(stream: ServerReadable<T>): AsyncIterator<T> {
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
  stream.on('close', () => finish());
  return {
    next: () => {
      if (buffered.length > 0) return Promise.resolve({ value: buffered.shift()!, done: false });
      if (failure) return Promise.reject(failure);
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

/** The first message (the header) of a client stream, and the rest of it. */
async function split(call: ServerReadable<ActionCommand>): Promise<{ header: ActionCommand | undefined; rest: AsyncIterable<ActionCommand> }> {
  const iterator = incoming<ActionCommand>(call);
  const first = await iterator.next();
  return { header: first.done ? undefined : first.value, rest: { [Symbol.asyncIterator]: () => iterator } };
}

interface ResponseStream {
  write(response: ActionResponse): unknown;
  end(): unknown;
  on(event: 'cancelled', listener: () => void): unknown;
}

/**
 * Serves the `ActionProtocol` service on `server`. `actionOf` finds the served action of a
 * service name (undefined when there is none: the call is answered with a failure saying so).
 */
export function serveActionProtocol(
  server: GrpcH2Server,
  actionOf: (serviceName: string | undefined) => Action | undefined,
  registry: ServiceRegistry,
  logger: Logger,
): void {
  const service = protocolRoot().lookupService(EntityType.action);
  const method = (name: string) => serverMethod<ActionCommand, ActionResponse>(service, name);
  const notServed = (serviceName: string | undefined): ActionResponse => ({
    failure: { description: `service ${serviceName ?? '(none)'} is not served as an action here` },
  });
  const unexpected = (error: unknown, command: ActionCommand): ActionResponse => {
    logger.error({ err: error, service: command.service_name, command: command.name }, 'action handler failed');
    return { failure: { description: `Unexpected error in ${command.service_name ?? ''}.${command.name ?? ''}` } };
  };
  const streamed = (call: ResponseStream, header: ActionCommand, rest: AsyncIterable<ActionCommand> | undefined) => {
    const action = actionOf(header.service_name);
    const sink = { write: (response: ActionResponse) => call.write(response), end: () => call.end() };
    if (!action) {
      sink.write(notServed(header.service_name));
      sink.end();
      return;
    }
    action
      .streamed(header, rest, sink, registry, (cancel) => call.on('cancelled', cancel))
      .catch((error: unknown) => logger.error({ err: error, service: header.service_name, command: header.name }, 'streamed action handler failed'));
  };
  server
    .unary(method('handleUnary'), async (command, call) => {
      const action = actionOf(command.service_name);
      if (!action) return notServed(command.service_name);
      return action.unary(command, registry, (cancel) => call.on('cancelled', cancel)).catch((error: unknown) => unexpected(error, command));
    })
    .clientStream(method('handleStreamedIn'), async (call) => {
      const { header, rest } = await split(call);
      if (!header) return {};
      const action = actionOf(header.service_name);
      if (!action) return notServed(header.service_name);
      return action.streamedIn(header, rest, registry, (cancel) => call.on('cancelled', cancel)).catch((error: unknown) => unexpected(error, header));
    })
    .serverStream(method('handleStreamedOut'), (command, call) => streamed(call, command, undefined))
    .bidi(method('handleStreamed'), (call) => {
      void split(call).then(({ header, rest }) => {
        if (!header) return call.end();
        streamed(call, header, rest);
      }, (error: unknown) => logger.warn({ err: error }, 'streamed action call broke'));
    });
}
