/**
 * gRPC over HTTP/2 on node:http2 streams (grpc-js's Server cannot share its port with HTTP/1.1):
 * routes `:path` to a method of the model (or a service of the ingress, such as reflection),
 * reads length-prefixed messages, honours `grpc-timeout` and cancellation (RST_STREAM), and
 * answers with `:status 200`, `content-type: application/grpc`, the first reply's metadata as
 * headers, the messages, and `grpc-status`/`grpc-message` trailers (or a trailers-only answer).
 *
 * The unary path is kept lean: per call one state object hung on the stream, listeners that
 * are module functions, no async iteration. A malformed frame ends the call with a status;
 * nothing a client sends can throw out of here.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { whenDrained } from '../../core/index.js';
import type { Logger } from '../../core/index.js';
import type { MetadataEntry } from '../../protocol/index.js';
import { CallError, Status, type Call, type Dispatcher, type Response, type StatusCode } from '../dispatch.js';
import type { MethodModel, ProxyModel } from '../model.js';
import { errorStatus, RequestQueue, runStreamingCall, type CallSink, type StreamHandler } from './call.js';
import { addMetadataHeaders, encodeFrame, encodeGrpcMessage, FrameDecoder, GRPC_ACCEPT_ENCODING, grpcEncoding, GrpcFrameError, metadataFromHeaders, parseGrpcTimeout, statusName, unsupportedEncoding } from './grpc-wire.js';
import { LazyAbort } from './lazy-abort.js';
import { now, type IngressMetrics } from './metrics.js';

/** What the gRPC server needs from the ingress. */
export interface GrpcContext {
  readonly model: ProxyModel;
  readonly dispatcher: Dispatcher;
  /** Services of the ingress itself (reflection), by gRPC path; always streaming. */
  readonly local: ReadonlyMap<string, { method: MethodModel; handler: StreamHandler }>;
  readonly maxMessageBytes: number;
  readonly metrics: IngressMetrics;
  readonly logger: Logger;
}

const kCall = Symbol('grpcCall');

/** Per-call state, hung on the stream so the listeners can be shared functions. */
interface GrpcCall {
  readonly ctx: GrpcContext;
  readonly stream: ServerHttp2Stream;
  readonly method: MethodModel;
  readonly metadata: readonly MetadataEntry[];
  readonly cancel: LazyAbort;
  readonly startedAt: number;
  decoder: FrameDecoder;
  request: Buffer | undefined;
  requests: RequestQueue | undefined;
  timer: NodeJS.Timeout | undefined;
  headersSent: boolean;
  /** Set once the final status is decided; later outcomes are ignored. */
  finished: boolean;
  status: number;
  message: string | undefined;
}
type CallStream = ServerHttp2Stream & { [kCall]?: GrpcCall };

function baseHeaders(): OutgoingHttpHeaders {
  return { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': GRPC_ACCEPT_ENCODING };
}

/** A complete answer with no messages: the status in the headers. */
function trailersOnly(stream: ServerHttp2Stream, status: number, message: string | undefined, extra?: OutgoingHttpHeaders): void {
  if (stream.headersSent || stream.destroyed) return;
  const headers = { ...baseHeaders(), ...extra, 'grpc-status': String(status) } as OutgoingHttpHeaders;
  if (message) headers['grpc-message'] = encodeGrpcMessage(message);
  stream.respond(headers, { endStream: true });
}

/** Ends a call with its status, once; records it. */
function finish(call: GrpcCall, status: number, message: string | undefined): void {
  if (call.finished) return;
  call.finished = true;
  call.status = status;
  call.message = message;
  if (call.timer !== undefined) clearTimeout(call.timer);
  const stream = call.stream;
  if (!stream.destroyed) {
    if (!call.headersSent) trailersOnly(stream, status, message);
    else stream.end(); // 'wantTrailers' sends the status
  }
  call.ctx.metrics.record('grpc', call.method.path, statusName(status), call.startedAt);
}

function onWantTrailers(this: CallStream): void {
  const call = this[kCall];
  const trailers: OutgoingHttpHeaders = { 'grpc-status': String(call?.status ?? Status.INTERNAL) };
  if (call?.message) trailers['grpc-message'] = encodeGrpcMessage(call.message);
  this.sendTrailers(trailers);
}

function sendHeaders(call: GrpcCall, metadata: readonly MetadataEntry[] | undefined): void {
  call.headersSent = true;
  const headers = baseHeaders();
  addMetadataHeaders(metadata, headers, true);
  call.stream.respond(headers, { waitForTrailers: true });
  call.stream.on('wantTrailers', onWantTrailers);
}

function onClose(this: CallStream): void {
  const call = this[kCall];
  if (call === undefined || call.finished) return;
  // The client went away (RST_STREAM or a closed connection) before the call ended.
  call.cancel.abort(new CallError(Status.CANCELLED, 'the client cancelled the call'));
  call.requests?.fail(new CallError(Status.CANCELLED, 'the client cancelled the call'));
  finish(call, Status.CANCELLED, 'the client cancelled the call');
}

function onStreamError(this: CallStream, error: Error): void {
  this[kCall]?.ctx.logger.debug({ err: error }, 'gRPC stream error');
}

function onDeadline(call: GrpcCall): void {
  if (call.finished) return;
  const error = new CallError(Status.DEADLINE_EXCEEDED, 'deadline exceeded');
  call.cancel.abort(error);
  call.requests?.fail(error);
  finish(call, Status.DEADLINE_EXCEEDED, error.message);
}

function onFrameError(call: GrpcCall, error: unknown): void {
  const { status, message }: { status: StatusCode; message: string } = error instanceof GrpcFrameError ? error : { status: Status.INTERNAL, message: String(error) };
  call.cancel.abort(new CallError(status, message));
  call.requests?.fail(error);
  finish(call, status, message);
  call.stream.removeAllListeners('data');
  call.stream.resume();
}

// ---- unary ----

function onUnaryData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall]!;
  if (call.finished) return;
  let messages: Buffer[];
  try {
    messages = call.decoder.push(chunk);
  } catch (error) {
    onFrameError(call, error);
    return;
  }
  for (const message of messages) {
    if (call.request !== undefined) {
      onFrameError(call, new GrpcFrameError(Status.INTERNAL, `${call.method.path} is unary but the client sent more than one message`));
      return;
    }
    call.request = message;
  }
}

