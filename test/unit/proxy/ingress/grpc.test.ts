import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import type { MethodModel } from '../../../../src/proxy/model.js';
import { method, SERVICE, startFixture, type Fixture } from './fixtures/harness.js';

type Obj = Record<string, unknown>;
const serialize = (m: MethodModel) => (value: Obj) => Buffer.from(m.inputType.encode(m.inputType.fromObject(value)).finish());
const deserialize = (m: MethodModel) => (bytes: Buffer) => m.outputType.toObject(m.outputType.decode(bytes), { longs: String }) as Obj;

interface UnaryResult {
  error: grpc.ServiceError | null;
  response: Obj | undefined;
  headers: grpc.Metadata | undefined;
}

function unary(client: grpc.Client, name: string, request: Obj, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<UnaryResult> {
  const m = method(name);
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    const call = client.makeUnaryRequest(m.path, serialize(m), deserialize(m), request, metadata, options, (error, response) => resolve({ error, response, headers }));
    call.on('metadata', (md) => (headers = md));
  });
}

async function setup(t: Parameters<typeof startFixture>[0]): Promise<{ f: Fixture; client: grpc.Client }> {
  const f = await startFixture(t);
  const client = new grpc.Client(f.address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  return { f, client };
}

t.test('unary: payload both ways, request headers as metadata, reply metadata as response headers', async (t) => {
  const { f, client } = await setup(t);
  const metadata = new grpc.Metadata();
  metadata.set('x-user', 'alice');
  metadata.set('x-blob-bin', Buffer.from([9, 8]));
  const { error, response, headers } = await unary(client, 'Echo', { productId: 'p1', name: 'Apple', quantity: 3 }, metadata);
  t.equal(error, null);
  t.same(response, { productId: 'p1', name: 'Apple', quantity: 3 });
  t.same(headers?.get('x-reply'), ['yes']);
  t.same(headers?.get('x-trace-bin'), [Buffer.from([1, 2, 3])], 'binary reply metadata travels base64 in a -bin header');
  const seen = f.dispatcher.calls[0]!;
  t.equal(seen.method, 'Echo');
  t.same(
    seen.metadata.find((e) => e.key === 'x-user'),
    { key: 'x-user', string_value: 'alice' },
  );
  const blob = seen.metadata.find((e) => e.key === 'x-blob-bin');
  t.same(Buffer.from(blob?.bytes_value ?? []), Buffer.from([9, 8]), '-bin headers arrive as bytes');
  t.ok(
    seen.metadata.some((e) => e.key === 'user-agent'),
    'ordinary headers are metadata',
  );
  t.notOk(
    seen.metadata.some((e) => e.key!.startsWith(':') || e.key!.startsWith('grpc-') || e.key === 'te' || e.key === 'content-type'),
    'no pseudo, transport or grpc-* headers',
  );
});

t.test('unary failures end with the status and description', async (t) => {
  const { client } = await setup(t);
  const cases: [Obj, grpc.status, RegExp | string][] = [
    [{ userId: 'missing' }, grpc.status.NOT_FOUND, 'no such cart'],
    [{ userId: 'boom' }, grpc.status.UNKNOWN, 'boom'],
    [{ userId: 'down' }, grpc.status.UNAVAILABLE, 'user function unavailable'],
    [{ userId: 'crash' }, grpc.status.INTERNAL, /internal error: kaput/],
  ];
  for (const [request, code, details] of cases) {
    const { error } = await unary(client, 'GetCart', request);
    t.equal(error?.code, code, JSON.stringify(request));
    if (typeof details === 'string') t.equal(error?.details, details);
    else t.match(error?.details, details);
  }
  const text = 'Ünïcode 100% ✓\nsecond line';
  const { error } = await unary(client, 'Echo', { name: `fail:${text}` });
  t.equal(error?.details, text, 'grpc-message is percent-encoded and decodes to the original');
  const unknown = await new Promise<grpc.ServiceError | null>((resolve) =>
    client.makeUnaryRequest(`/${SERVICE}/Nope`, (v: Buffer) => v, (b: Buffer) => b, Buffer.alloc(0), (e) => resolve(e)),
  );
  t.equal(unknown?.code, grpc.status.UNIMPLEMENTED);
  t.match(unknown?.details, /unknown method \/ingress\.test\.ShoppingCart\/Nope/);
});

t.test('deadline and cancellation abort the call', async (t) => {
  const { f, client } = await setup(t);
  const { error } = await unary(client, 'GetCart', { userId: 'slow' }, new grpc.Metadata(), { deadline: Date.now() + 150 });
  t.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
  await f.dispatcher.whenAborted('slow');

  const cart = method('GetCart');
  const unaryCall = client.makeUnaryRequest(cart.path, serialize(cart), deserialize(cart), { userId: 'slow' }, () => {});
  const status = once(unaryCall, 'status');
  await f.dispatcher.until(() => f.dispatcher.calls.filter((c) => c.method === 'GetCart').length === 2);
  unaryCall.cancel();
  t.equal(((await status) as [grpc.StatusObject])[0].code, grpc.status.CANCELLED);
  await f.dispatcher.whenAborted('slow', 2);
  t.pass('a cancelled unary call aborts its signal');

  const m = method('Watch');
  const call = client.makeServerStreamRequest(m.path, serialize(m), deserialize(m), { userId: 'slow' });
  const [first] = (await once(call, 'data')) as [Obj];
  t.same(first, { total: '1' });
  call.on('error', () => {});
  call.cancel();
  await f.dispatcher.whenAborted('Watch');
  t.pass('the dispatcher saw the client cancel');
});

t.test('server streaming: messages in order, first reply metadata as headers, failure mid-stream', async (t) => {
  const { client } = await setup(t);
  const m = method('Watch');
  const call = client.makeServerStreamRequest(m.path, serialize(m), deserialize(m), { userId: 'u1' });
  const headers = once(call, 'metadata');
  const got: Obj[] = [];
  for await (const message of call) got.push(message as Obj);
  t.same(
    got.map((c) => c.total),
    ['1', '2', '3'],
  );
  const [md] = (await headers) as [grpc.Metadata];
  t.same(md.get('x-stream'), ['first']);

  const failing = client.makeServerStreamRequest(m.path, serialize(m), deserialize(m), { userId: 'boom' });
  const received: Obj[] = [];
  failing.on('data', (d: Obj) => received.push(d));
  const [error] = (await once(failing, 'error')) as [grpc.ServiceError];
  t.equal(error.code, grpc.status.UNKNOWN);
  t.equal(error.details, 'boom');
  t.equal(received.length, 1, 'the message before the failure arrived');
});

t.test('client and bidirectional streaming', async (t) => {
  const { client } = await setup(t);
  const collect = method('Collect');
  const sum = await new Promise<{ error: grpc.ServiceError | null; value: Obj | undefined }>((resolve) => {
    const call = client.makeClientStreamRequest(collect.path, serialize(collect), deserialize(collect), (error, value) => resolve({ error, value }));
    for (const quantity of [1, 2, 39]) call.write({ quantity });
    call.end();
  });
  t.equal(sum.error, null);
  t.same(sum.value, { total: '42' });

  const failed = await new Promise<grpc.ServiceError | null>((resolve) => {
    const call = client.makeClientStreamRequest(collect.path, serialize(collect), deserialize(collect), (error) => resolve(error));
    call.write({ name: 'boom' });
    call.end();
  });
  t.equal(failed?.code, grpc.status.UNKNOWN);

  const chat = method('Chat');
  const call = client.makeBidiStreamRequest(chat.path, serialize(chat), deserialize(chat));
  const headers = once(call, 'metadata');
  call.write({ name: 'a' });
  const [first] = (await once(call, 'data')) as [Obj];
  t.same(first, { name: 'echo a' }, 'an answer before the client half-closes');
  call.write({ name: 'b' });
  const [second] = (await once(call, 'data')) as [Obj];
  t.same(second, { name: 'echo b' });
  const ended = once(call, 'end');
  call.end();
  await ended;
  t.same(((await headers) as [grpc.Metadata])[0].get('x-chat'), ['hello']);

  // Many messages each way, more than the request queue's high-water mark.
  const many = client.makeBidiStreamRequest(chat.path, serialize(chat), deserialize(chat));
  const answers: Obj[] = [];
  many.on('data', (d: Obj) => answers.push(d));
  for (let i = 0; i < 200; i++) many.write({ name: `m${i}`, quantity: i });
  many.end();
  await once(many, 'end');
  t.equal(answers.length, 200);
  t.same(answers[199], { name: 'echo m199', quantity: 199 });
});

/** A raw HTTP/2 gRPC request: headers and body bytes in, status and messages out. */
async function rawCall(f: Fixture, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}) {
  const session = http2.connect(f.url);
  try {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    stream.end(body);
    const [responseHeaders] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve));
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await once(stream, 'close');
    const final = responseHeaders['grpc-status'] !== undefined ? responseHeaders : await trailers;
    return { headers: responseHeaders, status: Number(final['grpc-status']), message: decodeURIComponent(String(final['grpc-message'] ?? '')), body: Buffer.concat(chunks) };
  } finally {
    session.close();
  }
}

