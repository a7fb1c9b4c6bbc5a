/**
 * The proxy's gRPC client to the user function (`host:port`, plaintext h2c): discovery and
 * error reports (`cloudstate.EntityDiscovery`), one bidi `handle` stream per active entity
 * (event sourced, value entity, CRDT; on ./h2-channel.ts, not grpc-js, for speed), and the
 * four action calls. Protocol messages are encoded and
 * decoded with protobufjs from the protocol root (snake_case shapes of ../protocol); command
 * payloads travel inside them as bytes (`Any.value`), never decoded here.
 *
 * It maps gRPC errors once, at this boundary, to `UserFunctionCallError` (stable codes: the
 * user function is unreachable, or a call failed), and owns no retry policy: discovery
 * (./discovery.ts) and the entity supports (./entities/) decide what to do.
 */
import * as grpc from '@grpc/grpc-js';
import { CloudstateError, describeError } from '../core/index.js';
import { protocolType } from '../protocol/index.js';
import { H2Channel } from './h2-channel.js';
import type { H2Call } from './h2-channel.js';
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

/** A call to the user function failed; `grpcCode` is the gRPC status it ended with. */
export class UserFunctionCallError extends CloudstateError {
  constructor(
    readonly grpcCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(grpcCode === grpc.status.UNAVAILABLE ? UserFunctionErrorCode.Unavailable : UserFunctionErrorCode.CallFailed, message, options);
  }
}

