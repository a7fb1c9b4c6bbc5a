/**
 * Calls are answered promptly. gRPC under load on one HTTP/2 connection, as the proxy
 * benchmark's load generator drives it (node:http2 client streams, not grpc-js): many unary
 * calls in flight at once, calls paced open-loop, and requests larger than HTTP/2's default
 * 64 KiB flow-control windows — a window never updated, or a response not flushed until a
 * later event, shows as a stall or a call that never completes. And a response written in
 * pieces over HTTP/1.1 (gRPC-Web streaming) is not held back by Nagle's algorithm.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import type { Call, Response } from '../../../../src/proxy/dispatch.js';
import { method, startFixture } from './fixtures/harness.js';

const echo = method('Echo');

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

interface Outcome {
  status: string | undefined;
  bytes: number;
  ms: number;
}

/** One unary Echo call on `session`; resolves when its stream closes. */
function call(session: http2.ClientHttp2Session, name: string): Promise<Outcome> {
  const started = performance.now();
  const body = frame(echo.inputType.encode({ name }).finish());
  return new Promise((resolve) => {
    const stream = session.request({ ':method': 'POST', ':path': echo.path, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    let bytes = 0;
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
    });
    stream.on('trailers', (trailers) => (status = String(trailers['grpc-status'])));
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('error', () => undefined); // seen as a missing status
    stream.on('close', () => resolve({ status, bytes, ms: performance.now() - started }));
    stream.end(body);
  });
}

function connect(t: { teardown(fn: () => unknown): void }, url: string): http2.ClientHttp2Session {
  const session = http2.connect(url);
  session.on('error', () => undefined);
  t.teardown(() => session.destroy());
  return session;
}


t.test('2,000 unary calls in flight on one HTTP/2 connection all complete', async (t) => {
  const f = await startFixture(t);
  const session = connect(t, f.url);
  const outcomes = await Promise.all(Array.from({ length: 2000 }, (_, i) => call(session, `n${i}`)));
  t.equal(outcomes.filter((o) => o.status === '0').length, 2000, 'every call ends with grpc-status 0');
  t.equal(f.dispatcher.calls.length, 2000, 'every call reached the dispatcher');
  t.ok(outcomes.every((o) => o.bytes > 5), 'every call got its echo');
});

t.test('calls paced open-loop on one connection are answered promptly, not in bursts', async (t) => {
  const f = await startFixture(t);
  const session = connect(t, f.url);
  await call(session, 'warm-up');
  // 400 calls, one every 2 ms (500/s): the fake dispatcher answers at once, so a call waits
  // only on the ingress and the connection. The README's fault was a p50 of 200–800 ms.
  const pending: Promise<Outcome>[] = [];
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      pending.push(call(session, `paced ${pending.length}`));
      if (pending.length === 400) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  const outcomes = await Promise.all(pending);
  t.equal(outcomes.filter((o) => o.status === '0').length, 400);
  // The fastest call, not the median: a busy machine delays some calls, but a stall built into
  // the path (delayed ACK, polling) delays every one of them.
  const fastest = Math.min(...outcomes.map((o) => o.ms));
  t.ok(fastest < 20, `fastest call ${fastest.toFixed(2)} ms: no stall on every call (a delayed-ACK stall is ≈40 ms)`);
});

t.test('requests larger than the 64 KiB HTTP/2 windows, many at once, complete', async (t) => {
  const f = await startFixture(t);
  const session = connect(t, f.url);
  // 40 calls × 200 KB = 8 MB each way through one connection whose windows start at 64 KiB:
  // only possible if the ingress reads what arrives (WINDOW_UPDATE) and the client reads its answers.
  const big = 'x'.repeat(200_000);
  const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => call(session, `${i}${big}`)));
  t.equal(outcomes.filter((o) => o.status === '0').length, 40, 'every call ends with grpc-status 0');
  t.ok(
    outcomes.every((o) => o.bytes > 200_000),
    'every call got its 200 KB echo',
  );
});

t.test('a gRPC-Web stream over HTTP/1.1 is not held back by Nagle and delayed ACKs', async (t) => {
  const f = await startFixture(t);
  // Three messages written on separate ticks, so each leaves in its own TCP write: with Nagle
  // on, the second waits for the client's delayed ACK of the first (~40 ms on Linux).
  f.dispatcher.stream = async function* (c: Call): AsyncIterable<Response> {
    for await (const _ of c.requests);
    for (let i = 1; i <= 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      yield { payload: new Uint8Array([0x08, i]) };
    }
  };
  const watch = method('Watch');
  const body = frame(watch.inputType.encode({ userId: 'u' }).finish());
  const request = Buffer.concat([
    Buffer.from(`POST ${watch.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]);
  const socket = net.connect({ host: '127.0.0.1', port: f.port, noDelay: true });
  t.teardown(() => socket.destroy());
  const times: number[] = [];
  let ok = true;
  await new Promise<void>((resolve, reject) => {
    let received = '';
    let sent = 0;
    const send = () => {
      sent = performance.now();
      socket.write(request);
    };
    socket.on('connect', send);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes('\r\n0\r\n\r\n')) return; // the chunked body's end
      if (!received.includes('grpc-status:0')) ok = false;
      received = '';
      times.push(performance.now() - sent);
      if (times.length < 20) send();
      else resolve();
    });
  });
  t.ok(ok, 'every call ends with grpc-status 0');
  // The first quartile, so a few calls slowed by a busy machine do not count: with Nagle on,
  // most calls wait ≈44 ms for a delayed ACK however idle the machine is; without, ≈1–7 ms.
  const q1 = [...times].sort((a, b) => a - b)[Math.floor(times.length / 4)]!;
  t.ok(q1 < 25, `first-quartile call ${q1.toFixed(2)} ms, not a delayed-ACK stall`);
});
