/**
 * The function library's gRPC server on raw node:http2, seen from real clients: grpc-js (the
 * interoperability check) and, for frames grpc-js never sends, a raw HTTP/2 client. Messages are
 * raw bytes here (identity codecs), so only the server's own behaviour is under test.
 */
import { EventEmitter, once } from 'node:events';
import * as http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { silentLogger } from '../../../src/core/index.js';
import { DEFAULT_MAX_RECEIVE_MESSAGE_BYTES, GrpcH2Server, GrpcStatusError, type GrpcMethod, type ServerCall, type ServerUnaryCall, type ServerWritable } from '../../../src/function/h2-server.js';
import { encodeFrame } from '../../../src/protocol/index.js';

const bytes = (path: string): GrpcMethod<Buffer, Buffer> => ({ path, decode: (b) => b, encode: (b) => b });
const same = (b: Buffer) => b;

/** A call whose handler waits: it answers when released; `cancelled` resolves when its call is cancelled. */
interface Held<Call> {
  call: Call;
  cancelled: Promise<void>;
  release(): void;
}

/** What the handlers saw: the bidi `Hold` call's events in order, the `Wait` and `Flood` calls (`arrivals` emits `held` for each). */
interface Seen {
  events: string[];
  call: ServerCall<Buffer, Buffer> | undefined;
  waiting: Held<ServerUnaryCall>[];
  flooding: Held<ServerWritable<Buffer>>[];
  arrivals: EventEmitter;
}

/** Resolves once `count` calls are held in `list`. */
async function held(seen: Seen, list: readonly unknown[], count: number): Promise<void> {
  while (list.length < count) await once(seen.arrivals, 'held');
}

const cancellation = (call: ServerUnaryCall) => new Promise<void>((resolve) => call.on('cancelled', () => resolve()));

function serve(t: Test, options: { maxReceiveMessageBytes?: number } = {}) {
  const seen: Seen = { events: [], call: undefined, waiting: [], flooding: [], arrivals: new EventEmitter() };
  const server = new GrpcH2Server({ logger: silentLogger, ...options })
    .unary(bytes('/test.S/Unary'), (request) => {
      const text = request.toString();
      if (text === 'status') throw new GrpcStatusError(grpc.status.NOT_FOUND, 'no such thing: ü 100%');
      if (text === 'crash') return Promise.reject(new Error('handler crashed'));
      return Buffer.from(`length ${request.length}`);
    })
    .clientStream(bytes('/test.S/In'), (call) =>
      new Promise((resolve) => {
        const parts: string[] = [];
        call.on('data', (message: Buffer) => parts.push(message.toString()));
        call.on('end', () => resolve(Buffer.from(parts.join('+'))));
      }),
    )
    .unary(bytes('/test.S/Wait'), (request, call) =>
      new Promise<Buffer>((resolve) => {
        seen.waiting.push({ call, cancelled: cancellation(call), release: () => resolve(request) });
        seen.arrivals.emit('held');
      }),
    )
    .serverStream(bytes('/test.S/Out'), (request, call) => {
      for (let i = 1; i <= Number(request.toString()); i++) call.write(Buffer.from(String(i)));
      call.end();
    })
    .serverStream(bytes('/test.S/Flood'), (_request, call) => {
      // Writes a message every millisecond until the call is cancelled or released.
      const timer = setInterval(() => call.write(Buffer.from('more')), 1);
      const stop = () => clearInterval(timer);
      call.on('cancelled', stop);
      seen.flooding.push({ call, cancelled: cancellation(call), release: () => (stop(), call.end()) });
      seen.arrivals.emit('held');
    })
    .bidi(bytes('/test.S/Both'), (call) => {
      call.on('data', (message: Buffer) => call.write(Buffer.from(message.toString().toUpperCase())));
      call.on('end', () => call.end());
    })
    .bidi(bytes('/test.S/Hold'), (call) => {
      seen.call = call;
      call.on('data', (message: Buffer) => {
        seen.events.push(`data ${message.toString()}`);
        call.write(message);
      });
      for (const event of ['end', 'cancelled', 'close']) call.on(event, () => seen.events.push(event));
    });
  return { server, seen, listening: server.listen('127.0.0.1', 0).then((port) => (t.teardown(() => server.close(100)), port)) };
}

