/**
 * The proxy's gRPC client to the user function (`host:port`, plaintext h2c, one HTTP/2
 * connection: ./h2-channel.ts, not grpc-js, for speed): discovery and error reports
 * (`cloudstate.EntityDiscovery`), one bidi `handle` stream per active entity (event sourced,
 * value entity, CRDT), and the four action calls. Every call is a `ProtocolStream`; unary and
 * streaming shapes are built on it as grpc-js builds them (one response, or none: UNIMPLEMENTED).
 * No metadata is sent. Protocol messages are encoded and decoded with protobufjs from the protocol root (snake_case shapes of ../protocol); command
 * payloads travel inside them as bytes (`Any.value`), never decoded here.
 *
 * It maps gRPC errors once, at this boundary, to `UserFunctionCallError` (stable codes: the
 * user function is unreachable, or a call failed), and owns no retry policy: discovery
 * (./discovery.ts) and the entity supports (./entities/) decide what to do.
 */
import type * as grpc from '@grpc/grpc-js';
import { CloudstateError, describeError } from '../core/index.js';
import { protocolType } from '../protocol/index.js';
import { Status } from './dispatch.js';
import { H2Channel } from './h2-channel.js';
import type { H2Call, H2CallOptions } from './h2-channel.js';
import { statusName } from './ingress/grpc-wire.js';
import type {
  ActionCommand,
  ActionResponse,
  CrdtStreamIn,
  CrdtStreamOut,
  EntitySpec,
  EventSourcedStreamIn,
  EventSourcedStreamOut,
  ProxyInfo,
  ValueEntityStreamIn,
  ValueEntityStreamOut,
} from '../protocol/index.js';

/** gRPC message limit for what the user function sends (the reference proxy's 12M). */
export const MAX_INBOUND_MESSAGE_BYTES = 12 * 1024 * 1024;

export const UserFunctionErrorCode = {
  /** The user function cannot be reached (not started, crashed, wrong port): gRPC UNAVAILABLE. */
  Unavailable: 'ERR_PROXY_USER_FUNCTION_UNAVAILABLE',
  /** A call to the user function ended with another gRPC status. */
  CallFailed: 'ERR_PROXY_USER_FUNCTION_CALL',
} as const;

/**
 * A call to the user function failed; `grpcCode` is the gRPC status it ended with.
 * `connectionLost`: the user function had accepted the connection, which broke while the call
 * was open (what the call sent may have reached it; see `CallStatus.connectionLost`).
 */
export class UserFunctionCallError extends CloudstateError {
  readonly connectionLost: boolean;
  constructor(
    readonly grpcCode: number,
    message: string,
    options?: { cause?: unknown; connectionLost?: boolean },
  ) {
    super(grpcCode === Status.UNAVAILABLE ? UserFunctionErrorCode.Unavailable : UserFunctionErrorCode.CallFailed, message, options);
    this.connectionLost = options?.connectionLost ?? false;
  }
}

/** Maps a call's end as the `H2Channel` reported it (`code`, `details`: a `CallStatus`) to a `UserFunctionCallError` naming the call. */
export function asUserFunctionError(err: unknown, what: string): UserFunctionCallError {
  if (err instanceof UserFunctionCallError) return err;
  const e = err as { code?: unknown; details?: unknown; connectionLost?: unknown } | undefined;
  const code = typeof e?.code === 'number' ? e.code : Status.UNKNOWN;
  const detail = (typeof e?.details === 'string' && e.details) || (err instanceof Error ? err.message : String(err));
  return new UserFunctionCallError(code, `${what}: ${statusName(code)}: ${detail}`, { cause: err, connectionLost: e?.connectionLost === true });
}

interface Codec<T> {
  serialize(value: T): Buffer;
  deserialize(bytes: Buffer): T;
}

function codec<T>(typeName: string): Codec<T> {
  const type = protocolType(typeName);
  return {
    serialize: (value) => {
      const bytes = type.encode(value as object).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes) => type.decode(bytes) as unknown as T,
  };
}

