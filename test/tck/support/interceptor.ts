/**
 * The TCK interceptor: a gRPC server that sits between the proxy and the user function. The
 * proxy is pointed at it (`USER_FUNCTION_PORT`); it forwards every call, byte for byte, to the
 * real user function — discovery, every entity `handle` stream (event sourced, value entity, CRDT)
 * and the four `ActionProtocol` methods — and records each call as a connection: the messages
 * the proxy sent in (`in`), the messages the user function sent out (`out`), and how each
 * direction ended. Tests then assert the exact protocol exchange:
 *
 *   await interceptor.expectEventSourcedConnection()
 *     .expectIncoming(es.init(service, id))
 *     .expectIncoming(es.command(1, id, 'Process', request))
 *     .expectOutgoing(es.reply(1, response));
 *   await interceptor.verifyNoMoreInteractions();
 *
 * Entity messages are compared exactly; action commands ignore `metadata` (as the reference
 * TCK does: the proxy passes transport headers there). Owns forwarding and recording; the
 * comparison rules live in ./codec.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncQueue, DEFAULT_TIMEOUT_MS } from './async-queue.js';
import { decode } from './codec.js';
import { onceFinished } from './grpc-calls.js';
import { ConnectionChain, InterceptedConnection, type ConnectionKind } from './intercepted-connection.js';
import type { EntitySpec, ProxyInfo, UserFunctionError } from '../../../src/protocol/index.js';

/** One discovery exchange: what the proxy sent and what the user function answered. */
export interface DiscoveryExchange {
  readonly proxyInfo: ProxyInfo;
  /** The user function's answer, decoded (int64 as numbers); undefined if it failed. */
  readonly entitySpec?: EntitySpec;
  /** The error the user function answered with, if it did. */
  readonly error?: grpc.ServiceError;
}

const identity = (b: Buffer) => b;

interface MethodSpec {
  path: string;
  kind: ConnectionKind | 'discover' | 'reportError';
  requestStream: boolean;
  responseStream: boolean;
}

const entityTypes: Record<string, { in: string; out: string }> = {
  eventSourced: { in: 'cloudstate.eventsourced.EventSourcedStreamIn', out: 'cloudstate.eventsourced.EventSourcedStreamOut' },
  valueEntity: { in: 'cloudstate.valueentity.ValueEntityStreamIn', out: 'cloudstate.valueentity.ValueEntityStreamOut' },
  crdt: { in: 'cloudstate.crdt.CrdtStreamIn', out: 'cloudstate.crdt.CrdtStreamOut' },
};
const actionTypes = { in: 'cloudstate.action.ActionCommand', out: 'cloudstate.action.ActionResponse' };

const services: Record<string, Record<string, MethodSpec>> = {
  'cloudstate.EntityDiscovery': {
    discover: { path: '/cloudstate.EntityDiscovery/discover', kind: 'discover', requestStream: false, responseStream: false },
    reportError: { path: '/cloudstate.EntityDiscovery/reportError', kind: 'reportError', requestStream: false, responseStream: false },
  },
  'cloudstate.eventsourced.EventSourced': {
    handle: { path: '/cloudstate.eventsourced.EventSourced/handle', kind: 'eventSourced', requestStream: true, responseStream: true },
  },
  'cloudstate.valueentity.ValueEntity': {
    handle: { path: '/cloudstate.valueentity.ValueEntity/handle', kind: 'valueEntity', requestStream: true, responseStream: true },
  },
  'cloudstate.crdt.Crdt': {
    handle: { path: '/cloudstate.crdt.Crdt/handle', kind: 'crdt', requestStream: true, responseStream: true },
  },
  'cloudstate.action.ActionProtocol': {
    handleUnary: { path: '/cloudstate.action.ActionProtocol/handleUnary', kind: 'actionUnary', requestStream: false, responseStream: false },
    handleStreamedIn: { path: '/cloudstate.action.ActionProtocol/handleStreamedIn', kind: 'actionStreamedIn', requestStream: true, responseStream: false },
    handleStreamedOut: { path: '/cloudstate.action.ActionProtocol/handleStreamedOut', kind: 'actionStreamedOut', requestStream: false, responseStream: true },
    handleStreamed: { path: '/cloudstate.action.ActionProtocol/handleStreamed', kind: 'actionStreamed', requestStream: true, responseStream: true },
  },
};