async function grpcClient(t: Test, port: number): Promise<grpc.Client> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  t.teardown(() => client.close());
  return client;
}

const unary = (client: grpc.Client, path: string, request: Buffer) =>
  new Promise<Buffer>((resolve, reject) => client.makeUnaryRequest(path, same, same, request, (error, response) => (error ? reject(error) : resolve(response!))));

/** Writes `messages` to a bidi call, half-closes, and collects the answers and the status. */
function bidi(client: grpc.Client, messages: string[]): Promise<{ answers: string[]; status: grpc.StatusObject }> {
  const call = client.makeBidiStreamRequest('/test.S/Both', same, same);
  const answers: string[] = [];
  call.on('data', (message: Buffer) => answers.push(message.toString()));
  call.on('error', () => undefined);
  for (const message of messages) call.write(Buffer.from(message));
  call.end();
  return new Promise((resolve) => call.on('status', (status) => resolve({ answers, status })));
}

t.test('the four call shapes; an unknown method is UNIMPLEMENTED', async (t) => {
  const { listening } = serve(t);
  const client = await grpcClient(t, await listening);
  t.equal((await unary(client, '/test.S/Unary', Buffer.from('abc'))).toString(), 'length 3');

  const summed = await new Promise<string>((resolve, reject) => {
    const call = client.makeClientStreamRequest('/test.S/In', same, same, (error, response) => (error ? reject(error) : resolve(response!.toString())));
    for (const part of ['a', 'b', 'c']) call.write(Buffer.from(part));
    call.end();
  });
  t.equal(summed, 'a+b+c', 'client stream: every message, then the half-close');

  const out: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.makeServerStreamRequest('/test.S/Out', same, same, Buffer.from('3'));
    call.on('data', (message: Buffer) => out.push(message.toString()));
    call.on('error', reject);
    call.on('end', resolve);
  });
  t.same(out, ['1', '2', '3'], 'server stream: messages in order, then OK');

  const { answers, status } = await bidi(client, ['x', 'y']);
  t.same(answers, ['X', 'Y']);
  t.equal(status.code, grpc.status.OK);

  const error = await unary(client, '/test.S/Nope', Buffer.alloc(0)).catch((e: grpc.ServiceError) => e);
  t.match(error, { code: grpc.status.UNIMPLEMENTED, details: /does not implement the method \/test\.S\/Nope/ });
});

t.test('a handler error ends the call with its status and message (percent-encoded on the wire)', async (t) => {
  const { listening } = serve(t);
  const client = await grpcClient(t, await listening);
  const status = await unary(client, '/test.S/Unary', Buffer.from('status')).catch((e: grpc.ServiceError) => e);
  t.match(status, { code: grpc.status.NOT_FOUND, details: 'no such thing: ü 100%' });
  const crash = await unary(client, '/test.S/Unary', Buffer.from('crash')).catch((e: grpc.ServiceError) => e);
  t.match(crash, { code: grpc.status.UNKNOWN, details: 'handler crashed' }, 'any other error: UNKNOWN');
});

t.test('a client cancellation reaches the handler as cancelled, then close; later writes are dropped', async (t) => {
  const { listening, seen } = serve(t);
  const client = await grpcClient(t, await listening);
  const call = client.makeBidiStreamRequest('/test.S/Hold', same, same);
  call.on('error', () => undefined);
  call.write(Buffer.from('one'));
  await new Promise((resolve) => call.once('data', resolve));
  const closed = new Promise<void>((resolve) => seen.call!.on('close', resolve));
  call.cancel();
  await closed;
  // grpc-js (as any Node client) sends END_STREAM before the RST_STREAM of a cancel.
  t.match(seen.events.join(), /^data one,(end,)?cancelled,close$/);
  t.equal(seen.call!.cancelled, true);
  t.doesNotThrow(() => {
    seen.call!.write(Buffer.from('late'));
    seen.call!.end();
  });
});

