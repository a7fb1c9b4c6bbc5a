/**
 * gRPC calls made by the TCK — to a user function (the TCK playing the proxy) or to the proxy
 * (the TCK playing a client) — with protobufjs messages as plain objects and the replies
 * recorded for expectations:
 *
 *   await bidi(client, path, inType, outType).send(msg).expect(reply).complete().expectClosed();
 *
 * Each call is a `RecordedCall` whose `out` side records what the server sent back and how the
 * call ended (normal completion or an error status), in order. Comparison is that of
 * ./codec.ts. Owns the call mechanics only.
 */
import * as grpc from '@grpc/grpc-js';
import { Chain, DEFAULT_TIMEOUT_MS } from './async-queue.js';
import { assertSameMessage, canonicalMessage, encode, messageType } from './codec.js';
import { InterceptedConnection } from './intercepted-connection.js';

const identity = (b: Buffer) => b;

/** One call: what it sends and, recorded, what it receives. */
export class RecordedCall {
  readonly recording: InterceptedConnection;
  #call?: grpc.ClientWritableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>;
  #cancel?: () => void;

  constructor(label: string, inType: string, outType: string) {
    this.recording = new InterceptedConnection(label, inType, outType);
  }

  /** Sends `message` (a plain object of the request type). */
  send(message: object): void {
    if (!this.#call) throw new Error(`${this.recording.describe()}: this call takes no messages after it started`);
    this.#call.write(Buffer.from(encode(this.recording.in.typeName, message)));
  }

  /** Half-closes the sending side. */
  complete(): void {
    this.#call?.end();
  }

  /** Cancels the call. */
  cancel(): void {
    this.#cancel?.();
  }

  /** The next message received, decoded (int64 as numbers); fails on an end or error. */
  nextMessage(ms = DEFAULT_TIMEOUT_MS): Promise<Record<string, any>> {
    return this.recording.nextOutgoing(ms);
  }

  /** A chain of further steps on this call. */
  chain(): CallChain {
    return new CallChain(this);
  }

  /** The call's error status (fails if a message or a normal end comes first). */
  expectError(ms = DEFAULT_TIMEOUT_MS): Promise<{ code: number; details: string }> {
    return this.recording.expectError(this.recording.out, ms);
  }

  /** @internal */
  attach(call: grpc.ClientWritableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer> | undefined, cancel: () => void): void {
    this.#call = call;
    this.#cancel = cancel;
  }

  /** @internal records the single answer of a unary or client-streaming call. */
  answer(err: grpc.ServiceError | null, bytes: Buffer | undefined): void {
    const out = this.recording.out;
    if (err || !bytes) out.error({ code: err?.code ?? grpc.status.UNKNOWN, details: err?.details ?? 'no response' });
    else {
      out.message(bytes);
      out.complete();
    }
  }

  /** @internal records what a server-streaming or bidi call sends back. */
  record(call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>): void {
    const out = this.recording.out;
    call.on('data', (bytes: Buffer) => out.message(bytes));
    onceFinished(call, (status) => (status.code === grpc.status.OK ? out.complete() : out.error({ code: status.code, details: status.details })));
  }
}

/**
 * Calls `listener` once a client's readable call is over, with its status. grpc-js emits
 * 'status' as soon as the status arrives, possibly before the last messages were read: the call
 * is over when both the status and the end of the messages were seen (after an error status no
 * end may follow: buffered messages get 20 ms).
 */
export function onceFinished(call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>, listener: (status: grpc.StatusObject) => void): void {
  let ended = false;
  let status: grpc.StatusObject | undefined;
  let finished = false;
  const finish = () => {
    if (!status || !ended || finished) return;
    finished = true;
    listener(status);
  };
  call.on('end', () => {
    ended = true;
    finish();
  });
  call.on('status', (s: grpc.StatusObject) => {
    status = s;
    if (s.code !== grpc.status.OK) setTimeout(() => ((ended = true), finish()), 20);
    finish();
  });
  call.on('error', () => undefined); // the status carries it
}

/** Steps on a call, run in order when awaited; awaiting gives the call back. */
export class CallChain extends Chain<RecordedCall> {
  send(message: object): this {
    return this.step((c) => c.send(message));
  }
  /** The next message received is `message` (a plain object of the response type). */
  expect(message: object, ms?: number): this {
    return this.step((c) => c.recording.expectMessage(c.recording.out, message, ms));
  }
  /**
   * The next message received is `message` once `normalize` ran on both (e.g. sorting the
   * elements of a CRDT delta, whose order is the user function's, as the reference's `Delta.sorted`).
   */
  expectNormalized(message: object, normalize: (message: any) => void, ms?: number): this {
    return this.step(async (c) => {
      const side = c.recording.out;
      const event = await side.events.next(`${side.name} ${side.typeName} on ${c.recording.describe()}`, ms);
      if (event.kind !== 'message') throw new Error(`${c.recording.describe()}: expected ${side.typeName}, found ${side.describe(event)}`);
      const type = messageType(side.typeName);
      const actual = type.decode(event.bytes);
      normalize(actual);
      const expected = type.fromObject(message);
      normalize(expected);
      assertSameMessage(c.recording.describe(), side.typeName, type.toObject(expected), canonicalMessage(type, actual));
    });
  }
  /** Half-closes the sending side. */
  complete(): this {
    return this.step((c) => c.complete());
  }
  cancel(): this {
    return this.step((c) => c.cancel());
  }
  /** The server ended the call normally (after the messages expected so far). */
  expectClosed(ms?: number): this {
    return this.step((c) => c.recording.expectComplete(c.recording.out, ms));
  }
  /** The server ended the call with an error status; `check` may look at it. */
  expectError(check?: (status: { code: number; details: string }) => void, ms?: number): this {
    return this.step(async (c) => check?.(await c.expectError(ms)));
  }
  /** What the proxy does to passivate an entity: half-close; the user function must end too. */
  passivate(ms?: number): this {
    return this.complete().expectClosed(ms);
  }
}

/** A set of calls to one server, all cancelled by `close()`. */
export class GrpcCalls {
  readonly client: grpc.Client;
  readonly #calls = new Set<grpc.Call>();

