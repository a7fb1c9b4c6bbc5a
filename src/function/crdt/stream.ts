/**
 * The CRDT `handle` stream: `../entity-stream.ts` runs its life (init first, one message at a
 * time, failures ending the stream); this routes each later message to the instance.
 */
import type { Logger } from '../../core/index.js';
import type { CrdtStreamIn, CrdtStreamOut } from '../../protocol/index.js';
import { serveEntityStream } from '../entity-stream.js';
import type { DuplexCall } from '../entity-stream.js';
import type { CrdtInstance } from './instance.js';
import type { CrdtState } from './state.js';

/** Serves one `cloudstate.crdt.Crdt/handle` stream; `create` makes the instance of an init (throws when the service is not served). */
export function serveCrdtStream(
  call: DuplexCall<CrdtStreamIn, CrdtStreamOut>,
  create: (message: CrdtStreamIn) => CrdtInstance<CrdtState>,
  logger: Logger,
): void {
  serveEntityStream<CrdtStreamIn, CrdtStreamOut, CrdtInstance<CrdtState>>(
    call,
    {
      initOf: (message) => message.init,
      create,
      handle: (instance, message) => {
        if (message.command) return instance.command(message.command);
        if (message.delta) return instance.delta(message.delta);
        if (message.delete) return instance.deleted();
        if (message.stream_cancelled) return instance.streamCancelled(message.stream_cancelled);
        throw new Error('empty or unknown CrdtStreamIn message');
      },
    },
    logger,
  );
}