t.test('the receive limit: 4 MiB by default (as grpc-js); a larger message is RESOURCE_EXHAUSTED', async (t) => {
  const { listening } = serve(t);
  const client = await grpcClient(t, await listening);
  t.equal(DEFAULT_MAX_RECEIVE_MESSAGE_BYTES, 4 * 1024 * 1024);
  t.equal((await unary(client, '/test.S/Unary', Buffer.alloc(DEFAULT_MAX_RECEIVE_MESSAGE_BYTES))).toString(), `length ${DEFAULT_MAX_RECEIVE_MESSAGE_BYTES}`);
  const over = await unary(client, '/test.S/Unary', Buffer.alloc(DEFAULT_MAX_RECEIVE_MESSAGE_BYTES + 1)).catch((e: grpc.ServiceError) => e);
  t.match(over, { code: grpc.status.RESOURCE_EXHAUSTED, details: /exceeds the limit/ });

  const small = serve(t, { maxReceiveMessageBytes: 10 });
  const limited = await grpcClient(t, await small.listening);
  const { answers, status } = await bidi(limited, ['short', 'this one is too long']);
  t.same(answers, ['SHORT'], 'the stream ends at the oversized message');
  t.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
});

/** A raw HTTP/2 request: its response headers, DATA and trailers. */
function rawRequest(port: number, headers: http2.OutgoingHttpHeaders, body: Buffer) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; data: Buffer; trailers: http2.IncomingHttpHeaders | undefined }>((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', te: 'trailers', ...headers });
    let response: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (response = h));
    stream.on('trailers', (h) => (trailers = h));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ headers: response, data: Buffer.concat(chunks), trailers });
    });
    stream.end(body);
  });
}

/** The status a raw request ended with: from its trailers, or its headers (trailers-only). */
const statusOf = (response: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders | undefined }) => ({
  status: response.trailers?.['grpc-status'] ?? response.headers['grpc-status'],
  message: response.trailers?.['grpc-message'] ?? response.headers['grpc-message'],
});

// A raw client: it sends grpc-timeout but, unlike grpc-js, never cancels on its side, as a
// client that stops waiting without a RST_STREAM (or whose RST_STREAM is lost).
const grpcHeaders = (path: string, timeout?: string): http2.OutgoingHttpHeaders => ({
  ':path': path,
  'content-type': 'application/grpc',
  ...(timeout === undefined ? {} : { 'grpc-timeout': timeout }),
});

t.test('deadline: a unary handler that never answers; the call ends DEADLINE_EXCEEDED and the handler is cancelled', async (t) => {
  const { listening, seen } = serve(t);
  const port = await listening;
  const response = await rawRequest(port, grpcHeaders('/test.S/Wait', '50m'), encodeFrame(Buffer.from('x')));
  t.match(statusOf(response), { status: '4', message: /deadline exceeded/i });
  t.equal(response.data.length, 0, 'no message');
  const [held] = seen.waiting;
  await held!.cancelled;
  t.equal(held!.call.cancelled, true, 'the handler saw its call cancelled');
  t.doesNotThrow(() => held!.release(), 'a late answer is dropped');
});

t.test('deadline: a server stream that keeps writing ends DEADLINE_EXCEEDED (after its messages) and its handler is cancelled', async (t) => {
  const { listening, seen } = serve(t);
  const port = await listening;
  const response = await rawRequest(port, grpcHeaders('/test.S/Flood', '50m'), encodeFrame(Buffer.from('x')));
  t.match(statusOf(response), { status: '4', message: /deadline exceeded/i });
  t.ok(response.data.length > 0, 'the messages written before the deadline arrived');
  t.equal(response.trailers?.['grpc-status'], '4', 'the status is in the trailers');
  const [held] = seen.flooding;
  await held!.cancelled;
  t.equal(held!.call.cancelled, true);
  t.doesNotThrow(() => {
    held!.call.write(Buffer.from('late'));
    held!.call.end();
  }, 'writes after the deadline are dropped');
});

