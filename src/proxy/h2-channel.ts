/**
 * A gRPC client channel on raw `node:http2`, for every call the proxy makes to the user function:
 * above all the entities' long-lived bidi `handle` streams, one per active entity, thousands at
 * once; also discovery and the action calls.
 *
 * Why not @grpc/grpc-js: under load, grpc-js's client call stack (interceptors → resolving-call →
 * retrying-call → load-balancing-call → subchannel-call, plus its async filter stack) cost ≈20 %
 * of the proxy's CPU per command, and its async steps split one command's writes across ticks.
 * The protocol needs none of it (no name resolution, load balancing, retries or metadata;
 * compression only as far as inflating what a server chose to compress; a deadline only for
 * discovery): here a write is one `Http2Stream.write` of a
 * framed message (nghttp2 coalesces a tick's frames into one socket write) and each DATA chunk is
 * decoded into messages at once.
 *
 * It owns one HTTP/2 session to `host:port` (plaintext h2c), opened lazily, shared by every
 * stream and opened again after it closed, with a back-off after a failed connect; gRPC framing
 * (src/protocol/grpc-frames.ts); and each call's end as a gRPC status: from the trailers, a
 * trailers-only response, the HTTP status, or the way the stream or connection ended (mapped as
 * grpc-js maps them), a call's deadline (`grpc-timeout`, enforced here too) and its write
 * back-pressure. It owns no retry and no protobuf: callers see bytes and statuses.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { systemClock, whenDrained } from '../core/index.js';
import type { Clock } from '../core/index.js';
import { decodeGrpcMessage, encodeFrame, FrameDecoder, GRPC_ACCEPT_ENCODING, grpcEncoding, GrpcFrameError } from '../protocol/index.js';
import { Status } from './dispatch.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

const USER_AGENT = `cloudstate-proxy (node:http2; node ${process.versions.node})`;

/**
 * Session options. Receive windows are large (8 MiB a stream, 64 MiB the connection) so that
 * thousands of streams never wait for a WINDOW_UPDATE. nghttp2 may open 10,000 streams before
 * the server's SETTINGS say how many it allows (Node's default is 100): a burst of entities
 * reconnecting after a restart is not trickled. Session memory is not limited, as grpc-js does
 * not limit it: Node degrades badly at the limit.
 */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 64 * 1024 * 1024;
const SESSION_OPTIONS: http2.ClientSessionOptions = {
  settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES },
  peerMaxConcurrentStreams: 10_000,
  maxSessionMemory: 1_000_000, // megabytes
};

/** How a call ended: a gRPC status code (0 is OK) and its description. */
export interface CallStatus {
  readonly code: number;
  readonly details: string;
  /**
   * The connection the call was on had been accepted by the server (its SETTINGS arrived) and
   * was lost while the call was open: what the call wrote may have reached the server. Unset
   * when the server could not be reached at all.
   */
  readonly connectionLost?: boolean;
}

/** What a call reports. */
export interface H2CallListener {
  /** A complete message, in order: its own copy of the bytes (views would pin the socket's read buffers). */
  onMessage(message: Buffer): void;
  /** The end, exactly once; nothing follows it. */
  onEnd(status: CallStatus): void;
}

export interface H2CallOptions {
  /**
   * The call ends DEADLINE_EXCEEDED (and is reset, CANCEL) if it has not ended this many ms
   * after it started; the server is told too (`grpc-timeout`). Default: no deadline.
   */
  readonly deadlineMs?: number;
}

export interface H2ChannelOptions {
  readonly host: string;
  readonly port: number;
  /** A larger message ends its call with RESOURCE_EXHAUSTED. */
  readonly maxInboundMessageBytes: number;
  /**
   * After a failed connect, calls fail at once (UNAVAILABLE) for `minMs`, then twice as long
   * after each further failure, up to `maxMs`. A connection that gets the server's SETTINGS
   * resets it.
   */
  readonly reconnectBackoff: { readonly minMs: number; readonly maxMs: number };
  readonly clock?: Clock;
}

/** One HTTP/2 session to the server. */
class Connection {
  readonly session: http2.ClientHttp2Session;
  /** The server's SETTINGS arrived: it speaks HTTP/2. */
  established = false;
  /** The socket closed: calls still open on it lost their connection. */
  lost = false;
  private active = 0;

  constructor(authority: string, host: string, port: number) {
    const socket = net.connect({ host, port, noDelay: true });
    // Registered before http2's own listener, which resets the open streams with CANCEL: by
    // the time they report it, `lost` says why.
    socket.once('close', () => {
      this.lost = true;
    });
    this.session = http2.connect(`http://${authority}`, { ...SESSION_OPTIONS, createConnection: () => socket });
    this.session.once('connect', () => this.session.setLocalWindowSize(SESSION_WINDOW_BYTES));
    this.session.unref();
  }

  get usable(): boolean {
    return !this.session.closed && !this.session.destroyed;
  }