interface RpcSpec {
  readonly path: string;
  readonly requestType: string;
  readonly responseType: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** Every RPC of the protocol's services, by service full name then method name. */
export const protocolRpcs: Readonly<Record<string, Readonly<Record<string, RpcSpec>>>> = {
  'cloudstate.EntityDiscovery': {
    discover: rpc('cloudstate.EntityDiscovery/discover', 'cloudstate.ProxyInfo', 'cloudstate.EntitySpec', false, false),
    reportError: rpc('cloudstate.EntityDiscovery/reportError', 'cloudstate.UserFunctionError', 'google.protobuf.Empty', false, false),
  },
  'cloudstate.eventsourced.EventSourced': {
    handle: rpc('cloudstate.eventsourced.EventSourced/handle', 'cloudstate.eventsourced.EventSourcedStreamIn', 'cloudstate.eventsourced.EventSourcedStreamOut', true, true),
  },
  'cloudstate.valueentity.ValueEntity': {
    handle: rpc('cloudstate.valueentity.ValueEntity/handle', 'cloudstate.valueentity.ValueEntityStreamIn', 'cloudstate.valueentity.ValueEntityStreamOut', true, true),
  },
  'cloudstate.crdt.Crdt': {
    handle: rpc('cloudstate.crdt.Crdt/handle', 'cloudstate.crdt.CrdtStreamIn', 'cloudstate.crdt.CrdtStreamOut', true, true),
  },
  'cloudstate.action.ActionProtocol': {
    handleUnary: rpc('cloudstate.action.ActionProtocol/handleUnary', 'cloudstate.action.ActionCommand', 'cloudstate.action.ActionResponse', false, false),
    handleStreamedIn: rpc('cloudstate.action.ActionProtocol/handleStreamedIn', 'cloudstate.action.ActionCommand', 'cloudstate.action.ActionResponse', true, false),
    handleStreamedOut: rpc('cloudstate.action.ActionProtocol/handleStreamedOut', 'cloudstate.action.ActionCommand', 'cloudstate.action.ActionResponse', false, true),
    handleStreamed: rpc('cloudstate.action.ActionProtocol/handleStreamed', 'cloudstate.action.ActionCommand', 'cloudstate.action.ActionResponse', true, true),
  },
};

function rpc(path: string, requestType: string, responseType: string, requestStream: boolean, responseStream: boolean): RpcSpec {
  return { path: `/${path}`, requestType, responseType, requestStream, responseStream };
}

/**
 * A grpc-js `ServiceDefinition` for one protocol service (e.g. `cloudstate.action.ActionProtocol`),
 * with the protocol codecs: what a server implementing the user-function side registers.
 */
export function protocolServiceDefinition(serviceName: string): grpc.ServiceDefinition {
  const rpcs = protocolRpcs[serviceName];
  if (!rpcs) throw new Error(`not a protocol service: ${serviceName}`);
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, spec] of Object.entries(rpcs)) {
    const req = codec<unknown>(spec.requestType);
    const res = codec<unknown>(spec.responseType);
    definition[name] = {
      path: spec.path,
      requestStream: spec.requestStream,
      responseStream: spec.responseStream,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: name,
    };
  }
  return definition;
}

/** What a `ProtocolStream` yields: the next message, or the end of the stream (`error` unless the user function ended it with OK). */
export type StreamItem<Out> = { readonly message: Out } | { readonly end: true; readonly error?: UserFunctionCallError };

/**
 * One call over the `H2Channel`, pull-based: `send` writes, `next()` resolves with the next
 * message or the end. Messages that arrive before anyone asks are queued in order; one that
 * does not decode ends the stream (INTERNAL), as in grpc-js. The entities' `handle` streams use
 * it as it is; the unary and streaming shapes below are built on it.
 */
export class ProtocolStream<In, Out> {
  private readonly queue: StreamItem<Out>[] = [];
  private readonly waiters: ((item: StreamItem<Out>) => void)[] = [];
  private readonly call: H2Call;
  private ended: StreamItem<Out> | undefined;
  private halfClosed = false;

  constructor(
    channel: H2Channel,
    path: string,
    private readonly codecIn: Codec<In>,
    codecOut: Codec<Out>,
    what: string,
    options: H2CallOptions = {},
  ) {
    this.call = channel.request(
      path,
      {
        onMessage: (bytes) => {
          let message: Out;
          try {
            message = codecOut.deserialize(bytes);
          } catch (err) {
            return this.call.cancel({ code: Status.INTERNAL, details: `a message from the user function does not decode: ${describeError(err)}` });
          }
          this.push({ message });
        },
        onEnd: (status) => this.finish(status.code === Status.OK ? { end: true } : { end: true, error: asUserFunctionError(status, what) }),
      },
      options,
    );
  }

  /** True once the user function ended its side (or the call failed). */
  get done(): boolean {
    return this.ended !== undefined;
  }

  /**
   * Writes a message; dropped (nothing to tell) once the stream ended or was half-closed. One
   * that does not encode ends the stream (INTERNAL). False when the write buffer is full: a
   * writer that can wait should, for `writable()`.
   */
  send(message: In): boolean {
    if (this.ended || this.halfClosed) return true;
    let bytes: Buffer;
    try {
      bytes = this.codecIn.serialize(message);
    } catch (err) {
      this.call.cancel({ code: Status.INTERNAL, details: `a message to the user function does not encode: ${describeError(err)}` });
      return true;
    }
    return this.call.write(bytes);
  }

