/**
 * What every gRPC transport of the ingress (HTTP/2 gRPC, gRPC-Web) shares once a streaming call
 * is framed: the queue of incoming request messages (with backpressure on the socket), the loop
 * that sends the handler's responses to a `CallSink`, and the mapping of a thrown error to a
 * gRPC status. Unary calls skip all of this (./grpc-server.ts calls `Dispatcher.unary`).
 */
import type { Logger } from '../../core/index.js';
import type { MetadataEntry } from '../../protocol/index.js';
import { CallError, Status, type Call, type Response } from '../dispatch.js';
import { GrpcFrameError } from './grpc-wire.js';

/** Serves a streaming call: the dispatcher's `stream`, or a service of the ingress itself (reflection). */
export type StreamHandler = (call: Call) => AsyncIterable<Response>;

/** The status and message a call ends with, from whatever it threw. */
export function errorStatus(error: unknown, logger: Logger, path: string): { status: number; message: string } {
  if (error instanceof CallError) return { status: error.status, message: error.message };
  if (error instanceof GrpcFrameError) return { status: error.status, message: error.message };
  logger.error({ err: error, path }, 'call failed with an unexpected error');
  return { status: Status.INTERNAL, message: `internal error: ${(error as Error)?.message ?? String(error)}` };
}

/**
 * The request messages of a streaming call, as the `AsyncIterable` the dispatcher reads. The
 * transport pushes; when more than `highWater` messages wait, `pause` is called, and `resume`
 * once the reader has taken them. One reader only.
 */
export class RequestQueue implements AsyncIterable<Uint8Array> {
  private readonly buffered: Uint8Array[] = [];
  private ended = false;
  private failure: unknown;
  private waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: unknown) => void } | undefined;
  private paused = false;

  constructor(
    private readonly pause: () => void,
    private readonly resume: () => void,
    private readonly highWater = 16,
  ) {}

  push(message: Uint8Array): void {
    if (this.ended) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve({ value: message, done: false });
      return;
    }
    this.buffered.push(message);
    if (!this.paused && this.buffered.length >= this.highWater) {
      this.paused = true;
      this.pause();
    }
  }

  /** No more messages: the reader sees the end after the buffered ones. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.settle();
  }

  /** The request stream broke: the reader gets `error` after the buffered messages. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.settle();
  }

  private settle(): void {
    const waiter = this.waiter;
    if (waiter === undefined || this.buffered.length > 0) return;
    this.waiter = undefined;
    if (this.failure !== undefined) waiter.reject(this.failure);
    else waiter.resolve({ value: undefined, done: true });
  }

  private next(): Promise<IteratorResult<Uint8Array>> {
    const message = this.buffered.shift();
    if (message !== undefined) {
      if (this.paused && this.buffered.length === 0) {
        this.paused = false;
        this.resume();
      }
      return Promise.resolve({ value: message, done: false });
    }
    if (this.ended) return this.failure !== undefined ? Promise.reject(this.failure) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.next(),
      return: () => {
        this.buffered.length = 0;
        this.ended = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** An already-complete list of request messages as an `AsyncIterable`. */
export async function* requestsOf(messages: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* messages;
}

/** Where a call's responses go. */
export interface CallSink {
  /** Called once, before the first message, with the first reply's metadata. */
  sendHeaders(metadata: readonly MetadataEntry[] | undefined): void;
  /** Sends one message; resolves when the transport can take more. */
  sendMessage(payload: Uint8Array): void | Promise<void>;
  /** Ends the call (sending headers first if none were sent: a trailers-only answer). */
  end(status: number, message: string | undefined): void;
}

/**
 * Runs a streaming call to its end: sends each response to `sink`, then the final status
 * (OK, or the status of what the handler threw). Never throws. Returns the final status.
 */
export async function runStreamingCall(handler: StreamHandler, call: Call, sink: CallSink, logger: Logger): Promise<number> {
  let headersSent = false;
  try {
    for await (const response of handler(call)) {
      if (call.signal.aborted) break;
      if (!headersSent) {
        headersSent = true;
        sink.sendHeaders(response.metadata);
      }
      const backpressure = sink.sendMessage(response.payload);
      if (backpressure !== undefined) await backpressure;
    }
    if (call.signal.aborted) {
      const reason: unknown = call.signal.reason;
      const { status, message } = reason instanceof CallError ? reason : { status: Status.CANCELLED, message: 'call cancelled' };
      sink.end(status, message);
      return status;
    }
    sink.end(Status.OK, undefined);
    return Status.OK;
  } catch (error) {
    const { status, message } = call.signal.aborted && call.signal.reason instanceof CallError ? call.signal.reason : errorStatus(error, logger, call.method.path);
    sink.end(status, message);
    return status;
  }
}
