// The proxy's gRPC-over-HTTP/2 channel (src/proxy/h2-channel.ts) against a real node:http2
// server on 127.0.0.1 that each test scripts: framing across DATA chunks, the end of a call
// (trailers, trailers-only, HTTP status, resets, lost connections), the deadline, write
// back-pressure, the reconnect back-off (on an injected clock), the message size limit, and many
// concurrent streams on one session.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import t from 'tap';
import type { Clock } from '../../../src/core/index.js';
import { Status } from '../../../src/proxy/dispatch.js';
import { grpcTimeout, H2Channel } from '../../../src/proxy/h2-channel.js';
import type { CallStatus, H2CallOptions, H2ChannelOptions } from '../../../src/proxy/h2-channel.js';
import { encodeFrame, FrameDecoder } from '../../../src/proxy/ingress/grpc-wire.js';

type Teardown = { teardown(fn: () => unknown): void };
type OnStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

interface Server {
  port: number;
  sessions: Set<http2.ServerHttp2Session>;
  /** Drops every connection and stops listening. */
  stop(): Promise<void>;
}

async function startServer(t: Teardown, onStream: OnStream, port = 0): Promise<Server> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined); // a reset the test does or expects
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((resolve) => {
      for (const session of sessions) session.destroy();
      server.close(() => resolve());
    }));
  t.teardown(stop);
  return { port: (server.address() as AddressInfo).port, sessions, stop };
}

/** A port nobody listens on (a server's, closed). */
async function closedPort(): Promise<number> {
  const server = await startServer({ teardown: () => undefined }, () => undefined);
  await server.stop();
  return server.port;
}

function channelTo(t: Teardown, port: number, options: Partial<H2ChannelOptions> = {}): H2Channel {
  const channel = new H2Channel({ host: '127.0.0.1', port, maxInboundMessageBytes: 1024 * 1024, reconnectBackoff: { minMs: 1000, maxMs: 10_000 }, ...options });
  t.teardown(() => channel.close());
  return channel;
}

/** Starts a call that records what it gets. */
function call(channel: H2Channel, path = '/t.S/m', options: H2CallOptions = {}) {
  const messages: string[] = [];
  let ended!: (status: CallStatus) => void;
  let got!: () => void;
  const end = new Promise<CallStatus>((resolve) => (ended = resolve));
  const firstMessage = new Promise<void>((resolve) => (got = resolve));
  const onMessage = (m: Buffer) => {
    messages.push(m.toString());
    got();
  };
  return { call: channel.request(path, { onMessage, onEnd: ended }, options), messages, end, firstMessage };
}

/** Answers a call: 200 and gRPC headers; `finish` sends the trailers. */
function respond(stream: http2.ServerHttp2Stream, trailers: http2.OutgoingHttpHeaders = { 'grpc-status': '0' }): { finish(): void } {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  return { finish: () => stream.end() };
}

/** Messages a server stream receives, decoded. */
function received(stream: http2.ServerHttp2Stream): string[] {
  const decoder = new FrameDecoder(1024 * 1024);
  const out: string[] = [];
  stream.on('data', (chunk: Buffer) => out.push(...decoder.push(chunk).map((m) => m.toString())));
  return out;
}

const frame = (text: string) => encodeFrame(Buffer.from(text));
const written = (stream: http2.ServerHttp2Stream, bytes: Buffer) => new Promise<void>((resolve) => stream.write(bytes, () => setImmediate(resolve)));

t.test('messages split across DATA chunks and packed within one; the request headers and framing', async (t) => {
  let requestHeaders: http2.IncomingHttpHeaders | undefined;
  let fromClient: string[] = [];
  const big = 'x'.repeat(100_000); // several DATA frames
  const server = await startServer(t, (stream, headers) => {
    requestHeaders = headers;
    fromClient = received(stream);
    const { finish } = respond(stream);
    const halfClosed = new Promise((resolve) => stream.once('end', resolve));
    void (async () => {
      const packed = Buffer.concat([frame('one'), frame('two'), frame('three')]);
      await written(stream, packed.subarray(0, 12)); // 'one', and 'two' cut inside its header
      await written(stream, packed.subarray(12, 19)); // the rest of 'two', 'three' cut inside its body
      await written(stream, Buffer.concat([packed.subarray(19), frame(''), frame(big)]));
      await halfClosed;
      finish();
    })();
  });
  const c = call(channelTo(t, server.port));
  c.call.write(Buffer.from('hello'));
  c.call.write(Buffer.from('world'));
  c.call.end();
  c.call.write(Buffer.from('dropped after end'));
  t.same(await c.end, { code: Status.OK, details: '' });
  t.same(c.messages, ['one', 'two', 'three', '', big], 'every message, whole and in order');
  t.same(fromClient, ['hello', 'world'], 'the server got the framed messages, nothing after the half-close');
  t.match(requestHeaders, { ':method': 'POST', ':path': '/t.S/m', ':scheme': 'http', 'content-type': 'application/grpc', te: 'trailers', 'user-agent': /cloudstate-proxy/ });
});