  /** Opens a stream; the session keeps the process alive while it has any. */
  request(path: string, deadlineMs: number | undefined): http2.ClientHttp2Stream {
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': USER_AGENT, 'grpc-accept-encoding': GRPC_ACCEPT_ENCODING };
    if (deadlineMs !== undefined) headers['grpc-timeout'] = grpcTimeout(deadlineMs);
    const stream = this.session.request(headers);
    if (this.active++ === 0) this.session.ref();
    stream.once('close', () => {
      if (--this.active === 0) this.session.unref();
    });
    return stream;
  }
}

/** A `grpc-timeout` header value for `ms`: at most 8 digits, in the finest unit that fits (as grpc-js writes it). */
export function grpcTimeout(ms: number): string {
  const millis = Math.max(0, Math.ceil(ms));
  if (millis < 1e8) return `${millis}m`;
  const seconds = Math.ceil(millis / 1000);
  return seconds < 1e8 ? `${seconds}S` : `${Math.min(Math.ceil(seconds / 3600), 99_999_999)}H`;
}

/** Opens calls on one shared session, reconnecting as `H2ChannelOptions.reconnectBackoff` says. */
export class H2Channel {
  /** `host:port`, as in the `:authority` header. */
  readonly authority: string;
  private readonly clock: Clock;
  private connection: Connection | undefined;
  private backoffMs: number;
  /** Until then (monotonic ms), calls fail without trying to connect. */
  private retryAt = -Infinity;
  private closed = false;

