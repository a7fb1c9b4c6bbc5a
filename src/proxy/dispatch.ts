/**
 * The seam between the ingress (gRPC, gRPC-Web, HTTP/JSON on one port: ./ingress/) and the
 * entity supports behind it (event sourced, value entity, action: ./entities/ and the router).
 * The ingress decodes nothing but framing; payloads cross this seam as the encoded bytes of
 * the method's input and output messages.
 */
import type { MetadataEntry } from '../protocol/index.js';
import type { MethodModel } from './model.js';

/** The gRPC status codes (all of them: the user function may end a call with any). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

/**
 * A call that ends in a gRPC status other than OK. `message` is the description the client
 * sees (gRPC `grpc-message`, the HTTP error body): for a `client_action.failure` it is the
 * user function's description, status UNKNOWN (HTTP 500), as the reference proxy does.
 */
export class CallError extends Error {
  constructor(
    readonly status: StatusCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CallError';
  }
}

/**
 * The user function answered the call with `client_action.failure`: its own answer (status
 * UNKNOWN, its description as the message), as opposed to a call that did not complete.
 */
export class ClientActionFailure extends CallError {
  constructor(description: string) {
    super(Status.UNKNOWN, description);
    this.name = 'ClientActionFailure';
  }
}

/** One message to the client, with the reply's metadata (lifted into response headers). */
export interface Response {
  /** The encoded output message (an empty array is the empty message). */
  readonly payload: Uint8Array;
  readonly metadata?: readonly MetadataEntry[];
}

/** A call as the ingress hands it over. */
export interface Call {
  readonly method: MethodModel;
  /** Request headers as protocol metadata (string values; `-bin` headers as bytes). */
  readonly metadata: readonly MetadataEntry[];
  /** The encoded input messages: exactly one unless the method is client streaming. */
  readonly requests: AsyncIterable<Uint8Array>;
  /** Aborted when the client goes away or cancels. */
  readonly signal: AbortSignal;
}

/**
 * Where a unary call's cancellation is found. Only what can act on it (an action call, a CRDT
 * command) reads `signal`, so the ingress creates the AbortSignal lazily: creating one costs
 * more than the rest of a call's bookkeeping, and most calls go to entities, which finish a
 * command they started whatever the client does.
 */
export interface Cancellable {
  /** Aborted when the client goes away or cancels. */
  readonly signal: AbortSignal;
}

export interface Dispatcher {
  /**
   * A unary call (no streaming on either side): resolves with the one response, rejects with a
   * CallError. The fast path: no async iteration.
   */
  unary(method: MethodModel, payload: Uint8Array, metadata: readonly MetadataEntry[], cancel: Cancellable): Promise<Response>;
  /**
   * Any call with streaming on either side: yields the responses in order and ends when the
   * call ends; throws a CallError to end it with that status.
   */
  stream(call: Call): AsyncIterable<Response>;
}
