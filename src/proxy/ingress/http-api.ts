/**
 * HTTP/JSON transcoding at request time (§2.7): a request matched by ./http-rules.ts becomes
 * the method's input message (path variables, query parameters, JSON body), goes through the
 * dispatcher like a gRPC call, and its answer comes back as canonical JSON (defaults included),
 * the `response_body` field only, or the raw data of a `google.api.HttpBody`. Server-streaming
 * methods answer with Server-Sent Events when the client accepts `text/event-stream`, else
 * with newline-delimited JSON chunks.
 *
 * Errors: a request that does not fit the input → 400 with the reason; a body rule without
 * `Content-Type: application/json` → 400; a failed call → the status's HTTP code with the
 * failure's description as the plain-text body (a user function failure, UNKNOWN, is 500:
 * the TCK checks it).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from '../../core/index.js';
import { CallError, Status, type Call, type Dispatcher, type Response } from '../dispatch.js';
import { errorStatus, requestsOf } from './call.js';
import { BodyTooLarge, type HttpExchange } from './exchange.js';
import { corsHeaders } from './grpc-web.js';
import { addMetadataHeaders, metadataFromHeaders } from './grpc-wire.js';
import { requestJson, type HttpBinding } from './http-rules.js';
import { BadRequest, bytesToJson, fieldOfMessageToJson, jsonToBytes } from './json.js';
import { now, type IngressMetrics } from './metrics.js';

export interface HttpApiContext {
  readonly dispatcher: Dispatcher;
  readonly maxBodyBytes: number;
  readonly metrics: IngressMetrics;
  readonly logger: Logger;
}

/** The HTTP status for a gRPC status (the mapping the reference proxy's HttpApi defines). */
export function httpStatusOf(status: number): number {
  switch (status) {
    case Status.OK:
      return 200;
    case Status.INVALID_ARGUMENT:
    case Status.CANCELLED:
      return 400;
    case Status.NOT_FOUND:
      return 404;
    case Status.FAILED_PRECONDITION:
      return 412;
    case Status.UNIMPLEMENTED:
      return 501;
    case Status.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

/** The input message of a matched request, encoded. Throws `BadRequest`. */
async function requestPayload(ctx: HttpApiContext, ex: HttpExchange, binding: HttpBinding, values: string[], query: URLSearchParams): Promise<Uint8Array> {
  let body: unknown;
  if (binding.body !== '') {
    if (!isJson(ex.headers['content-type'])) throw new BadRequest('Content-type must be application/json!');
    const text = (await ex.readBody(ctx.maxBodyBytes)).toString('utf8');
    try {
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      throw new BadRequest(`Malformed request: the body is not JSON: ${(error as Error).message}`);
    }
  }
  return jsonToBytes(binding.method.inputType, requestJson(binding, values, query, body));
}

/** A response message as the HTTP body: JSON text, or the raw data of an HttpBody. */
function render(binding: HttpBinding, payload: Uint8Array): { contentType: string; body: string | Uint8Array } {
  const output = binding.method.outputType;
  if (binding.httpBodyOutput) {
    const message = output.decode(payload) as unknown as { content_type?: string; contentType?: string; data?: Uint8Array };
    return { contentType: message.content_type || message.contentType || 'application/octet-stream', body: message.data ?? new Uint8Array() };
  }
  const json =
    binding.responseBodyField === undefined
      ? bytesToJson(output, payload)
      : fieldOfMessageToJson(binding.responseBodyField, output.decode(payload) as unknown as Record<string, unknown>);
  return { contentType: 'application/json', body: JSON.stringify(json) };
}

function errorResponse(ex: HttpExchange, status: number, message: string): number {
  ex.respond(status, { 'content-type': 'text/plain; charset=utf-8', ...corsHeaders(ex.headers.origin) }, message);
  return status;
}

function headersFor(ex: HttpExchange, response: Response | undefined, contentType: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { 'content-type': contentType, ...corsHeaders(ex.headers.origin) };
  addMetadataHeaders(response?.metadata, headers, false);
  return headers;
}

/** Streams the responses of a server-streaming method (SSE or NDJSON). Returns the HTTP status. */
async function streamResponses(ex: HttpExchange, binding: HttpBinding, responses: AsyncIterable<Response>, logger: Logger): Promise<number> {
  const sse = (ex.headers.accept ?? '').includes('text/event-stream');
  const contentType = sse && !binding.httpBodyOutput ? 'text/event-stream' : 'application/json';
  try {
    for await (const response of responses) {
      if (ex.signal.aborted) break;
      const rendered = render(binding, response.payload);
      if (!ex.started) {
        const headers = headersFor(ex, response, binding.httpBodyOutput ? rendered.contentType : contentType);
        if (sse) headers['cache-control'] = 'no-cache';
        ex.start(200, headers);
      }
      const chunk = binding.httpBodyOutput ? rendered.body : sse ? `data: ${rendered.body as string}\n\n` : `${rendered.body as string}\n`;
      const wait = ex.write(chunk);
      if (wait !== undefined) await wait;
    }
    if (!ex.started) ex.start(200, headersFor(ex, undefined, contentType));
    ex.end();
    return 200;
  } catch (error) {
    const { status, message } = error instanceof BadRequest ? { status: Status.INVALID_ARGUMENT, message: error.message } : errorStatus(error, logger, binding.method.path);
    if (!ex.started) return errorResponse(ex, httpStatusOf(status), message);
    // The status line is gone: say it in the stream, then end it.
    const chunk = sse ? `event: error\ndata: ${JSON.stringify({ code: status, message })}\n\n` : `${JSON.stringify({ error: { code: status, message } })}\n`;
    if (!binding.httpBodyOutput) await ex.write(chunk);
    ex.end();
    return httpStatusOf(status);
  }
}

/** Serves one HTTP/JSON request matched to `binding` with raw path `values`. Never rejects. */
export async function serveHttpApi(ctx: HttpApiContext, ex: HttpExchange, binding: HttpBinding, values: string[], query: URLSearchParams): Promise<void> {
  const startedAt = now();
  const method = binding.method;
  let httpStatus: number;
  try {
    const payload = await requestPayload(ctx, ex, binding, values, query);
    const metadata = metadataFromHeaders(ex.headers);
    if (method.serverStreaming) {
      const call: Call = { method, metadata, requests: requestsOf([payload]), signal: ex.signal };
      httpStatus = await streamResponses(ex, binding, ctx.dispatcher.stream(call), ctx.logger);
    } else {
      let response: Response | undefined;
      if (method.clientStreaming) {
        const call: Call = { method, metadata, requests: requestsOf([payload]), signal: ex.signal };
        for await (const r of ctx.dispatcher.stream(call)) response ??= r;
        if (response === undefined) throw new CallError(Status.INTERNAL, `${method.path} ended without a response`);
      } else {
        response = await ctx.dispatcher.unary(method, payload, metadata, ex);
      }
      const rendered = render(binding, response.payload);
      ex.respond(200, headersFor(ex, response, rendered.contentType), rendered.body);
      httpStatus = 200;
    }
  } catch (error) {
    if (error instanceof BadRequest) httpStatus = errorResponse(ex, 400, error.message);
    else if (error instanceof BodyTooLarge) httpStatus = errorResponse(ex, 413, error.message);
    else {
      const { status, message } = errorStatus(error, ctx.logger, method.path);
      httpStatus = errorResponse(ex, httpStatusOf(status), message);
    }
  }
  ctx.metrics.record('http', method.path, String(httpStatus), startedAt);
}