function statusOf(error: unknown): { code: number; details: string } {
  const e = error as Partial<grpc.ServiceError>;
  return { code: e.code ?? grpc.status.UNKNOWN, details: e.details ?? (error instanceof Error ? error.message : String(error)) };
}

export class Interceptor {
  readonly #server = new grpc.Server();
  readonly #upstream: grpc.Client;
  readonly #connections = new AsyncQueue<InterceptedConnection>();
  readonly #all: InterceptedConnection[] = [];
  readonly #calls = new Set<grpc.Call>();
  readonly #discoveries = new AsyncQueue<DiscoveryExchange>();
  readonly #errors = new AsyncQueue<UserFunctionError>();
  #port = 0;

  /** An interceptor forwarding to the user function at `userFunction` (`host:port`). */
  constructor(readonly userFunction: string) {
    this.#upstream = new grpc.Client(userFunction, grpc.credentials.createInsecure());
    for (const methods of Object.values(services)) {
      const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const [name, spec] of Object.entries(methods)) {
        definition[name] = {
          path: spec.path,
          requestStream: spec.requestStream,
          responseStream: spec.responseStream,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        };
        implementation[name] = this.#handler(spec);
      }
      this.#server.addService(definition, implementation);
    }
  }

  /** Binds 127.0.0.1 on `port` (0: any free port) and resolves with the port. */
  async start(port = 0): Promise<number> {
    this.#port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** Stops serving, cancels the calls still open both ways, closes the upstream channel. */
  async stop(): Promise<void> {
    for (const call of this.#calls) call.cancel();
    this.#server.forceShutdown();
    this.#upstream.close();
  }

  /** The next discovery exchange (the proxy's `ProxyInfo` and the user function's `EntitySpec`). */
  async expectDiscovery(ms = DEFAULT_TIMEOUT_MS): Promise<DiscoveryExchange> {
    return this.#discoveries.next('entity discovery', ms);
  }

  /** The next error the proxy reported to the user function (`EntityDiscovery.reportError`). */
  async expectReportedError(ms = DEFAULT_TIMEOUT_MS): Promise<UserFunctionError> {
    return this.#errors.next('a reported error', ms);
  }

  expectEventSourcedConnection(ms?: number): ConnectionChain {
    return this.#expect('eventSourced', ms);
  }
  expectValueEntityConnection(ms?: number): ConnectionChain {
    return this.#expect('valueEntity', ms);
  }
  expectCrdtConnection(ms?: number): ConnectionChain {
    return this.#expect('crdt', ms);
  }
  expectActionUnaryConnection(ms?: number): ConnectionChain {
    return this.#expect('actionUnary', ms);
  }
  expectActionStreamedInConnection(ms?: number): ConnectionChain {
    return this.#expect('actionStreamedIn', ms);
  }
  expectActionStreamedOutConnection(ms?: number): ConnectionChain {
    return this.#expect('actionStreamedOut', ms);
  }
  expectActionStreamedConnection(ms?: number): ConnectionChain {
    return this.#expect('actionStreamed', ms);
  }

  /**
   * Fails unless nothing happened that no test looked at: no connection opened, no error
   * reported, no message passed on any connection. Waits `settleMs` first, for stragglers.
   */
  async verifyNoMoreInteractions(settleMs = 50): Promise<void> {
    await sleep(settleMs);
    const problems: string[] = [];
    for (const c of this.#connections.drain()) problems.push(`an unexpected ${c.describe()}`);
    for (const e of this.#errors.drain()) problems.push(`an unexpected reported error: ${JSON.stringify(e.message)}`);
    for (const d of this.#discoveries.drain()) problems.push(`an unexpected discovery: ${JSON.stringify(d.proxyInfo)}`);
    for (const c of this.#all) problems.push(...c.takeUnconsumedMessages().map((m) => `${c.describe()}: unconsumed ${m}`));
    if (problems.length > 0) throw new Error(`interceptor saw more interactions:\n  ${problems.join('\n  ')}`);
  }

  #expect(kind: ConnectionKind, ms = DEFAULT_TIMEOUT_MS): ConnectionChain {
    return new ConnectionChain(
      this.#connections.next(`a ${kind} connection`, ms).then((c) => {
        if (c.kind !== kind) throw new Error(`expected a ${kind} connection, found ${c.describe()}`);
        return c;
      }),
    );
  }

  #open(kind: ConnectionKind): InterceptedConnection {
    const types = kind === 'eventSourced' || kind === 'valueEntity' || kind === 'crdt' ? entityTypes[kind]! : actionTypes;
    const connection = new InterceptedConnection(kind, types.in, types.out, kind.startsWith('action') ? ['metadata'] : []);
    this.#all.push(connection);
    this.#connections.push(connection);
    return connection;
  }

  #track<C extends grpc.Call>(call: C): C {
    this.#calls.add(call);
    call.on('status', () => this.#calls.delete(call));
    return call;
  }

  #handler(spec: MethodSpec): grpc.UntypedHandleCall {
    const path = spec.path;
    switch (spec.kind) {
      case 'discover':
        return (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const proxyInfo = decode<ProxyInfo>('cloudstate.ProxyInfo', call.request);
          this.#upstream.makeUnaryRequest(path, identity, identity, call.request, call.metadata, (err, response) => {
            if (err || !response) {
              this.#discoveries.push({ proxyInfo, error: err ?? undefined });
              callback(err);
            } else {
              this.#discoveries.push({ proxyInfo, entitySpec: decode<EntitySpec>('cloudstate.EntitySpec', response) });
              callback(null, response);
            }
          });
        };
      case 'reportError':
        return (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          this.#errors.push(decode<UserFunctionError>('cloudstate.UserFunctionError', call.request));
          this.#upstream.makeUnaryRequest(path, identity, identity, call.request, call.metadata, (err, response) => callback(err, response));
        };
      case 'actionUnary':
        return (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const c = this.#open(spec.kind as ConnectionKind);
          c.in.message(call.request);
          c.in.complete();
          this.#track(
            this.#upstream.makeUnaryRequest(path, identity, identity, call.request, call.metadata, (err, response) => {
              if (err || !response) c.out.error(statusOf(err));
              else {
                c.out.message(response);
                c.out.complete();
              }
              callback(err, response);
            }),
          );
        };
      case 'actionStreamedIn':
        return (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const c = this.#open(spec.kind as ConnectionKind);
          const upstream = this.#track(
            this.#upstream.makeClientStreamRequest(path, identity, identity, call.metadata, (err, response) => {
              if (err || !response) c.out.error(statusOf(err));
              else {
                c.out.message(response);
                c.out.complete();
              }
              callback(err, response);
            }),
          );
          this.#pipeIn(call, upstream, c);
        };
      case 'actionStreamedOut':
        return (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          const c = this.#open(spec.kind as ConnectionKind);
          c.in.message(call.request);
          c.in.complete();
          const upstream = this.#track(this.#upstream.makeServerStreamRequest(path, identity, identity, call.request, call.metadata));
          call.on('cancelled', () => upstream.cancel());
          this.#pipeOut(upstream, call, c);
        };
      default:
        return (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          const c = this.#open(spec.kind as ConnectionKind);
          const upstream = this.#track(this.#upstream.makeBidiStreamRequest(path, identity, identity, call.metadata));
          this.#pipeIn(call, upstream, c);
          this.#pipeOut(upstream, call, c);
        };
    }
  }

  /** Proxy → user function: records and forwards each message, the half-close and a cancel. */
  #pipeIn(from: grpc.ServerReadableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>, to: grpc.ClientWritableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, c: InterceptedConnection): void {
    from.on('data', (bytes: Buffer) => {
      c.in.message(bytes);
      to.write(bytes);
    });
    from.on('end', () => {
      c.in.complete();
      to.end();
    });
    from.on('cancelled', () => {
      c.in.error({ code: grpc.status.CANCELLED, details: 'cancelled by the proxy' });
      to.cancel();
    });
    from.on('error', () => undefined);
  }

  /** User function → proxy: records and forwards each message, then the status. */
  #pipeOut(from: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, to: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>, c: InterceptedConnection): void {
    from.on('data', (bytes: Buffer) => {
      c.out.message(bytes);
      to.write(bytes);
    });
    onceFinished(from, (status) => {
      if (status.code === grpc.status.OK) {
        c.out.complete();
        if (!to.cancelled) to.end();
      } else {
        c.out.error({ code: status.code, details: status.details });
        if (!to.cancelled) to.emit('error', { code: status.code, details: status.details });
      }
    });
  }
}

