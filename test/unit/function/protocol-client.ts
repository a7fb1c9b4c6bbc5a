/**
 * The proxy's side of the protocol, for the function library's tests: grpc-js clients of the
 * protocol services (built from the protocol protos, protobufjs codecs) and a pull queue over
 * response streams. Responses are converted to plain objects (int64 as numbers).
 */
import * as grpc from '@grpc/grpc-js';
import type { Test } from 'tap';
import { protocolRoot, protobuf, type Any } from '../../../src/protocol/index.js';
import { CloudstateServer, serviceDefinition, type Entity } from '../../../src/function/index.js';
import { silentLogger } from '../../../src/core/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Plain = Record<string, any>;

/** A client of protocol service `name` (e.g. `cloudstate.eventsourced.EventSourced`). */
export function protocolClient(name: string, port: number): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(protocolRoot().lookupService(name)), name);
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
}

/** A decoded protocol message as a plain object (int64 as numbers, bytes as Buffers). */
export function plain(message: unknown): Plain {
  const type = (message as { $type?: protobuf.Type }).$type;
  if (!type) return message as Plain;
  return type.toObject(message as protobuf.Message, { longs: Number, defaults: false, oneofs: false });
}

/** Starts a server on port 0 with `entities`; stopped at teardown. */
export async function startServer(t: Test, entities: Entity[]): Promise<{ server: CloudstateServer; port: number }> {
  const server = new CloudstateServer({ entities, logger: silentLogger, serviceName: 'test-function', serviceVersion: '1.2.3' });
  const port = await server.start({ port: 0 });
  t.teardown(() => server.shutdown(100));
  return { server, port };
}

/** Messages of a response stream, pulled one at a time. */
export class Inbox {
  private readonly items: Plain[] = [];
  private readonly waiters: Array<{ resolve: (item: Plain | undefined) => void }> = [];
  private done = false;
  error: Error | undefined;

  constructor(stream: NodeJS.EventEmitter) {
    stream.on('data', (message: unknown) => this.push(plain(message)));
    stream.on('end', () => this.finish());
    stream.on('error', (error: Error) => {
      this.error = error;
      this.finish();
    });
  }

  private push(item: Plain): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.items.push(item);
  }

  private finish(): void {
    this.done = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
  }

  /** The next message; undefined once the stream ended. */
  next(): Promise<Plain | undefined> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.done) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  /** Resolves when the stream ended, with the messages left unread. */
  async ended(): Promise<Plain[]> {
    const rest: Plain[] = [];
    for (let item = await this.next(); item !== undefined; item = await this.next()) rest.push(item);
    return rest;
  }
}

/** A bidi `handle` stream of an entity protocol: write messages in, pull messages out. */
export function openHandle(client: grpc.Client & Record<string, (...args: unknown[]) => unknown>): { call: grpc.ClientDuplexStream<Plain, unknown>; inbox: Inbox } {
  const call = client.handle!() as grpc.ClientDuplexStream<Plain, unknown>;
  return { call, inbox: new Inbox(call) };
}

/** Decodes an Any of a message type of `root` to a plain object (camelCase as the root was loaded). */
export function decodeAny(root: protobuf.Root, any: Any | undefined): Plain {
  const url = any?.type_url ?? '';
  const type = root.lookupType(url.slice(url.lastIndexOf('/') + 1));
  return type.toObject(type.decode(any?.value ?? new Uint8Array(0)), { longs: Number });
}

/** An Any holding `fields` as message type `typeName` of `root`. */
export function anyOf(root: protobuf.Root, typeName: string, fields: Plain): Any {
  const type = root.lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(fields)).finish() };
}
