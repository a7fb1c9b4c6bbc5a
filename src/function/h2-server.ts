/**
 * A small gRPC server on raw `node:http2` (plaintext h2c), for the user function: the proxy's
 * calls to it (discovery, entity `handle` streams, actions) are all it serves.
 *
 * Why not @grpc/grpc-js's Server: under load its call stack (interceptors, the server call's
 * async read queue, a Node stream per call) cost a large share of the ≈95 µs of CPU a command
 * took in the user function. Here a call is one object on its HTTP/2 stream: each DATA chunk is
 * decoded into messages at once, and a write is one `Http2Stream.write` of a framed message.
 *
 * It owns routing by `:path` to a handler of one of the four call shapes, gRPC framing
 * (src/protocol/grpc-frames.ts), and each call's end as a gRPC status, as grpc-js's server ends
 * it: `:status 200` and `content-type: application/grpc`, then `grpc-status` / `grpc-message`
 * (percent-encoded) in the trailers, or a trailers-only response when no message was sent; an
 * unknown path is UNIMPLEMENTED; a request that is not `application/grpc` gets HTTP 415. It
 * answers uncompressed and takes requests compressed with `gzip` or `deflate` (another
 * `grpc-encoding` is UNIMPLEMENTED, a compressed frame without one INTERNAL, as the gRPC spec
 * says). A call's deadline (`grpc-timeout`; a malformed one is ignored) is enforced here too, as
 * grpc-js's server does: the client's own deadline ends the call on its side and its RST_STREAM
 * cancels it here, but a client that stops waiting without a reset (or whose reset is lost) would
 * leave a slow handler or a long server stream running forever. At the deadline the call ends
 * DEADLINE_EXCEEDED and its handler is cancelled as by a reset. No metadata reaches handlers
 * (the Cloudstate protocol carries its metadata in messages).
 */
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/index.js';
import { encodeFrame, encodeGrpcMessage, FrameDecoder, GRPC_ACCEPT_ENCODING, grpcEncoding, GrpcFrameError, GrpcStatus, parseGrpcTimeout } from '../protocol/index.js';
import type { GrpcEncoding } from '../protocol/index.js';

/** A method served: its path (`/package.Service/Method`) and how its messages cross the wire. */
export interface GrpcMethod<Request, Response> {
  readonly path: string;
  /** Decodes a request message (its own copy of the bytes); throws on malformed bytes. */
  decode(bytes: Buffer): Request;
  encode(message: Response): Uint8Array;
}

/** Thrown (or rejected with) by a handler to end its call with status `code` and `message`. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}

/** grpc-js's default limit of a received message, kept: 4 MiB. */
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Receive windows: a stream's holds a whole message of the default limit, and the session's
 * many streams' worth, so that the proxy's thousands of `handle` streams never wait for a
 * WINDOW_UPDATE (messages are decoded as they arrive: the windows are not buffers). Session
 * memory is not limited, as grpc-js does not limit it: Node degrades badly at the limit.
 */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 64 * 1024 * 1024;
const SERVER_OPTIONS: http2.ServerOptions = {
  settings: { initialWindowSize: STREAM_WINDOW_BYTES },
  maxSessionMemory: 1_000_000, // megabytes
};

const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': GRPC_ACCEPT_ENCODING };

/** The status of a call's end, as headers (`grpc-message` only when there is one). */
function statusHeaders(code: number, message: string): http2.OutgoingHttpHeaders {
  return message ? { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) } : { 'grpc-status': String(code) };
}

/** How a route starts a call: at once (client streaming, bidi), or with the one request, at the client's half-close. */
interface Route {
  readonly method: GrpcMethod<unknown, unknown>;
  /** The request is one message, read before the handler starts. */
  readonly single: boolean;
  begin(call: ServerCall<unknown, unknown>, request: unknown): void;
}