function onUnaryEnd(this: CallStream): void {
  const call = this[kCall]!;
  if (call.finished) return;
  if (call.decoder.partial) return onFrameError(call, new GrpcFrameError(Status.INTERNAL, 'the request stream ended in the middle of a message'));
  if (call.request === undefined) return onFrameError(call, new GrpcFrameError(Status.INTERNAL, `${call.method.path} is unary but the client sent no message`));
  let answer: Promise<Response>;
  try {
    answer = call.ctx.dispatcher.unary(call.method, call.request, call.metadata, call.cancel);
  } catch (error) {
    onUnaryFailure(call, error);
    return;
  }
  answer.then(
    (response) => onUnaryResponse(call, response),
    (error: unknown) => onUnaryFailure(call, error),
  );
}

function onUnaryResponse(call: GrpcCall, response: Response): void {
  if (call.finished || call.stream.destroyed) return;
  sendHeaders(call, response.metadata);
  call.stream.write(encodeFrame(response.payload));
  finish(call, Status.OK, undefined);
}

function onUnaryFailure(call: GrpcCall, error: unknown): void {
  if (call.finished) return;
  const { status, message } = errorStatus(error, call.ctx.logger, call.method.path);
  finish(call, status, message);
}

// ---- streaming ----

function onStreamingData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall]!;
  if (call.finished) return;
  try {
    for (const message of call.decoder.push(chunk)) call.requests!.push(message);
  } catch (error) {
    onFrameError(call, error);
  }
}

function onStreamingEnd(this: CallStream): void {
  const call = this[kCall]!;
  if (call.decoder.partial) call.requests!.fail(new GrpcFrameError(Status.INTERNAL, 'the request stream ended in the middle of a message'));
  else call.requests!.end();
}

class StreamSink implements CallSink {
  constructor(private readonly call: GrpcCall) {}
  sendHeaders(metadata: readonly MetadataEntry[] | undefined): void {
    if (!this.call.finished && !this.call.stream.destroyed) sendHeaders(this.call, metadata);
  }
  sendMessage(payload: Uint8Array): void | Promise<void> {
    const stream = this.call.stream;
    if (this.call.finished || stream.destroyed) return;
    if (stream.write(encodeFrame(payload))) return;
    return whenDrained(stream);
  }
  end(status: number, message: string | undefined): void {
    finish(this.call, status, message);
  }
}

/** Serves one HTTP/2 stream whose content type is `application/grpc…`. */
export function serveGrpc(ctx: GrpcContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  stream.on('error', onStreamError);
  const path = headers[':path'] ?? '';
  const local = ctx.local.get(path);
  const method = local?.method ?? ctx.model.method(path);
  if (method === undefined) {
    trailersOnly(stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
    ctx.metrics.record('grpc', 'unknown', 'UNIMPLEMENTED', now());
    stream.resume();
    return;
  }
  const encoding = grpcEncoding(headers['grpc-encoding']);
  if (encoding === undefined) {
    trailersOnly(stream, Status.UNIMPLEMENTED, unsupportedEncoding(headers['grpc-encoding']));
    ctx.metrics.record('grpc', method.path, 'UNIMPLEMENTED', now());
    stream.resume();
    return;
  }
  const call: GrpcCall = {
    ctx,
    stream,
    method,
    metadata: metadataFromHeaders(headers),
    cancel: new LazyAbort(),
    startedAt: now(),
    decoder: new FrameDecoder(ctx.maxMessageBytes, encoding),
    request: undefined,
    requests: undefined,
    timer: undefined,
    headersSent: false,
    finished: false,
    status: Status.OK,
    message: undefined,
  };
  (stream as CallStream)[kCall] = call;
  stream.on('close', onClose);
  const timeout = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
  if (timeout !== undefined) call.timer = setTimeout(onDeadline, timeout, call);

  if (local === undefined && !method.clientStreaming && !method.serverStreaming) {
    stream.on('data', onUnaryData);
    stream.on('end', onUnaryEnd);
    return;
  }
  call.requests = new RequestQueue(
    () => stream.pause(),
    () => stream.resume(),
  );
  stream.on('data', onStreamingData);
  stream.on('end', onStreamingEnd);
  const handler: StreamHandler = local?.handler ?? ((c: Call) => ctx.dispatcher.stream(c));
  const grpcCall: Call = { method, metadata: call.metadata, requests: call.requests, signal: call.cancel.signal };
  void runStreamingCall(handler, grpcCall, new StreamSink(call), ctx.logger);
}