t.test('compressed answers: the channel offers gzip and deflate and inflates what a server compressed', async (t) => {
  let offered: unknown;
  const server = await startServer(t, (stream, headers) => {
    offered = headers['grpc-accept-encoding'];
    const encoding = headers[':path'] === '/t.S/gzip' ? 'gzip' : headers[':path'] === '/t.S/deflate' ? 'deflate' : 'br';
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': encoding }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    const compress = encoding === 'gzip' ? gzipSync : deflateSync;
    stream.write(encodeFrame(compress(Buffer.from(`squeezed with ${encoding}`)), 1));
    stream.end(frame('and one plain'));
  });
  const channel = channelTo(t, server.port);
  for (const encoding of ['gzip', 'deflate']) {
    const c = call(channel, `/t.S/${encoding}`);
    c.call.end();
    t.same(await c.end, { code: Status.OK, details: '' }, `${encoding}: OK`);
    t.same(c.messages, [`squeezed with ${encoding}`, 'and one plain'], `${encoding}: the compressed message inflated, the plain one as it came`);
  }
  t.equal(offered, 'identity,deflate,gzip', 'the request offers the encodings the channel inflates');
  const other = call(channel, '/t.S/br');
  other.call.end();
  t.match(await other.end, { code: Status.INTERNAL, details: /message encoding 'br', which the proxy did not offer/ }, 'an encoding it did not offer ends the call INTERNAL');
  t.same(other.messages, [], 'and nothing of it is delivered');
});

t.test('the status comes from the trailers: OK, and an error with its percent-decoded message', async (t) => {
  const server = await startServer(t, (stream, headers) => {
    const status = headers[':path'] === '/t.S/ok' ? { 'grpc-status': '0' } : { 'grpc-status': '5', 'grpc-message': 'no such cart: caf%C3%A9' };
    const { finish } = respond(stream, status);
    stream.write(frame('reply'));
    finish(); // before the client's half-close: the server ends first
  });
  const channel = channelTo(t, server.port);
  const ok = call(channel, '/t.S/ok');
  t.same(await ok.end, { code: Status.OK, details: '' });
  t.same(ok.messages, ['reply']);
  const failed = call(channel, '/t.S/fail');
  t.same(await failed.end, { code: Status.NOT_FOUND, details: 'no such cart: café' });
  t.same(failed.messages, ['reply'], 'messages before a failure are delivered');
});

t.test('a trailers-only response, an HTTP error, and a stream that ends without a grpc-status', async (t) => {
  const server = await startServer(t, (stream, headers) => {
    if (headers[':path'] === '/t.S/trailers-only') stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown method' }, { endStream: true });
    else if (headers[':path'] === '/t.S/http') stream.respond({ ':status': 503 }, { endStream: true });
    else {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.end(frame('last'));
    }
  });
  const channel = channelTo(t, server.port);
  t.same(await call(channel, '/t.S/trailers-only').end, { code: Status.UNIMPLEMENTED, details: 'unknown method' });
  t.same(await call(channel, '/t.S/http').end, { code: Status.UNAVAILABLE, details: 'HTTP status 503' });
  const bare = call(channel, '/t.S/bare');
  const status = await bare.end;
  t.equal(status.code, Status.UNKNOWN);
  t.match(status.details, /stream closed without a grpc-status/);
  t.same(bare.messages, ['last']);
});

t.test('cancel resets the stream (CANCEL) and ends the call CANCELLED; a server reset ends it too', async (t) => {
  let resolveReset!: (code: number) => void;
  const reset = new Promise<number>((resolve) => (resolveReset = resolve));
  const server = await startServer(t, (stream, headers) => {
    respond(stream);
    stream.write(frame('started'));
    if (headers[':path'] === '/t.S/reset') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else stream.on('close', () => resolveReset(stream.rstCode));
  });
  const channel = channelTo(t, server.port);
  const c = call(channel);
  await c.firstMessage;
  c.call.cancel();
  t.same(await c.end, { code: Status.CANCELLED, details: 'cancelled by the proxy' });
  t.equal(await reset, http2.constants.NGHTTP2_CANCEL, 'the server sees RST_STREAM CANCEL');
  t.same(await call(channel, '/t.S/reset').end, { code: Status.UNAVAILABLE, details: 'stream refused by the server' });
});

