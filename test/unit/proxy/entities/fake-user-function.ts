/**
 * A scripted user function for the proxy's tests: a real @grpc/grpc-js server on 127.0.0.1
 * (port 0) implementing the protocol's services with the protocol codecs. Each entity stream
 * the proxy opens becomes a `Connection` the test reads from (`expect`) and answers on
 * (`send`), so tests assert the exact messages the proxy sends. Actions are answered by
 * functions the test sets. Also builds the test model's descriptor set.
 */
import * as grpc from '@grpc/grpc-js';
import { EntityType, protocolType } from '../../../../src/protocol/index.js';
import type { ActionCommand, ActionResponse, EntitySpec, ProxyInfo } from '../../../../src/protocol/index.js';
import { protocolServiceDefinition } from '../../../../src/proxy/user-function.js';
import { buildProxyModel } from '../../../../src/proxy/descriptors.js';
import { CallError } from '../../../../src/proxy/dispatch.js';
import type { protobuf } from '../../../../src/protocol/index.js';

/** Waits for items pushed later; `next` resolves in push order. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];
  push(item: T): void {
    const w = this.waiters.shift();
    if (w) w(item);
    else this.items.push(item);
  }
  next(timeoutMs = 5000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const waiter = (i: T) => {
        clearTimeout(timer);
        resolve(i);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1); // the next item goes to the next caller
        reject(new Error(`nothing arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref(); // a test waiting for nothing must not keep the process alive
      this.waiters.push(waiter);
    });
  }
  get size(): number {
    return this.items.length;
  }
}

/** One `handle` stream opened by the proxy. */
export class Connection<In = Record<string, unknown>, Out = unknown> {
  readonly received = new Inbox<In>();
  /** Resolves when the proxy half-closes or cancels the stream. */
  readonly closed: Promise<'end' | 'cancelled'>;
  constructor(readonly call: grpc.ServerDuplexStream<In, Out>) {
    call.on('data', (m: In) => this.received.push(m));
    this.closed = new Promise((resolve) => {
      call.on('end', () => resolve('end'));
      call.on('cancelled', () => resolve('cancelled'));
    });
  }
  /** The next message from the proxy, as a plain object (int64 as numbers, bytes as Buffers). */
  async expect(): Promise<Record<string, unknown>> {
    return plain(await this.received.next());
  }
  send(message: Out): void {
    this.call.write(message);
  }
  end(): void {
    this.call.end();
  }
  fail(code: grpc.status, details: string): void {
    this.call.emit('error', { code, details });
  }
}

export type ActionScript = {
  unary?: (command: ActionCommand) => ActionResponse | Promise<ActionResponse>;
  streamedIn?: (commands: ActionCommand[]) => ActionResponse;
  streamedOut?: (command: ActionCommand) => ActionResponse[];
  streamed?: (command: ActionCommand) => ActionResponse[];
};

export class FakeUserFunction {
  readonly server = new grpc.Server();
  port = 0;
  readonly eventSourced = new Inbox<Connection>();
  readonly valueEntity = new Inbox<Connection>();
  readonly reported = new Inbox<string>();
  readonly discoveries = new Inbox<Record<string, unknown>>();
  /** The action RPCs the proxy cancelled, by name. */
  readonly cancelled = new Inbox<string>();
  readonly actionCalls: { rpc: string; commands: Record<string, unknown>[] }[] = [];
  spec: EntitySpec | undefined;
  actions: ActionScript = {};

  constructor() {
    this.server.addService(protocolServiceDefinition('cloudstate.EntityDiscovery'), {
      discover: (call: grpc.ServerUnaryCall<ProxyInfo, EntitySpec>, cb: grpc.sendUnaryData<EntitySpec>) => {
        this.discoveries.push(plain(call.request));
        cb(null, this.spec ?? {});
      },
      reportError: (call: grpc.ServerUnaryCall<{ message: string }, object>, cb: grpc.sendUnaryData<object>) => {
        this.reported.push(call.request.message);
        cb(null, {});
      },
    });
    this.server.addService(protocolServiceDefinition('cloudstate.eventsourced.EventSourced'), {
      handle: (call: grpc.ServerDuplexStream<Record<string, unknown>, unknown>) => this.eventSourced.push(new Connection(call)),
    });
    this.server.addService(protocolServiceDefinition('cloudstate.valueentity.ValueEntity'), {
      handle: (call: grpc.ServerDuplexStream<Record<string, unknown>, unknown>) => this.valueEntity.push(new Connection(call)),
    });
    const record = (rpc: string, commands: ActionCommand[]) => this.actionCalls.push({ rpc, commands: commands.map(plain) });
    this.server.addService(protocolServiceDefinition('cloudstate.action.ActionProtocol'), {
      handleUnary: async (call: grpc.ServerUnaryCall<ActionCommand, ActionResponse>, cb: grpc.sendUnaryData<ActionResponse>) => {
        record('handleUnary', [call.request]);
        cb(null, await this.actions.unary!(call.request));
      },
      handleStreamedIn: (call: grpc.ServerReadableStream<ActionCommand, ActionResponse>, cb: grpc.sendUnaryData<ActionResponse>) => {
        const commands: ActionCommand[] = [];
        call.on('data', (c: ActionCommand) => commands.push(c));
        call.on('end', () => {
          record('handleStreamedIn', commands);
          cb(null, this.actions.streamedIn!(commands));
        });
      },
      handleStreamedOut: (call: grpc.ServerWritableStream<ActionCommand, ActionResponse>) => {
        record('handleStreamedOut', [call.request]);
        for (const r of this.actions.streamedOut!(call.request)) call.write(r);
        call.end();
      },
      handleStreamed: (call: grpc.ServerDuplexStream<ActionCommand, ActionResponse>) => {
        call.on('cancelled', () => this.cancelled.push('handleStreamed'));
        const commands: ActionCommand[] = [];
        call.on('data', (c: ActionCommand) => {
          commands.push(c);
          for (const r of this.actions.streamed!(c)) call.write(r);
        });
        call.on('end', () => {
          record('handleStreamed', commands);
          call.end();
        });
      },
    });
  }