/**
 * One call, as its handler sees it. Events: the client's messages (`data`), its half-close
 * (`end`), its cancellation (`cancelled`: the stream closed before the status went out: a
 * RST_STREAM, a lost connection, a forced shutdown; or the call's deadline passed, which ends
 * it DEADLINE_EXCEEDED), a protocol error that ended the call
 * (`error`: a malformed or oversized frame; emitted only when listened to), and `close` once the
 * HTTP/2 stream is gone, however the call ended. `write` sends a message (not waiting for the
 * peer's flow control: writes are buffered), `end` ends the call OK; both do nothing once the
 * call ended.
 */
export class ServerCall<Request, Response> extends EventEmitter {
  /** True once the call was cancelled: by the client, or by its deadline. */
  cancelled = false;
  private readonly decoder: FrameDecoder;
  private headersSent = false;
  /** The status is decided: nothing more is sent, and incoming messages are dropped. */
  private finished = false;
  /** The status went out (trailers, or a trailers-only response). */
  private statusSent = false;
  private status: number = GrpcStatus.OK;
  private message = '';
  private requests = 0;
  private request: Request | undefined;
  /** Ends the call at its deadline (`grpc-timeout`); cleared when the call ends. */
  private deadline: NodeJS.Timeout | undefined;

  /** @internal Made by `GrpcH2Server` for each routed stream. */
  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly route: Route,
    maxReceiveMessageBytes: number,
    private readonly logger: Logger,
    encoding: GrpcEncoding = 'identity',
    timeoutMs?: number,
  ) {
    super();
    this.decoder = new FrameDecoder(maxReceiveMessageBytes, encoding);
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => this.deadlineExceeded(), timeoutMs);
      this.deadline.unref();
    }
    stream.on('data', (chunk: Buffer) => this.received(chunk));
    stream.on('end', () => this.halfClosed());
    stream.on('close', () => this.closed());
    if (!route.single) this.run(() => route.begin(this as ServerCall<unknown, unknown>, undefined));
  }

  /** Sends a message (the response headers first, if not yet sent). */
  write(message: Response): void {
    if (this.finished || this.stream.destroyed) return;
    let bytes: Uint8Array;
    try {
      bytes = this.route.method.encode(message);
    } catch (error) {
      this.endWithError(new GrpcStatusError(GrpcStatus.INTERNAL, `Error serializing response: ${messageOf(error)}`));
      return;
    }
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
      this.stream.once('wantTrailers', () => {
        this.stream.sendTrailers(statusHeaders(this.status, this.message));
        this.statusSent = true;
      });
    }
    this.stream.write(encodeFrame(bytes));
  }

  /** Ends the call OK (after the messages written). */
  end(): void {
    this.finish(GrpcStatus.OK, '');
  }

  /** @internal Runs handler code: what it throws ends the call with a status. */
  run(code: () => void): void {
    try {
      code();
    } catch (error) {
      this.fail(error);
    }
  }

  /** @internal Sends a unary or client-streaming handler's one response, or its failure. */
  answer(respond: () => Response | Promise<Response>): void {
    const reply = (response: Response) => {
      this.write(response);
      this.end();
    };
    try {
      const response = respond();
      if (response instanceof Promise) response.then(reply, (error: unknown) => this.fail(error));
      else reply(response);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Ends the call with the status of a handler's error: a `GrpcStatusError`'s, else UNKNOWN. */
  private fail(error: unknown): void {
    if (this.finished) {
      // Most often the handler's reading failed because the call was cancelled.
      this.logger.debug({ err: error, method: this.route.method.path }, 'gRPC handler failed after its call ended');
      return;
    }
    if (error instanceof GrpcStatusError) return this.finish(error.code, error.message);
    this.logger.error({ err: error, method: this.route.method.path }, 'gRPC handler failed');
    this.finish(GrpcStatus.UNKNOWN, messageOf(error));
  }

  /** Ends the call with the status of a protocol error, and tells the handler (`error`). */
  private endWithError(error: GrpcStatusError | GrpcFrameError): void {
    if (this.finished) return;
    this.finish(error instanceof GrpcFrameError ? error.status : error.code, error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private finish(status: number, message: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (this.headersSent) {
      this.status = status;
      this.message = message;
      stream.end(); // 'wantTrailers' sends the status
    } else {
      stream.respond({ ...RESPONSE_HEADERS, ...statusHeaders(status, message) }, { endStream: true });
      this.statusSent = true;
    }
  }

  private received(chunk: Buffer): void {
    if (this.finished) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      return this.endWithError(error as GrpcFrameError);
    }
    for (const frame of frames) {
      if (this.finished) return;
      let message: Request;
      try {
        // A copy: views would pin the session's read buffer for as long as the message lives.
        message = this.route.method.decode(Buffer.from(frame)) as Request;
      } catch (error) {
        return this.endWithError(new GrpcStatusError(GrpcStatus.INTERNAL, `Error deserializing request: ${messageOf(error)}`));
      }
      if (!this.route.single) this.emit('data', message);
      else if (this.requests++ === 0) this.request = message;
      else return this.endWithError(new GrpcStatusError(GrpcStatus.INTERNAL, `${this.route.method.path} takes one request message; the client sent more`));
    }
  }

  private halfClosed(): void {
    // 'end' comes after a reset too (a lost connection, a forced shutdown): that is a
    // cancellation, which 'close' reports, not a half-close.
    if (this.finished || this.stream.closed) return;
    if (this.decoder.partial) return this.endWithError(new GrpcStatusError(GrpcStatus.INTERNAL, 'the request stream ended in the middle of a message'));
    if (!this.route.single) {
      this.emit('end');
      return;
    }
    if (this.requests === 0) return this.endWithError(new GrpcStatusError(GrpcStatus.INTERNAL, `${this.route.method.path} takes one request message; the client sent none`));
    const request = this.request;
    this.request = undefined;
    this.run(() => this.route.begin(this as ServerCall<unknown, unknown>, request));
  }

  /**
   * The stream is gone. Before the status went out, that is a cancellation: a RST_STREAM from
   * the client (which Node's clients send after an END_STREAM: a cancel is seen as 'end', then
   * 'cancelled'), a closed connection, a forced shutdown.
   */
  private closed(): void {
    clearTimeout(this.deadline);
    if (!this.statusSent) {
      this.finished = true;
      this.cancel();
    }
    this.emit('close');
  }

  /** The deadline passed with the call still open: it ends DEADLINE_EXCEEDED, and its handler is cancelled. */
  private deadlineExceeded(): void {
    if (this.finished) return;
    this.finish(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded');
    this.cancel();
  }

  /** Tells the handler, once, that its call is cancelled (its writes are dropped from now on). */
  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled');
  }
}

/** What a unary handler sees of its call, beside the request: whether (`cancelled`) and when (the `cancelled` event) it is cancelled. */
export type ServerUnaryCall = Pick<ServerCall<never, never>, 'on' | 'cancelled'>;
/** What a client-streaming handler sees of its call: the incoming messages; it answers by resolving. */
export type ServerReadable<Request> = Pick<ServerCall<Request, never>, 'on' | 'cancelled'>;
/** What a server-streaming handler sees of its call: no incoming messages (it got the one request). */
export type ServerWritable<Response> = Pick<ServerCall<never, Response>, 'on' | 'write' | 'end' | 'cancelled'>;

export interface GrpcH2ServerOptions {
  readonly logger: Logger;
  /** A larger received message ends its call with RESOURCE_EXHAUSTED; default 4 MiB. */
  readonly maxReceiveMessageBytes?: number;
}

/** Routes the calls of an HTTP/2 server to handlers; register them, then `listen`. */
export class GrpcH2Server {
  private readonly routes = new Map<string, Route>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly logger: Logger;
  private readonly maxReceiveMessageBytes: number;
  private server: http2.Http2Server | undefined;

  constructor(options: GrpcH2ServerOptions) {
    this.logger = options.logger;
    this.maxReceiveMessageBytes = options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES;
  }

  /**
   * A unary method: the handler's result (or promise) is the response; an error ends the call
   * (see `GrpcStatusError`). `call` tells the handler of a cancellation (the answer is then dropped).
   */
  unary<Request, Response>(method: GrpcMethod<Request, Response>, handler: (request: Request, call: ServerUnaryCall) => Response | Promise<Response>): this {
    return this.route(method, true, (call, request) => call.answer(() => handler(request as Request, call as ServerCall<never, never>)));
  }

  /** A client-streaming method: the handler reads the call's messages and resolves the response. */
  clientStream<Request, Response>(method: GrpcMethod<Request, Response>, handler: (call: ServerReadable<Request>) => Promise<Response>): this {
    return this.route(method, false, (call) => call.answer(() => handler(call as ServerCall<Request, never>)));
  }

  /** A server-streaming method: the handler gets the request and writes to the call, then ends it. */
  serverStream<Request, Response>(method: GrpcMethod<Request, Response>, handler: (request: Request, call: ServerWritable<Response>) => void): this {
    return this.route(method, true, (call, request) => handler(request as Request, call as ServerCall<never, Response>));
  }

  /** A bidi-streaming method: the handler reads and writes the call, then ends it. */
  bidi<Request, Response>(method: GrpcMethod<Request, Response>, handler: (call: ServerCall<Request, Response>) => void): this {
    return this.route(method, false, (call) => handler(call as ServerCall<Request, Response>));
  }

  /** Starts listening on `host:port` (0 picks a free port); resolves the bound port. */
  async listen(host: string, port: number): Promise<number> {
    if (this.server) throw new Error('server already listening');
    const server = http2.createServer(SERVER_OPTIONS);
    server.on('session', (session) => this.opened(session));
    server.on('stream', (stream, headers) => this.serve(stream, headers));
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.server = undefined;
      throw error;
    }
    server.on('error', (error) => this.logger.error({ err: error }, 'gRPC server error'));
    return (server.address() as AddressInfo).port;
  }

  /**
   * Stops listening and closes every session gracefully (GOAWAY: calls in flight go on, new
   * ones are refused); after `graceMs` the sessions still open are destroyed, cancelling their
   * calls. Resolves when all are closed.
   */
  async close(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const session of this.sessions) session.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
        resolve();
      }, graceMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const session of this.sessions) session.close();
    });
  }

  private route(method: GrpcMethod<unknown, unknown>, single: boolean, begin: Route['begin']): this {
    if (this.routes.has(method.path)) throw new Error(`${method.path} is served twice`);
    this.routes.set(method.path, { method, single, begin });
    return this;
  }

  private opened(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    session.on('error', (error) => this.logger.debug({ err: error }, 'HTTP/2 session error'));
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
  }

  private serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', (error) => this.logger.debug({ err: error }, 'HTTP/2 stream error'));
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': 415 }, { endStream: true });
      stream.resume();
      return;
    }
    const path = headers[':path'] ?? '';
    const route = this.routes.get(path);
    const encoding = grpcEncoding(headers['grpc-encoding']);
    const refused =
      route === undefined
        ? { code: GrpcStatus.UNIMPLEMENTED, message: `The server does not implement the method ${path}` }
        : encoding === undefined
          ? { code: GrpcStatus.UNIMPLEMENTED, message: `message encoding '${String(headers['grpc-encoding'])}' is not supported; this server accepts ${GRPC_ACCEPT_ENCODING}` }
          : undefined;
    if (refused) {
      stream.respond({ ...RESPONSE_HEADERS, ...statusHeaders(refused.code, refused.message) }, { endStream: true });
      stream.resume();
      return;
    }
    const timeout = headers['grpc-timeout'];
    new ServerCall(stream, route!, this.maxReceiveMessageBytes, this.logger, encoding, parseGrpcTimeout(typeof timeout === 'string' ? timeout : undefined));
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