t.test('a deadline: sent as grpc-timeout, and the call ends DEADLINE_EXCEEDED (reset, CANCEL) if the server is still silent', async (t) => {
  const timeouts: (string | string[] | undefined)[] = [];
  const resets: Promise<number>[] = [];
  const server = await startServer(t, (stream, headers) => {
    timeouts.push(headers['grpc-timeout']);
    resets.push(new Promise((resolve) => stream.on('close', () => resolve(stream.rstCode))));
    if (headers[':path'] === '/t.S/quick') respond(stream).finish(); // in time: no reset, the timer is cleared
  });
  const channel = channelTo(t, server.port);
  const started = Date.now();
  const late = await call(channel, '/t.S/slow', { deadlineMs: 100 }).end;
  t.same(late, { code: Status.DEADLINE_EXCEEDED, details: 'Deadline exceeded (100 ms)' });
  t.ok(Date.now() - started >= 95, 'not before the deadline');
  t.equal(await resets[0], http2.constants.NGHTTP2_CANCEL, 'the server sees RST_STREAM CANCEL');
  t.same(await call(channel, '/t.S/quick', { deadlineMs: 100 }).end, { code: Status.OK, details: '' });
  t.same(await call(channel, '/t.S/quick').end, { code: Status.OK, details: '' });
  t.same(timeouts, ['100m', '100m', undefined], 'grpc-timeout only with a deadline');
});

t.test('grpc-timeout: at most 8 digits, in the finest unit that fits, rounded up', async (t) => {
  const cases: [number, string][] = [
    [0, '0m'],
    [-5, '0m'],
    [10_000, '10000m'],
    [0.2, '1m'],
    [99_999_999, '99999999m'],
    [100_000_000, '100000S'],
    [100_000_001, '100001S'],
    [1e11 * 1000, '27777778H'],
  ];
  for (const [ms, header] of cases) t.equal(grpcTimeout(ms), header, `${ms} ms`);
});

t.test('back-pressure: write is false while the server does not read; writable() waits for the drain, or the end', async (t) => {
  let serverStream: http2.ServerHttp2Stream | undefined;
  let bytes = 0;
  const server = await startServer(t, (stream) => {
    serverStream = stream;
    stream.pause(); // reads nothing: flow control stops the client
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => respond(stream).finish());
  });
  const channel = channelTo(t, server.port);
  const c = call(channel);
  const big = Buffer.alloc(1024 * 1024);
  t.equal(c.call.write(big), false, 'a full write buffer');
  let drained = false;
  const writable = c.call.writable().then(() => (drained = true));
  while (!serverStream) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(drained, 'still waiting while the server reads nothing');
  serverStream.resume();
  await writable;
  t.ok(bytes > 0, 'the server read');
  c.call.end();
  t.same(await c.end, { code: Status.OK, details: '' });
  t.equal(bytes, big.length + 5, 'the whole message arrived');
  await c.call.writable(); // ended: at once

  const stuck = call(channel);
  t.equal(stuck.call.write(big), false);
  const waiting = stuck.call.writable();
  stuck.call.cancel();
  await waiting;
  t.equal((await stuck.end).code, Status.CANCELLED, 'a cancel ends the wait');
});

t.test('a message over the limit: RESOURCE_EXHAUSTED, and the stream is cancelled; a compressed one: INTERNAL', async (t) => {
  const resets: number[] = [];
  const server = await startServer(t, (stream, headers) => {
    respond(stream);
    stream.write(frame('small'));
    if (headers[':path'] === '/t.S/compressed') stream.write(encodeFrame(Buffer.from('zipped'), 1));
    else stream.write(frame('y'.repeat(2000)));
    stream.on('close', () => resets.push(stream.rstCode));
  });
  const channel = channelTo(t, server.port, { maxInboundMessageBytes: 1000 });
  const big = call(channel);
  const status = await big.end;
  t.equal(status.code, Status.RESOURCE_EXHAUSTED);
  t.match(status.details, /2000 bytes exceeds the limit of 1000/);
  t.same(big.messages, ['small']);
  const compressed = await call(channel, '/t.S/compressed').end;
  t.equal(compressed.code, Status.INTERNAL);
  t.match(compressed.details, /compressed/);
  while (resets.length < 2) await new Promise((r) => setTimeout(r, 5));
  t.same(resets, [http2.constants.NGHTTP2_CANCEL, http2.constants.NGHTTP2_CANCEL], 'both streams reset by the client');
});