t.test('deadline: a call that ends in time is unaffected, and its timer is cleared', async (t) => {
  const { listening, seen } = serve(t);
  const port = await listening;
  // Which timers the server starts with the call's deadline (10 s: no other timer here has it), and which it clears.
  const started: unknown[] = [];
  const cleared = new Set<unknown>();
  const { setTimeout: set, clearTimeout: clear } = globalThis;
  globalThis.setTimeout = ((callback: () => void, ms?: number, ...rest: unknown[]) => {
    const timer = (set as (...args: unknown[]) => NodeJS.Timeout)(callback, ms, ...rest);
    if (ms === 10_000) started.push(timer);
    return timer;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((timer: Parameters<typeof clearTimeout>[0]) => (cleared.add(timer), clear(timer))) as typeof clearTimeout;
  t.teardown(() => {
    globalThis.setTimeout = set;
    globalThis.clearTimeout = clear;
  });

  const unaryCall = rawRequest(port, grpcHeaders('/test.S/Unary', '10S'), encodeFrame(Buffer.from('abc')));
  const stream = rawRequest(port, grpcHeaders('/test.S/Flood', '10000m'), encodeFrame(Buffer.from('x')));
  await held(seen, seen.flooding, 1);
  seen.flooding[0]!.release();
  const [unaryDone, streamDone] = await Promise.all([unaryCall, stream]);
  t.same(unaryDone.data, encodeFrame(Buffer.from('length 3')));
  t.equal(statusOf(unaryDone).status, '0', 'the unary call: its answer, OK');
  t.equal(statusOf(streamDone).status, '0', 'the server stream: OK');
  t.equal(seen.flooding[0]!.call.cancelled, false, 'its handler was not cancelled');
  t.equal(started.length, 2, 'a deadline timer for each call');
  t.ok(
    started.every((timer) => cleared.has(timer)),
    'both cleared when their call ended',
  );
});

t.test('deadline: a malformed grpc-timeout is ignored', async (t) => {
  const { listening, seen } = serve(t);
  const port = await listening;
  // Each would be a deadline of about a millisecond to a lax parser: no unit, a space, a bad unit, 9 digits.
  const malformed = ['1', '1 m', '1x', '1mm', '000000001m'];
  const calls = malformed.map((timeout) => rawRequest(port, grpcHeaders('/test.S/Wait', timeout), encodeFrame(Buffer.from(timeout))));
  await held(seen, seen.waiting, malformed.length);
  // A well-formed, later deadline: once it has passed, any of the ones above would have too.
  const reference = await rawRequest(port, grpcHeaders('/test.S/Wait', '20m'), encodeFrame(Buffer.from('reference')));
  t.equal(statusOf(reference).status, '4', 'the well-formed deadline passed');
  t.same(
    seen.waiting.slice(0, malformed.length).map((held) => held.call.cancelled),
    malformed.map(() => false),
    'no call with a malformed grpc-timeout was cancelled',
  );
  for (const held of seen.waiting) held.release();
  const responses = await Promise.all(calls);
  t.same(
    responses.map((response) => statusOf(response).status),
    malformed.map(() => '0'),
    'each answered OK',
  );
  t.same(
    responses.map((response) => response.data.toString('latin1', 5)),
    malformed,
    'with its own answer',
  );
});

t.test('compressed requests: a client that gzips or deflates its messages is served', async (t) => {
  const port = await serve(t).listening;
  for (const [algorithm, name] of [[2, 'gzip'], [1, 'deflate']] as const) {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm });
    t.teardown(() => client.close());
    const message = Buffer.from('z'.repeat(1000));
    t.equal((await unary(client, '/test.S/Unary', message)).toString(), 'length 1000', `grpc-js with ${name}: the handler got the inflated message`);
  }
  const bomb = await rawRequest(port, { ':path': '/test.S/Unary', 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, encodeFrame(gzipSync(Buffer.alloc(DEFAULT_MAX_RECEIVE_MESSAGE_BYTES + 1)), 1));
  t.match(bomb.headers, { 'grpc-status': '8', 'grpc-message': /inflates to more than the limit/ }, 'a message that inflates past the limit is RESOURCE_EXHAUSTED');
});

t.test('malformed requests: a compressed frame and a cut frame are INTERNAL (trailers-only); not gRPC is HTTP 415', async (t) => {
  const { listening } = serve(t);
  const port = await listening;
  const grpcHeaders = { ':path': '/test.S/Unary', 'content-type': 'application/grpc' };
  const compressed = await rawRequest(port, grpcHeaders, encodeFrame(Buffer.from('x'), 1));
  t.match(compressed.headers, { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13', 'grpc-message': /compressed message/ });
  t.equal(compressed.data.length, 0, 'no message');
  t.equal(compressed.trailers, undefined, 'the status is in the headers: a trailers-only response');

  const cut = await rawRequest(port, grpcHeaders, encodeFrame(Buffer.from('abcdef')).subarray(0, 8));
  t.match(cut.headers, { 'grpc-status': '13', 'grpc-message': /middle of a message/ });

  const snappy = await rawRequest(port, { ...grpcHeaders, 'grpc-encoding': 'snappy' }, encodeFrame(Buffer.from('x'), 1));
  t.match(snappy.headers, { 'grpc-status': '12', 'grpc-accept-encoding': 'identity,deflate,gzip' }, 'an unsupported encoding is UNIMPLEMENTED, with the ones it takes');
  const notGzip = await rawRequest(port, { ...grpcHeaders, 'grpc-encoding': 'gzip' }, encodeFrame(Buffer.from('x'), 1));
  t.match(notGzip.headers, { 'grpc-status': '13', 'grpc-message': /could not inflate a gzip-compressed message/ }, 'gzip that does not inflate is INTERNAL');

  const json = await rawRequest(port, { ':path': '/test.S/Unary', 'content-type': 'application/json' }, Buffer.from('{}'));
  t.equal(json.headers[':status'], 415);

  const ok = await rawRequest(port, grpcHeaders, encodeFrame(Buffer.from('abc')));
  t.match(ok.headers, { ':status': 200, 'content-type': 'application/grpc' });
  t.notOk('grpc-status' in ok.headers);
  t.same(ok.data, encodeFrame(Buffer.from('length 3')));
  t.equal(ok.trailers?.['grpc-status'], '0', 'OK in the trailers');
  t.notOk(ok.trailers && 'grpc-message' in ok.trailers, 'no grpc-message');
});

t.test('1,000 concurrent bidi streams on one connection all complete', async (t) => {
  const { listening } = serve(t);
  const client = await grpcClient(t, await listening);
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => bidi(client, [`a${i}`, `b${i}`, `c${i}`])));
  const wrong = results.filter(({ answers, status }, i) => status.code !== grpc.status.OK || answers.join() !== `A${i},B${i},C${i}`);
  t.equal(wrong.length, 0, 'every stream got its three answers, in order, and OK');
});

t.test('close: calls in flight may finish within the grace; then open calls are cancelled and no new call is served', async (t) => {
  const { server, listening, seen } = serve(t);
  const port = await listening;
  const client = await grpcClient(t, port);
  const call = client.makeBidiStreamRequest('/test.S/Hold', same, same);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => undefined);
  call.write(Buffer.from('open'));
  await new Promise((resolve) => call.once('data', resolve));
  const started = Date.now();
  await server.close(300);
  t.ok(Date.now() - started >= 250, 'the open call was given the grace period');
  t.same(seen.events, ['data open', 'cancelled', 'close'], 'then cancelled');
  t.not((await status).code, grpc.status.OK);
  const after = await unary(client, '/test.S/Unary', Buffer.from('x')).catch((e: grpc.ServiceError) => e);
  t.equal((after as grpc.ServiceError).code, grpc.status.UNAVAILABLE, 'nothing listens any more');
});