const frame = (payload: Buffer, flags = 0) => {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
};

/** The ingress's default limit on a message (`maxMessageBytes`). */
const LIMIT = 12 * 1024 * 1024;

t.test('compressed requests: gzip and deflate messages are inflated, answers go uncompressed', async (t) => {
  const { f } = await setup(t);
  const echo = method('Echo');
  const payload = Buffer.from(echo.inputType.encode({ name: 'squeezed '.repeat(50) }).finish());
  for (const [encoding, compress] of [['gzip', zlib.gzipSync], ['deflate', zlib.deflateSync]] as const) {
    const result = await rawCall(f, echo.path, frame(compress(payload), 1), { 'grpc-encoding': encoding });
    t.equal(result.status, 0, `${encoding}: OK`);
    t.same(result.body, frame(payload), `${encoding}: the echo of the inflated message, uncompressed`);
    t.equal(result.headers['grpc-accept-encoding'], 'identity,deflate,gzip', `${encoding}: the encodings the proxy takes, announced`);
  }
  const mixed = await rawCall(f, method('Collect').path, Buffer.concat([frame(zlib.gzipSync(payload), 1), frame(payload)]), { 'grpc-encoding': 'gzip' });
  t.equal(mixed.status, 0, 'a stream may mix compressed and uncompressed messages (the flag is per message)');

  // A stock gRPC client that compresses every message.
  const client = new grpc.Client(f.address, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
  t.teardown(() => client.close());
  const { error, response } = await unary(client, 'Echo', { name: 'gzip from grpc-js' });
  t.equal(error, null, 'grpc-js with gzip compression: no error');
  t.same(response, { name: 'gzip from grpc-js' }, 'grpc-js with gzip compression: the echo');
});

t.test('malformed frames end the call with a status, never a crash', async (t) => {
  const { f, client } = await setup(t);
  const echo = method('Echo');
  const payload = Buffer.from(echo.inputType.encode({ name: 'x' }).finish());
  const ok = await rawCall(f, echo.path, frame(payload));
  t.equal(ok.status, 0);
  t.equal(ok.headers['content-type'], 'application/grpc');
  t.same(ok.body, frame(payload), 'the echo, framed');

  const cases: [string, Buffer, http2.OutgoingHttpHeaders, number, RegExp][] = [
    ['compressed flag without grpc-encoding', frame(payload, 1), {}, 13, /compressed message received, but the call declared no grpc-encoding/],
    ['truncated frame', frame(payload).subarray(0, 4), {}, 13, /middle of a message/],
    ['length beyond the data', Buffer.concat([Buffer.from([0, 0, 0, 0, 10]), Buffer.from('abc')]), {}, 13, /middle of a message/],
    ['two messages to a unary method', Buffer.concat([frame(payload), frame(payload)]), {}, 13, /more than one message/],
    ['no message', Buffer.alloc(0), {}, 13, /no message/],
    ['an encoding the proxy lacks', frame(payload, 1), { 'grpc-encoding': 'snappy' }, 12, /encoding 'snappy' is not supported; the proxy accepts identity,deflate,gzip/],
    ['gzip flag on bytes that are not gzip', frame(payload, 1), { 'grpc-encoding': 'gzip' }, 13, /could not inflate a gzip-compressed message/],
    ['deflate flag on bytes that are not deflate', frame(payload, 1), { 'grpc-encoding': 'deflate' }, 13, /could not inflate a deflate-compressed message/],
    ['gzip that inflates past the limit', frame(zlib.gzipSync(Buffer.alloc(LIMIT + 1)), 1), { 'grpc-encoding': 'gzip' }, 8, /inflates to more than the limit/],
    ['huge length', Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), {}, 8, /exceeds the limit/],
  ];
  for (const [what, body, headers, status, message] of cases) {
    const result = await rawCall(f, echo.path, body, headers);
    t.equal(result.status, status, what);
    t.match(result.message, message, what);
  }
  const streamed = await rawCall(f, method('Collect').path, frame(payload).subarray(0, 7));
  t.equal(streamed.status, 13, 'a truncated client stream');

  // Garbage after an HTTP/2 preface, and garbage HTTP/1: the connection dies, the server lives.
  for (const junk of ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x01\xff\x00garbage', 'NOT HTTP AT ALL\r\n\r\n']) {
    const socket = net.connect(f.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.write(Buffer.from(junk, 'latin1'));
    await once(socket, 'close');
  }
  const after = await unary(client, 'Echo', { name: 'still here' });
  t.same(after.response, { name: 'still here' });
});

t.test('metrics count calls by protocol, method and status', async (t) => {
  const { f, client } = await setup(t);
  await unary(client, 'Echo', { name: 'a' });
  await unary(client, 'GetCart', { userId: 'missing' });
  const text = await f.registry.metrics();
  t.match(text, /cloudstate_ingress_requests_total\{protocol="grpc",method="\/ingress\.test\.ShoppingCart\/Echo",status="OK"\} 1/);
  t.match(text, /cloudstate_ingress_requests_total\{protocol="grpc",method="\/ingress\.test\.ShoppingCart\/GetCart",status="NOT_FOUND"\} 1/);
  t.match(text, /cloudstate_ingress_request_duration_seconds_count\{protocol="grpc",method="\/ingress\.test\.ShoppingCart\/Echo"\} 1/);
});
