/**
 * The life of one entity `handle` stream (event sourced, value entity or CRDT), independent of
 * the entity type: the first message must be `init` (creating the instance), then messages are
 * handled strictly one at a time, in arrival order, even when handlers are async; each answer is
 * zero or more messages (a CRDT command's reply, then messages to its other open calls). A
 * stream-level `failure` (a crashed handler, a protocol violation) is written and the stream is
 * ended; later messages are ignored. When the proxy half-closes, the stream is ended after
 * pending messages.
 */
import type { Logger } from '../core/index.js';
import type { Failure } from '../protocol/index.js';

/** The parts of a bidi server call (./h2-server.ts `ServerCall`) this needs. */
export interface DuplexCall<In, Out> {
  on(event: 'data', listener: (message: In) => void): unknown;
  on(event: 'end' | 'cancelled' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  write(message: Out): unknown;
  end(): unknown;
}

/** What an entity type supplies to a stream. */
export interface EntityStreamHandler<In, Out extends { failure?: Failure | null }, Instance> {
  /** The init message of `message`, or undefined when it is not an init. */
  initOf(message: In): { service_name?: string } | null | undefined;
  /** Creates the instance; throws (with a message for the proxy) when the service is unknown. */
  create(message: In): Instance;
  /** Handles a non-init message; its outputs (if any) are written in order, and a `failure` output ends the stream. */
  handle(instance: Instance, message: In): Promise<Out | readonly Out[] | undefined> | Out | readonly Out[] | undefined;
}

/** Serves one `handle` stream. */
export function serveEntityStream<In, Out extends { failure?: Failure | null }, Instance>(
  call: DuplexCall<In, Out>,
  handler: EntityStreamHandler<In, Out, Instance>,
  logger: Logger,
): void {
  let instance: Instance | undefined;
  let closed = false;
  let queue: Promise<void> = Promise.resolve();
  const end = () => {
    if (closed) return;
    closed = true;
    call.end();
  };
  const failStream = (description: string) => {
    if (closed) return;
    call.write({ failure: { command_id: 0, description } } as Out);
    end();
  };
  const process = async (message: In) => {
    if (closed) return;
    const init = handler.initOf(message);
    if (init) {
      if (instance !== undefined) return failStream('init message received twice');
      instance = handler.create(message);
      return;
    }
    if (instance === undefined) return failStream('message received before init');
    const answer = await handler.handle(instance, message);
    const outs: readonly Out[] = answer === undefined ? [] : Array.isArray(answer) ? answer : [answer as Out];
    for (const out of outs) {
      if (closed) return;
      call.write(out);
      if (out.failure) {
        logger.error({ failure: out.failure.description }, 'entity failed; ending its stream');
        return end();
      }
    }
  };
  call.on('data', (message) => {
    queue = queue.then(() => process(message)).catch((error: unknown) => {
      const description = error instanceof Error ? error.message : String(error);
      logger.error({ err: error }, 'entity stream failed');
      failStream(description);
    });
  });
  call.on('end', () => {
    queue = queue.then(end);
  });
  call.on('cancelled', () => {
    closed = true;
  });
  call.on('error', () => {
    closed = true;
  });
}
