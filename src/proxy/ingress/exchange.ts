/**
 * One HTTP request and its response, the same whether it came over HTTP/1.1 (node:http) or
 * HTTP/2 (a node:http2 stream that is not gRPC): gRPC-Web, HTTP/JSON and the probes are
 * written once against this. Owns body collection (with a size limit), backpressure and
 * noticing a client that went away (`signal`, made only if asked for: ./lazy-abort.ts); knows
 * nothing of what is served.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import { whenDrained } from '../../core/index.js';
import { LazyAbort } from './lazy-abort.js';

/** The request body is larger than the limit (HTTP 413). */
export class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLarge';
  }
}

export interface HttpExchange {
  readonly method: string;
  /** Path and query, as sent (still percent-encoded). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Aborted (with CallError CANCELLED) when the client goes away before the response ends. */
  readonly signal: AbortSignal;
  /** The whole request body; rejects with `BodyTooLarge` past `limit` bytes. */
  readBody(limit: number): Promise<Buffer>;
  /** True once `start` or `respond` was called. */
  readonly started: boolean;
  /** Starts a streamed response. */
  start(status: number, headers: OutgoingHttpHeaders): void;
  /** Writes a chunk of a started response; resolves when the client can take more. */
  write(chunk: string | Uint8Array): void | Promise<void>;
  /** Ends a started response. */
  end(): void;
  /** A complete response in one go. */
  respond(status: number, headers: OutgoingHttpHeaders, body?: string | Uint8Array): void;
}

function collect(readable: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        readable.resume();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      readable.off('data', onData);
      readable.off('end', onEnd);
      readable.off('error', onError);
    };
    readable.on('data', onData);
    readable.on('end', onEnd);
    readable.on('error', onError);
  });
}

const kExchange = Symbol('exchange');
type Tracked<T> = T & { [kExchange]?: Http1Exchange };

function onResponseClose(this: Tracked<ServerResponse>): void {
  if (!this.writableFinished) this[kExchange]?.cancel.abort();
}

function onRequestError(this: Tracked<IncomingMessage>): void {
  this[kExchange]?.cancel.abort();
}

/** An HTTP/1.1 request: one object per request, its listeners shared functions (the hot path). */
class Http1Exchange implements HttpExchange {
  readonly cancel = new LazyAbort();
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    this.url = req.url ?? '/';
    this.headers = req.headers;
    (req as Tracked<IncomingMessage>)[kExchange] = this;
    (res as Tracked<ServerResponse>)[kExchange] = this;
    res.on('close', onResponseClose);
    req.on('error', onRequestError);
  }

  get signal(): AbortSignal {
    return this.cancel.signal;
  }

  readBody(limit: number): Promise<Buffer> {
    return collect(this.req, limit);
  }

  get started(): boolean {
    return this.res.headersSent;
  }

  start(status: number, headers: OutgoingHttpHeaders): void {
    this.res.writeHead(status, headers);
  }

  write(chunk: string | Uint8Array): void | Promise<void> {
    if (this.res.destroyed) return;
    if (!this.res.write(chunk)) return whenDrained(this.res);
  }

  end(): void {
    if (!this.res.destroyed) this.res.end();
  }

  respond(status: number, headers: OutgoingHttpHeaders, body?: string | Uint8Array): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    res.writeHead(status, headers);
    res.end(body);
  }
}

/** An HTTP/1.1 request. */
export function http1Exchange(req: IncomingMessage, res: ServerResponse): HttpExchange {
  return new Http1Exchange(req, res);
}

/** A non-gRPC request on an HTTP/2 stream. */
export function http2Exchange(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): HttpExchange {
  const cancel = new LazyAbort();
  // Not `writableFinished`: node sets it on a stream the client reset, too.
  let ended = false;
  stream.on('close', () => {
    if (!ended) cancel.abort();
  });
  stream.on('error', () => cancel.abort());
  return {
    method: (headers[':method'] as string | undefined) ?? 'GET',
    url: (headers[':path'] as string | undefined) ?? '/',
    headers,
    get signal() {
      return cancel.signal;
    },
    readBody: (limit) => collect(stream, limit),
    get started() {
      return stream.headersSent;
    },
    start(status, responseHeaders) {
      stream.respond({ ...responseHeaders, ':status': status });
    },
    write(chunk) {
      if (stream.destroyed) return;
      if (!stream.write(chunk)) return whenDrained(stream);
    },
    end() {
      ended = true;
      if (!stream.destroyed) stream.end();
    },
    respond(status, responseHeaders, body) {
      if (stream.headersSent || stream.destroyed) return;
      ended = true;
      if (body !== undefined) responseHeaders['content-length'] = Buffer.byteLength(body);
      stream.respond({ ...responseHeaders, ':status': status }, { endStream: body === undefined });
      if (body !== undefined) stream.end(body);
    },
  };
}