  async start(port = 0): Promise<this> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return this;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

/** A decoded protocol message as plain data: int64 as numbers, bytes as base64, unset fields left out. */
export function plain(value: unknown): Record<string, unknown> {
  const type = (value as { $type?: { toObject(m: unknown, o: object): Record<string, unknown> } }).$type;
  return type ? type.toObject(value, { longs: Number, bytes: String }) : (value as Record<string, unknown>);
}

/** Bytes as `plain` shows them. */
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

// ---- the test model: package t ----

/** A singular string field of a FileDescriptorProto (as plain JSON), with `options` if given. */
export const stringField = (name: string, number: number, options?: object) => ({ name, number, label: 1, type: 9, json_name: name, ...(options ? { options } : {}) });
/** A method of a service in package `pkg`, its types named relative to that package. */
export const methodIn =
  (pkg: string) =>
  (name: string, input: string, output: string, extra: object = {}) => ({ name, input_type: `.${pkg}.${input}`, output_type: `.${pkg}.${output}`, ...extra });
const field = stringField;
const method = methodIn('t');
const testFile = {
  name: 't/test.proto',
  package: 't',
  dependency: ['cloudstate/entity_key.proto'],
  syntax: 'proto3',
  message_type: [
    { name: 'Key', field: [field('id', 1, { '.cloudstate.entity_key': true }), field('value', 2)] },
    { name: 'Msg', field: [field('message', 1)] },
  ],
  service: [
    { name: 'Es', method: [method('Cmd', 'Key', 'Msg')] },
    { name: 'EsFast', method: [method('Cmd', 'Key', 'Msg')] },
    { name: 'Ve', method: [method('Cmd', 'Key', 'Msg')] },
    {
      name: 'Act',
      method: [
        method('Unary', 'Msg', 'Msg'),
        method('In', 'Msg', 'Msg', { client_streaming: true }),
        method('Out', 'Msg', 'Msg', { server_streaming: true }),
        method('Bidi', 'Msg', 'Msg', { client_streaming: true, server_streaming: true }),
      ],
    },
    { name: 'Two', method: [method('Call', 'Msg', 'Msg')] },
  ],
};

export const descriptorSetOf = (files: object[]): Uint8Array => protocolType('google.protobuf.FileDescriptorSet').encode({ file: files }).finish();

/** The test user function's spec: ES `t.Es` (es), ES `t.EsFast` (100 ms passivation), value entity `t.Ve`, actions `t.Act` and `t.Two`. */
export function testSpec(): EntitySpec {
  return {
    proto: descriptorSetOf([testFile]),
    entities: [
      { entity_type: EntityType.eventSourced, service_name: 't.Es', persistence_id: 'es' },
      { entity_type: EntityType.eventSourced, service_name: 't.EsFast', persistence_id: 'es-fast', passivation_strategy: { timeout: { timeout: 100 } } },
      { entity_type: EntityType.valueEntity, service_name: 't.Ve', persistence_id: 've' },
      { entity_type: EntityType.action, service_name: 't.Act' },
      { entity_type: EntityType.action, service_name: 't.Two' },
    ],
    service_info: { protocol_major_version: 0, protocol_minor_version: 2, support_library_name: 'fake' },
  };
}

export const testFiles = { testFile };

let root: protobuf.Root | undefined;
const testRoot = (): protobuf.Root => (root ??= buildProxyModel(testSpec()).root);
const keyType = () => testRoot().lookupType('t.Key');
const msgType = () => testRoot().lookupType('t.Msg');

/** Encoded `t.Key{id, value}`. */
export const key = (id: string, value = ''): Uint8Array => keyType().encode({ id, value }).finish();
/** Encoded `t.Msg{message}`. */
export const msg = (message: string): Uint8Array => msgType().encode({ message }).finish();
/** Decodes a `t.Msg`'s message. */
export const msgText = (bytes: Uint8Array): string => (msgType().decode(bytes) as unknown as { message: string }).message;
export const anyOf = (typeName: string, value: Uint8Array) => ({ type_url: `type.googleapis.com/${typeName}`, value });

/** The CallError a call rejected with (anything else is rethrown; a success fails the test). */
export async function rejection(p: Promise<unknown>): Promise<CallError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CallError) return err;
    throw err;
  }
  throw new Error('the call succeeded');
}
