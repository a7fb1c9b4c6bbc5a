/**
 * The proxy benchmark's two clients, used for every target of a protocol so that the load
 * generator's own cost is the same for the proxy and for its baseline:
 *
 * - `HttpPool`: HTTP/1.1 over raw `node:net` sockets, one request in flight per keep-alive
 *   connection (no pipelining), requests written as one pre-formatted buffer and responses parsed
 *   by hand (status line and `content-length` only). Far cheaper per request than node:http's
 *   client, so the load generator does not eat the CPU the servers under test need.
 * - `GrpcH2Client`: gRPC unary calls as `node:http2` client streams over a few long-lived
 *   sessions (each call one HTTP/2 stream: HEADERS, one length-prefixed DATA frame, trailers),
 *   not @grpc/grpc-js, whose client-side call setup (≈300 µs of CPU per call on this machine)
 *   would dominate.
 *
 * Both report completion through a callback `(error?: string) => void`; no promises per call.
 */
import { connect as h2connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';

/** Completion of one call: `undefined` on success, else a short reason. */
export type Done = (error?: string) => void;

/** A call target: sends call number `i` (which picks the entity) and reports its completion. */
export interface Target {
  send(i: number, done: Done): void;
  /** How many calls can be in flight at once (HTTP: connections; gRPC: unlimited). */
  readonly capacity: number;
  close(): void;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** One keep-alive HTTP/1.1 connection with at most one request in flight. */
class HttpConnection {
  private socket: Socket | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done: Done | undefined;
  private pending: Buffer | undefined;

  constructor(private readonly port: number) {}

  get idle(): boolean {
    return this.done === undefined;
  }

  send(request: Buffer, done: Done): void {
    this.done = done;
    if (this.socket === undefined) this.open(request);
    else this.socket.write(request);
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(first: Buffer): void {
    const socket = netConnect({ host: '127.0.0.1', port: this.port, noDelay: true });
    this.socket = socket;
    this.pending = first;
    socket.on('connect', () => {
      if (this.pending) socket.write(this.pending);
      this.pending = undefined;
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const lost = (why: string) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.chunks = [];
      this.buffered = 0;
      this.finish(why);
    };
    socket.on('error', (e) => lost(`socket error: ${e.message}`));
    socket.on('close', () => lost('connection closed'));
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    const headerEnd = data.indexOf(CRLF2);
    if (headerEnd < 0) {
      this.chunks = [data];
      return;
    }
    const head = data.toString('latin1', 0, headerEnd);
    const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (match === null) {
      this.close();
      this.chunks = [];
      this.buffered = 0;
      this.finish('response without content-length');
      return;
    }
    const total = headerEnd + 4 + Number(match[1]);
    if (data.length < total) {
      this.chunks = [data];
      return;
    }
    // One request in flight: nothing may follow the response.
    this.chunks = [];
    this.buffered = 0;
    const status = head.slice(9, 12);
    this.finish(status === '200' ? undefined : `HTTP ${status}: ${data.toString('utf8', headerEnd + 4, Math.min(total, headerEnd + 204))}`);
  }

  private finish(error?: string): void {
    const done = this.done;
    this.done = undefined;
    done?.(error);
  }
}

/**
 * `connections` keep-alive connections; `send` uses an idle one (the caller keeps at most
 * `capacity` calls in flight). `request(i)` formats call i's request.
 */
export class HttpPool implements Target {
  private readonly connections: HttpConnection[];
  private readonly idle: HttpConnection[];

  constructor(
    port: number,
    readonly capacity: number,
    private readonly request: (i: number) => Buffer,
  ) {
    this.connections = Array.from({ length: capacity }, () => new HttpConnection(port));
    this.idle = [...this.connections];
  }

  send(i: number, done: Done): void {
    const connection = this.idle.pop();
    if (connection === undefined) throw new Error('HttpPool: more calls in flight than connections');
    connection.send(this.request(i), (error) => {
      this.idle.push(connection);
      done(error);
    });
  }

  close(): void {
    for (const c of this.connections) c.close();
  }
}

/** A JSON POST request as one buffer. */
export function httpPost(path: string, body: string): Buffer {
  const bytes = Buffer.byteLength(body);
  return Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n${body}`);
}

/** gRPC unary calls over `sessions` HTTP/2 connections, round-robin. */
export class GrpcH2Client implements Target {
  readonly capacity = Number.POSITIVE_INFINITY;
  private readonly sessions: ClientHttp2Session[];
  private next = 0;

  constructor(
    port: number,
    sessions: number,
    private readonly path: string,
    /** Call i's request message, protobuf-encoded (without the gRPC frame prefix). */
    private readonly message: (i: number) => Uint8Array,
  ) {
    this.sessions = Array.from({ length: sessions }, () => {
      const session = h2connect(`http://127.0.0.1:${port}`, { settings: { enablePush: false } });
      session.on('error', () => undefined); // calls on it fail and say why
      return session;
    });
  }

  send(i: number, done: Done): void {
    const session = this.sessions[this.next++ % this.sessions.length]!;
    const payload = this.message(i);
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = 0;
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    let httpStatus = 0;
    let stream;
    try {
      stream = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: this.path,
        [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
      });
    } catch (e) {
      done(`request: ${(e as Error).message}`);
      return;
    }
    stream.on('response', (headers) => {
      httpStatus = Number(headers[':status']);
      if (headers['grpc-status'] !== undefined) {
        grpcStatus = String(headers['grpc-status']);
        grpcMessage = headers['grpc-message'] as string | undefined;
      }
    });
    stream.on('trailers', (trailers) => {
      grpcStatus = String(trailers['grpc-status']);
      grpcMessage = trailers['grpc-message'] as string | undefined;
    });
    stream.on('data', () => undefined);
    stream.on('error', () => undefined); // reported on close
    stream.on('close', () => {
      if (grpcStatus === '0') done();
      else done(`gRPC ${grpcStatus ?? 'no status'} (HTTP ${httpStatus}, rst ${stream.rstCode}): ${grpcMessage ?? ''}`);
    });
    stream.end(frame);
  }

  close(): void {
    for (const s of this.sessions) s.destroy();
  }
}
