/**
 * Ending the ingress's answer-streams when it closes. A call that answers with a stream (server
 * streaming or bidirectional: a watch, an SSE feed, a chat) stays open as long as its client
 * likes, mostly idle; the grace period a closing ingress gives calls in flight is for calls that
 * answer once and are done (unary, client streaming). So `drain` ends every answer-stream open
 * now, and every one that starts later, with UNAVAILABLE "the proxy is shutting down" (a status
 * clients may retry on another node). Each transport sends it as it sends any failure (gRPC
 * trailers, the gRPC-Web trailer frame, an SSE `error` event), and the handler's signal is
 * aborted with it, so the user function's side of the call is cancelled too.
 *
 * Works by wrapping the dispatcher's `stream` (and the ingress's own streaming services): the
 * transports are unchanged, and a call that does not stream answers never passes through here.
 */
import { CallError, Status, type Call, type Dispatcher, type Response } from '../dispatch.js';
import type { StreamHandler } from './call.js';

/** The status an answer-stream ends with when the ingress closes. */
export const SHUTTING_DOWN = 'the proxy is shutting down';

export class StreamDrain {
  /** How to end each open answer-stream. */
  private readonly open = new Set<(reason: CallError) => void>();
  private reason: CallError | undefined;

  /** `dispatcher`, its answer-streams ended by `drain`; its unary calls untouched. */
  dispatcher(dispatcher: Dispatcher): Dispatcher {
    return { unary: dispatcher.unary.bind(dispatcher), stream: this.handler((call) => dispatcher.stream(call)) };
  }

  /** `handler`, its answer-streams ended by `drain`. */
  handler(handler: StreamHandler): StreamHandler {
    return (call) => (call.method.serverStreaming ? this.drainable(call, handler) : handler(call));
  }

  /** Answer-streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** Ends every open answer-stream, and from now on every new one as it starts. Idempotent. */
  drain(): void {
    this.reason ??= new CallError(Status.UNAVAILABLE, SHUTTING_DOWN);
    for (const end of [...this.open]) end(this.reason);
  }

  private async *drainable(call: Call, handler: StreamHandler): AsyncGenerator<Response> {
    if (this.reason !== undefined) throw this.reason;
    // The handler's signal: the client's, and aborted by `drain` too.
    const stop = new AbortController();
    const onClientAbort = () => stop.abort(call.signal.reason);
    if (call.signal.aborted) onClientAbort();
    else call.signal.addEventListener('abort', onClientAbort, { once: true });
    let stopped: CallError | undefined;
    let interrupt: ((reason: CallError) => void) | undefined;
    const end = (reason: CallError) => {
      stopped = reason;
      stop.abort(reason);
      interrupt?.(reason);
    };
    this.open.add(end);
    let responses: AsyncIterator<Response> | undefined;
    // Whether the handler's iteration ended by itself (done, or threw); if not, it is returned.
    let finished = false;
    const settle = (result: IteratorResult<Response>) => {
      if (result.done) finished = true;
      return result;
    };
    const fail = (error: unknown): never => {
      finished = true;
      throw error;
    };
    try {
      const iterator = handler({ ...call, signal: stop.signal })[Symbol.asyncIterator]();
      responses = iterator;
      for (;;) {
        if (stopped !== undefined) throw stopped;
        // A fresh promise per message that `end` can reject (racing one long-lived promise
        // would pile a reaction on it per message).
        const next = await new Promise<IteratorResult<Response>>((resolve, reject) => {
          interrupt = reject;
          iterator.next().then(settle, fail).then(resolve, reject);
        });
        interrupt = undefined;
        if (next.done) return;
        yield next.value;
      }
    } finally {
      this.open.delete(end);
      call.signal.removeEventListener('abort', onClientAbort);
      // Cut short (drained, or the consumer stopped reading): let the handler clean up, as a
      // for-await over it would have.
      if (!finished && responses !== undefined) void Promise.resolve(responses.return?.()).catch(() => undefined);
    }
  }
}
