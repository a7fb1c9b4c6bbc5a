/**
 * The grpc-js implementation of `cloudstate.action.ActionProtocol`: routes each of the four call
 * shapes to the served `Action` by service name, splits client streams into their header (the
 * first message) and the payload messages after it, and turns unexpected handler exceptions into
 * a logged failure response (the client sees `Unexpected error in <service>.<command>`, not the
 * exception's text).
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../core/index.js';
import type { ActionCommand, ActionResponse } from '../protocol/index.js';
import type { Action } from './action.js';
import type { ServiceRegistry } from './context.js';

/** The messages of a gRPC client stream as an async iterator. Not the stream's own
 * `Symbol.asyncIterator`: that destroys the call when the input ends, and a destroyed server
 * call can no longer send its responses and status. */
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

/** The first message (the header) of a client stream, and the rest of it. */
async function split(call: NodeJS.EventEmitter): Promise<{ header: ActionCommand | undefined; rest: AsyncIterable<ActionCommand> }> {
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
 * Handlers for the `ActionProtocol` service. `actionOf` finds the served action of a service name
 * (undefined when there is none: the call is answered with a failure saying so).
 */
export function actionProtocolHandlers(
  actionOf: (serviceName: string | undefined) => Action | undefined,
  registry: ServiceRegistry,
  logger: Logger,
): grpc.UntypedServiceImplementation {
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
  return {
    handleUnary: (call: grpc.ServerUnaryCall<ActionCommand, ActionResponse>, callback: grpc.sendUnaryData<ActionResponse>) => {
      const action = actionOf(call.request.service_name);
      if (!action) return callback(null, notServed(call.request.service_name));
      action.unary(call.request, registry).then(
        (response) => callback(null, response),
        (error: unknown) => callback(null, unexpected(error, call.request)),
      );
    },
    handleStreamedIn: (call: grpc.ServerReadableStream<ActionCommand, ActionResponse>, callback: grpc.sendUnaryData<ActionResponse>) => {
      void split(call).then(async ({ header, rest }) => {
        if (!header) return callback(null, {});
        const action = actionOf(header.service_name);
        if (!action) return callback(null, notServed(header.service_name));
        const response = await action.streamedIn(header, rest, registry).catch((error: unknown) => unexpected(error, header));
        callback(null, response);
      }, (error: unknown) => logger.warn({ err: error }, 'streamed-in action call broke'));
    },
    handleStreamedOut: (call: grpc.ServerWritableStream<ActionCommand, ActionResponse>) => streamed(call, call.request, undefined),
    handleStreamed: (call: grpc.ServerDuplexStream<ActionCommand, ActionResponse>) => {
      void split(call).then(({ header, rest }) => {
        if (!header) return call.end();
        streamed(call, header, rest);
      }, (error: unknown) => logger.warn({ err: error }, 'streamed action call broke'));
    },
  };
}