  constructor(private readonly o: H2ChannelOptions) {
    this.authority = o.host.includes(':') ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`;
    this.clock = o.clock ?? systemClock;
    this.backoffMs = o.reconnectBackoff.minMs;
  }

  /**
   * Starts a call of the method at `path` (`/package.Service/method`). Messages written before
   * the session connects are sent once it does. A call that cannot start (in the back-off after
   * a failed connect, or on a closed channel) ends UNAVAILABLE on the next tick.
   */
  request(path: string, listener: H2CallListener, options: H2CallOptions = {}): H2Call {
    const connection = this.closed ? undefined : this.connect();
    if (connection === undefined) {
      const call = new H2Call(listener, 0);
      const details = this.closed ? 'the channel is closed' : `the last connection to ${this.authority} failed; the next attempt in ${Math.ceil(this.retryAt - this.clock.monotonic())} ms`;
      process.nextTick(() => call.cancel({ code: Status.UNAVAILABLE, details }));
      return call;
    }
    const call = new H2Call(listener, this.o.maxInboundMessageBytes, connection, connection.request(path, options.deadlineMs));
    if (options.deadlineMs !== undefined) call.expireAfter(options.deadlineMs);
    return call;
  }

  /** No new calls (they end UNAVAILABLE); calls in progress run to their end, then the session closes. */
  close(): void {
    this.closed = true;
    this.connection?.session.close();
  }

  private connect(): Connection | undefined {
    if (this.connection?.usable) return this.connection;
    if (this.clock.monotonic() < this.retryAt) return undefined;
    const connection = new Connection(this.authority, this.o.host, this.o.port);
    const { session } = connection;
    session.once('remoteSettings', () => {
      connection.established = true;
      this.backoffMs = this.o.reconnectBackoff.minMs;
    });
    session.on('error', () => undefined); // its calls report it
    session.once('close', () => {
      if (connection.established) return;
      this.retryAt = this.clock.monotonic() + this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.o.reconnectBackoff.maxMs);
    });
    this.connection = connection;
    return connection;
  }
}

/** What a call reads of its connection when it ends: whether the server accepted it, and whether it was lost. */
type ConnectionState = Readonly<Pick<Connection, 'established' | 'lost'>>;

/**
 * One call: `write` messages, `end` the proxy's side, `cancel`; what comes back goes to the
 * listener. Writes after the end, the half-close or a cancel are dropped.
 */
export class H2Call {
  private decoder: FrameDecoder;
  private headers: (http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader) | undefined;
  private trailers: http2.IncomingHttpHeaders | undefined;
  /** An error of the connection (not a reset of this stream by the server). */
  private connectionError: Error | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private done = false;

  /** @internal Made by `H2Channel.request`; without a stream the call only waits for its `cancel`. */
  constructor(
    private readonly listener: H2CallListener,
    maxInboundMessageBytes: number,
    connection?: ConnectionState,
    private readonly stream?: http2.ClientHttp2Stream,
  ) {
    this.decoder = new FrameDecoder(maxInboundMessageBytes);
    if (!stream || !connection) return;
    stream.on('response', (headers) => {
      this.headers = headers;
      // The server may compress its messages with an encoding the request accepted.
      const encoding = grpcEncoding(headers['grpc-encoding']);
      if (encoding === undefined) this.cancel({ code: Status.INTERNAL, details: `the server answered in message encoding '${String(headers['grpc-encoding'])}', which the proxy did not offer` });
      else if (encoding !== 'identity') this.decoder = new FrameDecoder(maxInboundMessageBytes, encoding);
    });
    stream.on('data', (chunk: Buffer) => this.received(chunk));
    stream.on('trailers', (trailers) => {
      this.trailers = trailers;
    });
    // 'end' is the server's END_STREAM, or a lost connection (Node ends the streams on it).
    stream.on('end', () => this.finish(this.endStatus(connection), true));
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_HTTP2_STREAM_ERROR') this.connectionError ??= err;
    });
    stream.on('close', () => this.finish(this.endStatus(connection, stream.rstCode)));
  }

  /**
   * Sends one message (framed: flag 0, 4-byte big-endian length). False when the stream's write
   * buffer is full: a writer that can wait should, for `writable()`. (A dropped write is true.)
   */
  write(message: Uint8Array): boolean {
    const stream = this.stream;
    if (this.done || !stream || stream.writableEnded) return true;
    return stream.write(encodeFrame(message));
  }

  /** Resolves once the call takes writes again: at once unless the write buffer is full, else on its drain or the call's end. */
  writable(): Promise<void> {
    const stream = this.stream;
    if (this.done || !stream || !stream.writableNeedDrain) return Promise.resolve();
    return whenDrained(stream);
  }

  /** Half-closes the proxy's side; the server ends the call. Idempotent. */
  end(): void {
    const stream = this.stream;
    if (this.done || !stream || stream.writableEnded) return;
    stream.end();
  }

  /** Ends the call now with `status` (RST_STREAM CANCEL to the server). Does nothing once ended. */
  cancel(status: CallStatus = { code: Status.CANCELLED, details: 'cancelled by the proxy' }): void {
    this.finish(status);
  }

  /** @internal Starts the deadline (`H2CallOptions.deadlineMs`): the call ends DEADLINE_EXCEEDED unless it ended before. */
  expireAfter(ms: number): void {
    this.deadline = setTimeout(() => this.cancel({ code: Status.DEADLINE_EXCEEDED, details: `Deadline exceeded (${ms} ms)` }), ms);
  }

  private received(chunk: Buffer): void {
    if (this.done) return;
    let messages: Buffer[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof GrpcFrameError)) throw err;
      return this.cancel({ code: err.status, details: err.message });
    }
    for (const message of messages) {
      if (this.done) return;
      this.listener.onMessage(Buffer.from(message));
    }
  }

  /** Reports the end once; a stream still open is reset (CANCEL), or, when the server ended its side first, closed. */
  private finish(status: CallStatus, serverEnded = false): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadline);
    const stream = this.stream;
    if (stream && !stream.closed) {
      if (!serverEnded) stream.close(NGHTTP2_CANCEL);
      else if (!stream.writableEnded) stream.close(NGHTTP2_NO_ERROR);
    }
    this.listener.onEnd(status);
  }

  /**
   * How the call ended: the server's grpc-status (in the trailers, or the headers of a
   * trailers-only response) when it sent one; else UNAVAILABLE when the connection failed, or
   * was lost after the server accepted it (`connectionLost`); else from the HTTP status, or the code of the RST_STREAM that closed the stream
   * (`rstCode`, none when the server ended its side without a status), as grpc-js maps them.
   */
  private endStatus(connection: ConnectionState, rstCode: number = NGHTTP2_NO_ERROR): CallStatus {
    const block = this.trailers?.['grpc-status'] !== undefined ? this.trailers : this.headers?.['grpc-status'] !== undefined ? this.headers : undefined;
    if (block) {
      const code = Number(block['grpc-status']);
      const message = block['grpc-message'];
      return { code: Number.isInteger(code) && code >= 0 ? code : Status.UNKNOWN, details: typeof message === 'string' ? decodeGrpcMessage(message) : '' };
    }
    const err = this.connectionError;
    if (err || connection.lost) {
      const why = err ? (err.cause instanceof Error ? err.cause.message : err.message) : 'the socket closed';
      if (!connection.established) return { code: Status.UNAVAILABLE, details: `cannot connect (${why})` };
      return { code: Status.UNAVAILABLE, details: `connection lost (${why})`, connectionLost: true };
    }
    switch (rstCode) {
      case NGHTTP2_NO_ERROR:
        return this.httpStatus() ?? { code: Status.UNKNOWN, details: 'stream closed without a grpc-status' };
      case NGHTTP2_REFUSED_STREAM:
        return { code: Status.UNAVAILABLE, details: 'stream refused by the server' };
      case NGHTTP2_CANCEL:
        return { code: Status.CANCELLED, details: 'stream cancelled by the server' };
      case NGHTTP2_ENHANCE_YOUR_CALM:
        return { code: Status.RESOURCE_EXHAUSTED, details: 'stream reset by the server: ENHANCE_YOUR_CALM' };
      default:
        return { code: Status.INTERNAL, details: `stream reset by the server with HTTP/2 error code ${rstCode}` };
    }
  }

  /** A response that is not HTTP 200, as grpc-js maps it (no auth here: 401 and 403 are UNKNOWN too). */
  private httpStatus(): CallStatus | undefined {
    const http = this.headers?.[':status'];
    if (http === undefined || http === 200) return undefined;
    const details = `HTTP status ${http}`;
    if (http === 400) return { code: Status.INTERNAL, details };
    if (http === 404) return { code: Status.UNIMPLEMENTED, details };
    if (http === 429 || http === 502 || http === 503 || http === 504) return { code: Status.UNAVAILABLE, details };
    return { code: Status.UNKNOWN, details };
  }
}
