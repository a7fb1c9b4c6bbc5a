// Closing the ingress: calls that answer once and are in flight get the grace period and
// complete; calls that answer with a stream (gRPC, gRPC-Web, SSE) end at once with UNAVAILABLE
// and their handlers are aborted, so a stop does not wait the grace for an idle stream.
import { once } from 'node:events';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { silentLogger } from '../../../../src/core/index.js';
import type { MetadataEntry } from '../../../../src/protocol/index.js';
import { Status, type Cancellable, type Response } from '../../../../src/proxy/dispatch.js';
import { SHUTTING_DOWN, startIngress, type Ingress } from '../../../../src/proxy/ingress/index.js';
import type { MethodModel } from '../../../../src/proxy/model.js';
import { FakeDispatcher, fixtureModel, method } from './fixtures/harness.js';

type Obj = Record<string, unknown>;
const serialize = (m: MethodModel) => (value: Obj) => Buffer.from(m.inputType.encode(m.inputType.fromObject(value)).finish());
const deserialize = (m: MethodModel) => (bytes: Buffer) => m.outputType.toObject(m.outputType.decode(bytes), { longs: String }) as Obj;

/** The fixture's dispatcher, but an `Echo` of name `gate` waits until the test opens the gate. */
class GatedDispatcher extends FakeDispatcher {
  private open!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open();
  }
  override async unary(m: MethodModel, payload: Uint8Array, metadata: readonly MetadataEntry[], cancel: Cancellable): Promise<Response> {
    const answer = super.unary(m, payload, metadata, cancel);
    if (m.name === 'Echo' && m.inputType.decode(payload).toJSON().name === 'gate') await this.gate;
    return answer;
  }
}

/** An ingress whose grace is far longer than any test: a close that waited for it would time the test out. */
async function start(t: Test): Promise<{ ingress: Ingress; dispatcher: GatedDispatcher; url: string; address: string }> {
  const dispatcher = new GatedDispatcher();
  const ingress = await startIngress({ host: '127.0.0.1', port: 0, model: fixtureModel(), dispatcher, ready: () => true, metrics: new Registry(), logger: silentLogger, closeGraceMs: 10 * 60_000 });
  t.teardown(() => {
    dispatcher.release();
    return ingress.close();
  });
  return { ingress, dispatcher, url: `http://127.0.0.1:${ingress.port}`, address: `127.0.0.1:${ingress.port}` };
}

const frame = (payload: Uint8Array) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
};

/** Whether a new connection to `port` is refused (the ingress stopped accepting). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** The status a call ends with (`once` would reject on the 'error' event that comes first). */
const statusOf = (call: grpc.ClientReadableStream<unknown>): Promise<grpc.StatusObject> => new Promise((resolve) => call.on('status', resolve));

/** Reads a fetch body's chunks as text until it ends. */
async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, first: string): Promise<string> {
  let text = first;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += Buffer.from(value).toString('latin1');
  }
}

t.test('close: open streams end at once with UNAVAILABLE while a unary call in flight completes within the grace', async (t) => {
  t.setTimeout(60_000); // a close waiting for the (10 min) grace fails here instead
  const { ingress, dispatcher, url, address } = await start(t);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());

  // A unary call that the dispatcher holds.
  const echo = method('Echo');
  const unary = new Promise<{ error: grpc.ServiceError | null; response: Obj | undefined }>((resolve) =>
    client.makeUnaryRequest(echo.path, serialize(echo), deserialize(echo), { name: 'gate' }, (error, response) => resolve({ error, response })),
  );

  // Three idle answer-streams (`slow` yields one message, then waits for its abort): gRPC, gRPC-Web, SSE.
  const watch = method('Watch');
  const grpcStream = client.makeServerStreamRequest(watch.path, serialize(watch), deserialize(watch), { userId: 'slow' });
  grpcStream.on('error', () => undefined);
  const grpcStatus = statusOf(grpcStream);
  t.same(((await once(grpcStream, 'data')) as [Obj])[0], { total: '1' }, 'gRPC: first message');

  const web = await fetch(`${url}${watch.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto' },
    body: frame(watch.inputType.encode({ userId: 'slow' }).finish()),
  });
  const webReader = web.body!.getReader();
  const webFirst = Buffer.from((await webReader.read()).value!).toString('latin1');
  t.ok(webFirst.length > 0, 'gRPC-Web: first message');

  const sse = await fetch(`${url}/watch/slow`, { headers: { accept: 'text/event-stream' } });
  const sseReader = sse.body!.getReader();
  const sseFirst = Buffer.from((await sseReader.read()).value!).toString('utf8');
  t.match(sseFirst, /^data: \{"items":\[\],"total":"1"/, 'SSE: first event');

  // An idle HTTP/1.1 keep-alive connection (one request answered, the client keeps it).
  const idle = net.connect(ingress.port, '127.0.0.1');
  idle.write('GET /alive HTTP/1.1\r\nHost: test\r\n\r\n');
  t.match(String((await once(idle, 'data'))[0]), /^HTTP\/1\.1 200[^]*keep-alive[^]*alive$/, 'an idle keep-alive connection');
  const idleClosed = once(idle, 'close');

  await dispatcher.until(() => dispatcher.calls.filter((c) => c.method === 'Echo').length === 1);
  let closed = false;
  const closing = ingress.close().then(() => (closed = true));
  t.ok(await refused(ingress.port), 'the ingress stopped accepting connections');

  const status = await grpcStatus;
  t.equal(status.code, grpc.status.UNAVAILABLE, 'gRPC stream: UNAVAILABLE');
  t.equal(status.details, SHUTTING_DOWN);
  const webBody = await readAll(webReader, webFirst);
  t.match(webBody, `grpc-status:${Status.UNAVAILABLE}`, 'gRPC-Web stream: the trailer frame says UNAVAILABLE');
  t.match(webBody, `grpc-message:${SHUTTING_DOWN}`);
  const sseBody = await readAll(sseReader, sseFirst);
  t.match(sseBody, `event: error\ndata: {"code":${Status.UNAVAILABLE},"message":"${SHUTTING_DOWN}"}`, 'SSE: an error event, then the end');
  await dispatcher.whenAborted('Watch', 3);
  t.pass("every stream's handler saw its signal aborted");

  await idleClosed;
  t.pass('the idle keep-alive connection was closed');
  t.equal(closed, false, 'close still waits for the unary call in flight');
  dispatcher.release();
  const { error, response } = await unary;
  t.equal(error, null, 'the unary call in flight completed');
  t.same(response, { name: 'gate' });
  await closing;
  t.pass('close resolved once the unary call was done');
});

t.test('close with only an idle stream open resolves without waiting for the grace', async (t) => {
  t.setTimeout(60_000);
  const { ingress, address } = await start(t);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const chat = method('Chat'); // bidi: the client never half-closes
  const call = client.makeBidiStreamRequest(chat.path, serialize(chat), deserialize(chat));
  call.on('error', () => undefined);
  const status = statusOf(call);
  call.write({ name: 'hi' });
  t.same(((await once(call, 'data')) as [Obj])[0], { name: 'echo hi' });
  await ingress.close();
  t.equal((await status).code, grpc.status.UNAVAILABLE, 'the bidi call ended with UNAVAILABLE');
});
