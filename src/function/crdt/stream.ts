/**
 * The life of one CRDT `handle` stream: the first message must be `init` (creating the
 * instance), then messages are handled strictly one at a time, in arrival order, even when
 * handlers are async; each answer is zero or more messages (a reply, then streamed messages to
 * other open calls). A stream-level `failure` (a crashed handler, an incompatible delta, a
 * protocol violation) is written and the stream is ended. When the proxy half-closes, the stream
 * is ended after pending messages.
 */
import type { Logger } from '../../core/index.js';
import type { CrdtStreamIn, CrdtStreamOut } from '../../protocol/index.js';
import type { DuplexCall } from '../entity-stream.js';
import type { CrdtInstance } from './instance.js';
import type { CrdtState } from './state.js';

/** Serves one `cloudstate.crdt.Crdt/handle` stream; `create` makes the instance of an init (throws when the service is not served). */
export function serveCrdtStream(
  call: DuplexCall<CrdtStreamIn, CrdtStreamOut>,
  create: (message: CrdtStreamIn) => CrdtInstance<CrdtState>,
  logger: Logger,
): void {
  let instance: CrdtInstance<CrdtState> | undefined;
  let closed = false;
  let queue: Promise<void> = Promise.resolve();
  const end = () => {
    if (closed) return;
    closed = true;
    call.end();
  };
  const failStream = (description: string, commandId = 0) => {
    if (closed) return;
    logger.error({ failure: description }, 'CRDT entity failed; ending its stream');
    call.write({ failure: { command_id: commandId, description } });
    end();
  };
  const answer = async (message: CrdtStreamIn): Promise<CrdtStreamOut[]> => {
    if (message.init) {
      if (instance !== undefined) throw new Error('init message received twice');
      instance = create(message);
      return [];
    }
    if (instance === undefined) throw new Error('message received before init');
    if (message.command) return instance.command(message.command);
    if (message.delta) return instance.delta(message.delta);
    if (message.delete) return instance.deleted();
    if (message.stream_cancelled) return instance.streamCancelled(message.stream_cancelled);
    throw new Error('empty or unknown CrdtStreamIn message');
  };
  const process = async (message: CrdtStreamIn) => {
    if (closed) return;
    for (const out of await answer(message)) {
      if (closed) return;
      if (out.failure) return failStream(out.failure.description ?? '', Number(out.failure.command_id ?? 0));
      call.write(out);
    }
  };
  call.on('data', (message) => {
    queue = queue.then(() => process(message)).catch((error: unknown) => {
      failStream(error instanceof Error ? error.message : String(error));
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