t.test('connection refused: UNAVAILABLE at once; no new attempt within the back-off, which doubles; a connect resets it', async (t) => {
  const port = await closedPort();
  let now = 0;
  const clock: Clock = { now: () => now, monotonic: () => now };
  const channel = channelTo(t, port, { clock, reconnectBackoff: { minMs: 100, maxMs: 250 } });
  const attempt = async (): Promise<CallStatus> => call(channel).end;

  const started = Date.now();
  const refused = await attempt();
  t.equal(refused.code, Status.UNAVAILABLE);
  t.match(refused.details, /cannot connect \(.*ECONNREFUSED/, 'a connect attempt, refused');
  t.ok(Date.now() - started < 1000, 'quickly');
  now = 99;
  t.match((await attempt()).details, /the last connection to 127\.0\.0\.1:\d+ failed; the next attempt in 1 ms/, 'within the back-off: no attempt');
  now = 100;
  t.match((await attempt()).details, /ECONNREFUSED/, 'after it: an attempt');
  now = 299;
  t.match((await attempt()).details, /next attempt in 1 ms/, 'the back-off doubled (200 ms)');
  now = 300;
  t.match((await attempt()).details, /ECONNREFUSED/);
  now = 549;
  t.match((await attempt()).details, /next attempt in 1 ms/, 'capped at 250 ms');

  const server = await startServer(t, (stream) => respond(stream).finish(), port);
  now = 550;
  t.same(await attempt(), { code: Status.OK, details: '' }, 'the server is back: calls work');
  await server.stop();
  let afterStop = await attempt();
  // Until the client reads the server's GOAWAY, a call may still go to the old session.
  for (let i = 0; i < 20 && afterStop.details === 'stream refused by the server'; i++) afterStop = await attempt();
  t.match(afterStop.details, /ECONNREFUSED/, 'after a connect, the next failure is tried at once');
  now = 649;
  t.match((await attempt()).details, /next attempt in 1 ms/, 'and the back-off starts again at 100 ms');
});

t.test('a server restart: open calls end UNAVAILABLE, new calls work on a new connection', async (t) => {
  const onStream: OnStream = (stream, headers) => {
    const { finish } = respond(stream);
    if (headers[':path'] === '/t.S/quick') finish();
    else stream.write(frame('open')); // stays open
  };
  const first = await startServer(t, onStream);
  const channel = channelTo(t, first.port);
  const open = call(channel, '/t.S/open');
  await open.firstMessage;
  await first.stop();
  const lost = await open.end;
  t.equal(lost.code, Status.UNAVAILABLE);
  t.match(lost.details, /connection lost/);

  const second = await startServer(t, onStream, first.port);
  t.same(await call(channel, '/t.S/quick').end, { code: Status.OK, details: '' }, 'at once: a lost connection is no failed connect');
  t.equal(second.sessions.size, 1);
});

t.test('a closed channel: calls in progress finish, new calls end UNAVAILABLE', async (t) => {
  let finishOpen: (() => void) | undefined;
  const server = await startServer(t, (stream) => {
    finishOpen = respond(stream).finish;
  });
  const channel = channelTo(t, server.port);
  const open = call(channel);
  while (!finishOpen) await new Promise((r) => setTimeout(r, 5));
  channel.close();
  t.same(await call(channel).end, { code: Status.UNAVAILABLE, details: 'the channel is closed' });
  finishOpen();
  t.same(await open.end, { code: Status.OK, details: '' });
});

t.test('2,000 concurrent streams on one session all complete', async (t) => {
  const server = await startServer(t, (stream) => {
    const { finish } = respond(stream);
    const decoder = new FrameDecoder(1024);
    stream.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(chunk)) stream.write(encodeFrame(m));
    });
    stream.on('end', finish);
  });
  const channel = channelTo(t, server.port);
  const calls = Array.from({ length: 2000 }, (_, i) => {
    const c = call(channel);
    c.call.write(Buffer.from(`m${i}`));
    return c;
  });
  // All open at once: the half-closes follow only when every call has its echo.
  await Promise.all(calls.map((c) => c.firstMessage));
  for (const c of calls) c.call.end();
  const statuses = await Promise.all(calls.map((c) => c.end));
  t.equal(statuses.filter((s) => s.code === Status.OK).length, 2000, 'every call OK');
  t.ok(
    calls.every((c, i) => c.messages.length === 1 && c.messages[0] === `m${i}`),
    'each got its own echo',
  );
  t.equal(server.sessions.size, 1, 'one session');
});