  constructor(readonly address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  unary(path: string, inType: string, outType: string, request: object, metadata = new grpc.Metadata()): CallChain {
    const c = new RecordedCall(path, inType, outType);
    const call = this.#track(this.client.makeUnaryRequest(path, identity, identity, Buffer.from(encode(inType, request)), metadata, (err, bytes) => c.answer(err, bytes)));
    c.attach(undefined, () => call.cancel());
    return new CallChain(c);
  }

  clientStream(path: string, inType: string, outType: string, metadata = new grpc.Metadata()): CallChain {
    const c = new RecordedCall(path, inType, outType);
    const call = this.#track(this.client.makeClientStreamRequest(path, identity, identity, metadata, (err, bytes) => c.answer(err, bytes)));
    c.attach(call, () => call.cancel());
    return new CallChain(c);
  }

  serverStream(path: string, inType: string, outType: string, request: object, metadata = new grpc.Metadata()): CallChain {
    const c = new RecordedCall(path, inType, outType);
    const call = this.#track(this.client.makeServerStreamRequest(path, identity, identity, Buffer.from(encode(inType, request)), metadata));
    c.attach(undefined, () => call.cancel());
    c.record(call);
    return new CallChain(c);
  }

  bidi(path: string, inType: string, outType: string, metadata = new grpc.Metadata()): CallChain {
    const c = new RecordedCall(path, inType, outType);
    const call = this.#track(this.client.makeBidiStreamRequest(path, identity, identity, metadata));
    c.attach(call, () => call.cancel());
    c.record(call);
    return new CallChain(c);
  }

  /** Cancels every call still open and closes the channel. */
  close(): void {
    for (const call of this.#calls) call.cancel();
    this.client.close();
  }

  #track<C extends grpc.Call>(call: C): C {
    this.#calls.add(call);
    call.on('status', () => this.#calls.delete(call));
    return call;
  }
}
