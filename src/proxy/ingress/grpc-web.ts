/**
 * gRPC-Web (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md) over HTTP/1.1 or
 * HTTP/2: `application/grpc-web[+proto]` (binary frames) and `application/grpc-web-text[+proto]`
 * (the same frames base64-encoded). The request body is read whole (browsers cannot stream
 * requests); responses stream, and the status travels in a final frame flagged 0x80 holding
 * `grpc-status`/`grpc-message` as header lines. CORS headers let a browser page call it
 * (the preflight is answered by ./index.ts for every path).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { MetadataEntry } from '../../protocol/index.js';
import { CallError, Status, type Call } from '../dispatch.js';
import { errorStatus, requestsOf, runStreamingCall, type CallSink, type StreamHandler } from './call.js';
import type { HttpExchange } from './exchange.js';
import { BodyTooLarge } from './exchange.js';
import type { GrpcContext } from './grpc-server.js';
import { addMetadataHeaders, encodeFrame, encodeGrpcMessage, FrameDecoder, GRPC_ACCEPT_ENCODING, grpcEncoding, GrpcFrameError, metadataFromHeaders, statusName, trailersFrame, unsupportedEncoding } from './grpc-wire.js';
import { now } from './metrics.js';

/** Whether a content type is gRPC-Web's. */
export function isGrpcWeb(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith('application/grpc-web');
}

/** CORS headers for a response to a browser (any origin may call the proxy). */
export function corsHeaders(origin: string | undefined): OutgoingHttpHeaders {
  return origin === undefined ? { 'access-control-allow-origin': '*' } : { 'access-control-allow-origin': origin, vary: 'origin' };
}

/** Decodes a grpc-web-text body: base64, possibly several padded pieces one after another. */
export function decodeBase64Pieces(text: string): Buffer {
  const pieces = text.replace(/\s+/g, '').match(/[^=]+={0,2}|={1,2}/g) ?? [];
  return Buffer.concat(pieces.map((piece) => Buffer.from(piece, 'base64')));
}

class WebSink implements CallSink {
  private headersSent = false;
  constructor(
    private readonly ex: HttpExchange,
    private readonly text: boolean,
    private readonly contentType: string,
  ) {}

  private encode(frame: Buffer): string | Buffer {
    return this.text ? frame.toString('base64') : frame;
  }

  sendHeaders(metadata: readonly MetadataEntry[] | undefined, status?: number, message?: string): void {
    if (this.headersSent || this.ex.signal.aborted) return;
    this.headersSent = true;
    const headers: OutgoingHttpHeaders = { 'content-type': this.contentType, 'grpc-accept-encoding': GRPC_ACCEPT_ENCODING, ...corsHeaders(this.ex.headers.origin) };
    addMetadataHeaders(metadata, headers, true);
    const exposed = ['grpc-status', 'grpc-message', ...Object.keys(headers).filter((k) => k !== 'content-type' && !k.startsWith('access-control-') && k !== 'vary')];
    headers['access-control-expose-headers'] = exposed.join(', ');
    if (status !== undefined) {
      // Trailers-only: the status is also in the headers (clients read either).
      headers['grpc-status'] = String(status);
      if (message) headers['grpc-message'] = encodeGrpcMessage(message);
    }
    this.ex.start(200, headers);
  }

  sendMessage(payload: Uint8Array): void | Promise<void> {
    if (this.ex.signal.aborted) return;
    return this.ex.write(this.encode(encodeFrame(payload)));
  }

  end(status: number, message: string | undefined): void {
    if (this.ex.signal.aborted) return;
    if (!this.headersSent) this.sendHeaders(undefined, status, message);
    const done = this.ex.write(this.encode(trailersFrame(status, message)));
    if (done === undefined) this.ex.end();
    else void done.then(() => this.ex.end());
  }
}

/** Serves one gRPC-Web request. Never rejects. */
export async function serveGrpcWeb(ctx: GrpcContext, ex: HttpExchange, path: string): Promise<void> {
  const startedAt = now();
  const contentType = ex.headers['content-type'] ?? '';
  const text = contentType.startsWith('application/grpc-web-text');
  const sink = new WebSink(ex, text, text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto');
  const local = ctx.local.get(path);
  const method = local?.method ?? ctx.model.method(path);
  const label = method?.path ?? 'unknown';
  const fail = (status: number, message: string) => {
    sink.end(status, message);
    ctx.metrics.record('grpc-web', label, statusName(status), startedAt);
  };
  if (ex.method !== 'POST') return fail(Status.UNIMPLEMENTED, `gRPC-Web calls must be POST, not ${ex.method}`);
  if (method === undefined) return fail(Status.UNIMPLEMENTED, `unknown method ${path}`);
  const encoding = grpcEncoding(ex.headers['grpc-encoding']);
  if (encoding === undefined) return fail(Status.UNIMPLEMENTED, unsupportedEncoding(ex.headers['grpc-encoding']));

  let messages: Buffer[];
  try {
    const body = await ex.readBody(ctx.maxMessageBytes + 5);
    const frames = text ? decodeBase64Pieces(body.toString('latin1')) : body;
    const decoder = new FrameDecoder(ctx.maxMessageBytes, encoding);
    messages = decoder.push(frames);
    if (decoder.partial) throw new GrpcFrameError(Status.INTERNAL, 'the request body ends in the middle of a message');
  } catch (error) {
    if (error instanceof BodyTooLarge) return fail(Status.RESOURCE_EXHAUSTED, error.message);
    const { status, message } = errorStatus(error, ctx.logger, label);
    return fail(status, message);
  }

  const metadata = metadataFromHeaders(ex.headers);
  let status: number;
  if (local === undefined && !method.clientStreaming && !method.serverStreaming) {
    if (messages.length !== 1) {
      status = Status.INTERNAL;
      sink.end(status, `${method.path} is unary but the client sent ${messages.length} messages`);
    } else {
      try {
        const response = await ctx.dispatcher.unary(method, messages[0]!, metadata, ex);
        sink.sendHeaders(response.metadata);
        await sink.sendMessage(response.payload);
        status = Status.OK;
        sink.end(status, undefined);
      } catch (error) {
        const failure = errorStatus(error, ctx.logger, method.path);
        status = failure.status;
        sink.end(status, failure.message);
      }
    }
  } else {
    const handler: StreamHandler = local?.handler ?? ((c: Call) => ctx.dispatcher.stream(c));
    const call: Call = { method, metadata, requests: requestsOf(messages), signal: ex.signal };
    status = await runStreamingCall(handler, call, sink, ctx.logger);
  }
  ctx.metrics.record('grpc-web', method.path, statusName(status), startedAt);
}
