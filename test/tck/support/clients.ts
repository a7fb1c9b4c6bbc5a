/**
 * The TCK playing a client of the proxy: gRPC calls to the TCK model services (protobufjs
 * types, plain objects), HTTP/JSON requests to the transcoded routes, and gRPC server
 * reflection. What a user of the proxy would do, nothing more.
 */
import * as grpc from '@grpc/grpc-js';
import { decode, messageType, tckRoot } from './codec.js';
import { GrpcCalls, type CallChain } from './grpc-calls.js';

/** A gRPC error as the client sees it: status code and description. */
export interface CallFailure {
  readonly code: number;
  readonly details: string;
}

/** gRPC client of the services the proxy serves (the TCK models). */
export class ModelClient {
  readonly #calls: GrpcCalls;

  constructor(readonly address: string) {
    this.#calls = new GrpcCalls(address);
  }

  /** The request and response type names of `service`/`method`. */
  #types(service: string, method: string): { path: string; in: string; out: string } {
    const s = tckRoot().lookupService(service);
    const def = s.methods[method];
    if (!def) throw new Error(`${service} has no method ${method}`);
    def.resolve();
    return { path: `/${service}/${method}`, in: def.resolvedRequestType!.fullName.slice(1), out: def.resolvedResponseType!.fullName.slice(1) };
  }

  /**
   * Calls a unary method; resolves with the response as a plain object with defaults filled
   * in (`{ message: '' }` for an empty Response), rejects with the gRPC status.
   */
  async call(service: string, method: string, request: object, metadata?: grpc.Metadata): Promise<Record<string, unknown>> {
    const t = this.#types(service, method);
    const call = await this.#calls.unary(t.path, t.in, t.out, request, metadata);
    const event = await call.recording.out.events.next(`the answer of ${t.path}`);
    if (event.kind === 'message') {
      const type = messageType(t.out);
      return type.toObject(type.decode(event.bytes), { defaults: true, longs: String }) as Record<string, unknown>;
    }
    if (event.kind === 'error') throw Object.assign(new Error(`${t.path} failed: ${event.code} ${event.details}`), { code: event.code, details: event.details });
    throw new Error(`${t.path}: no answer`);
  }

  /** Calls a unary method that must fail; resolves with the status. */
  async callFailing(service: string, method: string, request: object): Promise<CallFailure> {
    try {
      const response = await this.call(service, method, request);
      throw Object.assign(new Error(`${service}/${method} succeeded with ${JSON.stringify(response)}, expected a failure`), { unexpected: true });
    } catch (e) {
      if ((e as { unexpected?: boolean }).unexpected) throw e;
      return { code: (e as CallFailure).code, details: (e as CallFailure).details };
    }
  }

  /** A client-streaming call: `send` requests, `complete()`, then expect the response. */
  clientStream(service: string, method: string): CallChain {
    const t = this.#types(service, method);
    return this.#calls.clientStream(t.path, t.in, t.out);
  }

  /** A server-streaming call: expect the responses, then `expectClosed()`. */
  serverStream(service: string, method: string, request: object): CallChain {
    const t = this.#types(service, method);
    return this.#calls.serverStream(t.path, t.in, t.out, request);
  }

  /** A bidirectional call. */
  bidi(service: string, method: string): CallChain {
    const t = this.#types(service, method);
    return this.#calls.bidi(t.path, t.in, t.out);
  }

  /** gRPC server reflection (v1alpha) on the same port. */
  reflection(): CallChain {
    return this.#calls.bidi(
      '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
      'grpc.reflection.v1alpha.ServerReflectionRequest',
      'grpc.reflection.v1alpha.ServerReflectionResponse',
    );
  }

  close(): void {
    this.#calls.close();
  }
}

/** The answer of an HTTP request. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** HTTP client of the proxy's JSON routes (and its probes). */
export class HttpClient {
  constructor(readonly baseUrl: string) {}

  /** POSTs `body` as JSON to `path` (no leading slash needed). */
  async post(path: string, body: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return this.request('POST', path, body, { 'content-type': 'application/json', ...headers });
  }

  /**
   * POSTs JSON and returns the response body; throws unless the status is 200 and the content
   * type is JSON (as the reference TCK's `request`).
   */
  async requestJson(path: string, body: string): Promise<string> {
    const answer = await this.post(path, body);
    const mediaType = answer.contentType.split(';')[0]!.trim();
    if (answer.status !== 200 || mediaType !== 'application/json') {
      throw new Error(`POST /${path.replace(/^\//, '')}: expected 200 application/json, got ${answer.status} ${answer.contentType}: ${answer.body}`);
    }
    return answer.body;
  }

  /** POSTs JSON that must fail: returns the body; throws unless the status is 500 (the reference's `requestToError`). */
  async requestToError(path: string, body: string): Promise<string> {
    const answer = await this.post(path, body);
    if (answer.status !== 500) throw new Error(`POST /${path.replace(/^\//, '')}: expected 500, got ${answer.status}: ${answer.body}`);
    return answer.body;
  }

  async request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const url = `${this.baseUrl}/${path.replace(/^\//, '')}`;
    const response = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(10_000) });
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: await response.text() };
  }
}

/** Decodes a `FileDescriptorResponse`'s files: their names and declared symbols. */
export function describeFiles(files: readonly Uint8Array[]): Array<{ name: string; package: string; services: string[] }> {
  return files.map((bytes) => {
    const file = decode<{ name?: string; package?: string; service?: Array<{ name?: string }> }>('google.protobuf.FileDescriptorProto', bytes);
    return { name: file.name ?? '', package: file.package ?? '', services: (file.service ?? []).map((s) => s.name ?? '') };
  });
}