  /** Resolves once the stream takes writes again (at once unless the last `send` returned false), or has ended. */
  writable(): Promise<void> {
    return this.call.writable();
  }

  /** The next message, or the end of the stream. */
  next(): Promise<StreamItem<Out>> {
    const item = this.queue.shift();
    if (item) return Promise.resolve(item);
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Half-closes the proxy's side (the user function then ends its side). Idempotent. */
  end(): void {
    if (this.halfClosed || this.ended) return;
    this.halfClosed = true;
    this.call.end();
  }

  /** Cancels the call (RST_STREAM); the stream ends CANCELLED. Idempotent. */
  cancel(): void {
    if (this.ended) return;
    this.call.cancel();
  }

  private push(item: StreamItem<Out>): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.queue.push(item);
  }

  private finish(item: StreamItem<Out>): void {
    if (this.ended) return;
    this.ended = item;
    for (const w of this.waiters.splice(0)) w(item);
  }
}

export interface UserFunctionClientOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080. */
  readonly port?: number;
  /** Largest message accepted from the user function (default 12 MiB). */
  readonly maxInboundMessageBytes?: number;
  /** How soon the connection is tried again after it failed, ms (default 1,000 doubling to 10,000, as discovery's backoff). */
  readonly reconnectBackoff?: { readonly minMs: number; readonly maxMs: number };
}

/** Deadline of a `discover` call unless told (and of every `reportError`), ms. */
const DISCOVERY_DEADLINE_MS = 10_000;

/**
 * The calls the proxy makes to the user function, all on one `H2Channel` (./h2-channel.ts),
 * which reconnects by itself, with a back-off.
 */
export class UserFunctionClient {
  readonly address: string;
  private readonly channel: H2Channel;
  private readonly codecs = {
    proxyInfo: codec<ProxyInfo>('cloudstate.ProxyInfo'),
    entitySpec: codec<EntitySpec>('cloudstate.EntitySpec'),
    userFunctionError: codec<{ message?: string }>('cloudstate.UserFunctionError'),
    empty: codec<object>('google.protobuf.Empty'),
    esIn: codec<EventSourcedStreamIn>('cloudstate.eventsourced.EventSourcedStreamIn'),
    esOut: codec<EventSourcedStreamOut>('cloudstate.eventsourced.EventSourcedStreamOut'),
    veIn: codec<ValueEntityStreamIn>('cloudstate.valueentity.ValueEntityStreamIn'),
    veOut: codec<ValueEntityStreamOut>('cloudstate.valueentity.ValueEntityStreamOut'),
    crdtIn: codec<CrdtStreamIn>('cloudstate.crdt.CrdtStreamIn'),
    crdtOut: codec<CrdtStreamOut>('cloudstate.crdt.CrdtStreamOut'),
    actionCommand: codec<ActionCommand>('cloudstate.action.ActionCommand'),
    actionResponse: codec<ActionResponse>('cloudstate.action.ActionResponse'),
  };

  constructor(options: UserFunctionClientOptions = {}) {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 8080;
    const maxInboundMessageBytes = options.maxInboundMessageBytes ?? MAX_INBOUND_MESSAGE_BYTES;
    const reconnectBackoff = options.reconnectBackoff ?? { minMs: 1_000, maxMs: 10_000 };
    this.address = `${host}:${port}`;
    this.channel = new H2Channel({ host, port, maxInboundMessageBytes, reconnectBackoff });
  }

  /** `EntityDiscovery.discover`, with a deadline (default 10 s). Fails fast (UNAVAILABLE) while the user function is not up. */
  discover(info: ProxyInfo, options: { deadlineMs?: number } = {}): Promise<EntitySpec> {
    const what = `discovery at ${this.address}`;
    const stream = this.open('cloudstate.EntityDiscovery', 'discover', this.codecs.proxyInfo, this.codecs.entitySpec, what, { deadlineMs: options.deadlineMs ?? DISCOVERY_DEADLINE_MS });
    return unary(stream, info, what);
  }

  /** `EntityDiscovery.reportError`: tells the user function (and its developer) what is wrong. */
  async reportError(message: string): Promise<void> {
    const what = 'reportError';
    const stream = this.open('cloudstate.EntityDiscovery', 'reportError', this.codecs.userFunctionError, this.codecs.empty, what, { deadlineMs: DISCOVERY_DEADLINE_MS });
    await unary(stream, { message }, what);
  }

  /** Opens an event-sourced entity's `handle` stream. */
  openEventSourced(): ProtocolStream<EventSourcedStreamIn, EventSourcedStreamOut> {
    return this.open('cloudstate.eventsourced.EventSourced', 'handle', this.codecs.esIn, this.codecs.esOut, 'event-sourced entity stream');
  }