/** Maps anything grpc-js or the `H2Channel` reported (`code`, `details`) to a `UserFunctionCallError` naming the call. */
export function asUserFunctionError(err: unknown, what: string): UserFunctionCallError {
  if (err instanceof UserFunctionCallError) return err;
  const e = err as Partial<grpc.ServiceError> | undefined;
  const code = typeof e?.code === 'number' ? e.code : grpc.status.UNKNOWN;
  const detail = e?.details || (err instanceof Error ? err.message : String(err));
  return new UserFunctionCallError(code, `${what}: ${grpc.status[code] ?? code}: ${detail}`, { cause: err });
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
 * One bidi `handle` stream over the `H2Channel`, pull-based: `send` writes, `next()` resolves
 * with the next message or the end. Messages that arrive before anyone asks are queued in order;
 * one that does not decode ends the stream (INTERNAL), as in grpc-js.
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
  ) {
    this.call = channel.request(path, {
      onMessage: (bytes) => {
        let message: Out;
        try {
          message = codecOut.deserialize(bytes);
        } catch (err) {
          return this.call.cancel({ code: grpc.status.INTERNAL, details: `a message from the user function does not decode: ${describeError(err)}` });
        }
        this.push({ message });
      },
      onEnd: (status) => this.finish(status.code === grpc.status.OK ? { end: true } : { end: true, error: asUserFunctionError(status, what) }),
    });
  }

  /** True once the user function ended its side (or the call failed). */
  get done(): boolean {
    return this.ended !== undefined;
  }

  /** Writes a message; dropped (nothing to tell) once the stream ended or was half-closed. One that does not encode ends the stream (INTERNAL). */
  send(message: In): void {
    if (this.ended || this.halfClosed) return;
    let bytes: Buffer;
    try {
      bytes = this.codecIn.serialize(message);
    } catch (err) {
      return this.call.cancel({ code: grpc.status.INTERNAL, details: `a message to the user function does not encode: ${describeError(err)}` });
    }
    this.call.write(bytes);
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

/**
 * The calls the proxy makes to the user function, on two HTTP/2 connections: the entities'
 * `handle` streams on an `H2Channel` (./h2-channel.ts, for speed), discovery, error reports and
 * actions on a grpc-js channel. Each reconnects by itself, with the same back-off.
 */
export class UserFunctionClient {
  readonly address: string;
  private readonly client: grpc.Client;
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
    this.client = new grpc.Client(this.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxInboundMessageBytes,
      'grpc.max_send_message_length': -1,
      'grpc.initial_reconnect_backoff_ms': reconnectBackoff.minMs,
      'grpc.max_reconnect_backoff_ms': reconnectBackoff.maxMs,
    });
    this.channel = new H2Channel({ host, port, maxInboundMessageBytes, reconnectBackoff });
  }

  /** `EntityDiscovery.discover`. Fails fast (UNAVAILABLE) while the user function is not up. */
  discover(info: ProxyInfo, options: { deadlineMs?: number } = {}): Promise<EntitySpec> {
    const { proxyInfo, entitySpec } = this.codecs;
    const path = protocolRpcs['cloudstate.EntityDiscovery']!.discover!.path;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(path, proxyInfo.serialize, entitySpec.deserialize, info, new grpc.Metadata(), { deadline: Date.now() + (options.deadlineMs ?? 10_000) }, (err, spec) =>
        err || !spec ? reject(asUserFunctionError(err, `discovery at ${this.address}`)) : resolve(spec),
      );
    });
  }

  /** `EntityDiscovery.reportError`: tells the user function (and its developer) what is wrong. */
  reportError(message: string): Promise<void> {
    const { userFunctionError, empty } = this.codecs;
    const path = protocolRpcs['cloudstate.EntityDiscovery']!.reportError!.path;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(path, userFunctionError.serialize, empty.deserialize, { message }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) =>
        err ? reject(asUserFunctionError(err, 'reportError')) : resolve(),
      );
    });
  }

  /** Opens an event-sourced entity's `handle` stream. */
  openEventSourced(): ProtocolStream<EventSourcedStreamIn, EventSourcedStreamOut> {
    const path = protocolRpcs['cloudstate.eventsourced.EventSourced']!.handle!.path;
    return new ProtocolStream(this.channel, path, this.codecs.esIn, this.codecs.esOut, 'event-sourced entity stream');
  }

  /** Opens a value entity's `handle` stream. */
  openValueEntity(): ProtocolStream<ValueEntityStreamIn, ValueEntityStreamOut> {
    const path = protocolRpcs['cloudstate.valueentity.ValueEntity']!.handle!.path;
    return new ProtocolStream(this.channel, path, this.codecs.veIn, this.codecs.veOut, 'value entity stream');
  }

  /** Opens a CRDT entity's `handle` stream. */
  openCrdt(): ProtocolStream<CrdtStreamIn, CrdtStreamOut> {
    const path = protocolRpcs['cloudstate.crdt.Crdt']!.handle!.path;
    return new ProtocolStream(this.channel, path, this.codecs.crdtIn, this.codecs.crdtOut, 'CRDT entity stream');
  }

  /** `ActionProtocol.handleUnary`. */
  actionUnary(command: ActionCommand, signal?: AbortSignal): Promise<ActionResponse> {
    const { actionCommand, actionResponse } = this.codecs;
    const path = protocolRpcs['cloudstate.action.ActionProtocol']!.handleUnary!.path;
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(path, actionCommand.serialize, actionResponse.deserialize, command, new grpc.Metadata(), {}, (err, response) =>
        err || !response ? reject(asUserFunctionError(err, `action ${command.service_name}.${command.name}`)) : resolve(response),
      );
      cancelOnAbort(signal, () => call.cancel());
    });
  }

  /** `ActionProtocol.handleStreamedOut`: one command, a stream of responses. */
  actionStreamedOut(command: ActionCommand, signal?: AbortSignal): AsyncIterable<ActionResponse> {
    const { actionCommand, actionResponse } = this.codecs;
    const path = protocolRpcs['cloudstate.action.ActionProtocol']!.handleStreamedOut!.path;
    const call = this.client.makeServerStreamRequest(path, actionCommand.serialize, actionResponse.deserialize, command, new grpc.Metadata());
    cancelOnAbort(signal, () => call.cancel());
    return readAll<ActionResponse>(call, `action ${command.service_name}.${command.name}`);
  }

  /** `ActionProtocol.handleStreamedIn`: writes every command of `commands`, then half-closes; resolves with the one response. */
  actionStreamedIn(commands: AsyncIterable<ActionCommand>, signal?: AbortSignal): Promise<ActionResponse> {
    const { actionCommand, actionResponse } = this.codecs;
    const path = protocolRpcs['cloudstate.action.ActionProtocol']!.handleStreamedIn!.path;
    return new Promise((resolve, reject) => {
      const call = this.client.makeClientStreamRequest(path, actionCommand.serialize, actionResponse.deserialize, new grpc.Metadata(), {}, (err, response) =>
        err || !response ? reject(asUserFunctionError(err, 'streamed-in action')) : resolve(response),
      );
      cancelOnAbort(signal, () => call.cancel());
      void pump(commands, call, () => call.cancel());
    });
  }

  /** `ActionProtocol.handleStreamed` (bidi): writes `commands` while yielding the responses. */
  actionStreamed(commands: AsyncIterable<ActionCommand>, signal?: AbortSignal): AsyncIterable<ActionResponse> {
    const { actionCommand, actionResponse } = this.codecs;
    const path = protocolRpcs['cloudstate.action.ActionProtocol']!.handleStreamed!.path;
    const call = this.client.makeBidiStreamRequest(path, actionCommand.serialize, actionResponse.deserialize, new grpc.Metadata());
    cancelOnAbort(signal, () => call.cancel());
    void pump(commands, call, () => call.cancel());
    return readAll<ActionResponse>(call, 'streamed action');
  }

  /** Closes both connections to new calls; calls in progress run to their end. */
  close(): void {
    this.client.close();
    this.channel.close();
  }
}

function cancelOnAbort(signal: AbortSignal | undefined, cancel: () => void): void {
  if (!signal) return;
  if (signal.aborted) cancel();
  else signal.addEventListener('abort', cancel, { once: true });
}

/** Writes every item, honouring back-pressure, then half-closes; a failing source cancels the call. */
async function pump<T>(source: AsyncIterable<T>, call: grpc.ClientWritableStream<T>, cancel: () => void): Promise<void> {
  try {
    for await (const item of source) {
      if (!call.write(item)) await new Promise((resolve) => call.once('drain', resolve));
    }
    call.end();
  } catch {
    cancel();
  }
}

/** The messages of a response stream, ending with it; a non-OK status throws `UserFunctionCallError`. */
async function* readAll<T>(call: grpc.ClientReadableStream<T>, what: string): AsyncGenerator<T> {
  // The iterator reports errors while it runs; after it, a cancel's CANCELLED must not go unheard.
  call.on('error', () => undefined);
  try {
    for await (const message of call as AsyncIterable<T>) yield message;
  } catch (err) {
    throw asUserFunctionError(err, what);
  } finally {
    call.cancel();
  }
}