  /** Opens a value entity's `handle` stream. */
  openValueEntity(): ProtocolStream<ValueEntityStreamIn, ValueEntityStreamOut> {
    return this.open('cloudstate.valueentity.ValueEntity', 'handle', this.codecs.veIn, this.codecs.veOut, 'value entity stream');
  }

  /** Opens a CRDT entity's `handle` stream. */
  openCrdt(): ProtocolStream<CrdtStreamIn, CrdtStreamOut> {
    return this.open('cloudstate.crdt.Crdt', 'handle', this.codecs.crdtIn, this.codecs.crdtOut, 'CRDT entity stream');
  }

  /** `ActionProtocol.handleUnary`. Aborting `signal` cancels the call. */
  actionUnary(command: ActionCommand, signal?: AbortSignal): Promise<ActionResponse> {
    const what = `action ${command.service_name}.${command.name}`;
    const stream = this.openAction('handleUnary', what, signal);
    return unary(stream, command, what);
  }

  /** `ActionProtocol.handleStreamedOut`: one command, a stream of responses. Aborting `signal`, or leaving the loop early, cancels the call. */
  actionStreamedOut(command: ActionCommand, signal?: AbortSignal): AsyncIterable<ActionResponse> {
    const stream = this.openAction('handleStreamedOut', `action ${command.service_name}.${command.name}`, signal);
    stream.send(command);
    stream.end();
    return responses(stream);
  }

  /** `ActionProtocol.handleStreamedIn`: writes every command of `commands`, then half-closes; resolves with the one response. */
  actionStreamedIn(commands: AsyncIterable<ActionCommand>, signal?: AbortSignal): Promise<ActionResponse> {
    const what = 'streamed-in action';
    const stream = this.openAction('handleStreamedIn', what, signal);
    void pump(commands, stream);
    return onlyResponse(stream, what);
  }

  /** `ActionProtocol.handleStreamed` (bidi): writes `commands` while yielding the responses. */
  actionStreamed(commands: AsyncIterable<ActionCommand>, signal?: AbortSignal): AsyncIterable<ActionResponse> {
    const stream = this.openAction('handleStreamed', 'streamed action', signal);
    void pump(commands, stream);
    return responses(stream);
  }

  /** Closes the connection to new calls; calls in progress run to their end. */
  close(): void {
    this.channel.close();
  }

  private open<In, Out>(service: string, method: string, codecIn: Codec<In>, codecOut: Codec<Out>, what: string, options?: H2CallOptions): ProtocolStream<In, Out> {
    return new ProtocolStream(this.channel, protocolRpcs[service]![method]!.path, codecIn, codecOut, what, options);
  }

  private openAction(method: string, what: string, signal: AbortSignal | undefined): ProtocolStream<ActionCommand, ActionResponse> {
    const stream = this.open('cloudstate.action.ActionProtocol', method, this.codecs.actionCommand, this.codecs.actionResponse, what);
    if (signal?.aborted) stream.cancel();
    else signal?.addEventListener('abort', () => stream.cancel(), { once: true });
    return stream;
  }
}

/** Sends `request`, half-closes, and resolves with the one response: a unary call. */
function unary<In, Out>(stream: ProtocolStream<In, Out>, request: In, what: string): Promise<Out> {
  stream.send(request);
  stream.end();
  return onlyResponse(stream, what);
}

/** The one response of a unary or client-streaming call; none, or more than one, fails UNIMPLEMENTED, as in grpc-js. */
async function onlyResponse<In, Out>(stream: ProtocolStream<In, Out>, what: string): Promise<Out> {
  let response: { readonly message: Out } | undefined;
  for await (const message of responses(stream)) {
    if (response) throw asUserFunctionError({ code: Status.UNIMPLEMENTED, details: 'Too many responses received' }, what);
    response = { message };
  }
  if (!response) throw asUserFunctionError({ code: Status.UNIMPLEMENTED, details: 'No message received' }, what);
  return response.message;
}

/** Writes every item, honouring back-pressure, then half-closes; a failing source cancels the call. */
async function pump<In, Out>(source: AsyncIterable<In>, stream: ProtocolStream<In, Out>): Promise<void> {
  try {
    for await (const item of source) if (!stream.send(item)) await stream.writable();
    stream.end();
  } catch {
    stream.cancel();
  }
}

/** The messages of a response stream, ending with it; a non-OK status throws its `UserFunctionCallError`. A consumer that stops early cancels the call. */
async function* responses<In, Out>(stream: ProtocolStream<In, Out>): AsyncGenerator<Out> {
  try {
    for (;;) {
      const item = await stream.next();
      if ('message' in item) yield item.message;
      else if (item.error) throw item.error;
      else return;
    }
  } finally {
    stream.cancel();
  }
}
