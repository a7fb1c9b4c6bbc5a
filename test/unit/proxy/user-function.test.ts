// The proxy's client to the user function (src/proxy/user-function.ts) on its H2Channel, against
// a real node:http2 server that each test scripts with protocol messages: discovery (deadline,
// unreachable), reportError, and the four action shapes — one response or none, trailers-only
// errors, response streams ending OK or not, the command stream's back-pressure and half-close,
// and the cancels (abort signal, failing source, consumer leaving early).
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { protocolType } from '../../../src/protocol/index.js';
import type { ActionCommand, ActionResponse } from '../../../src/protocol/index.js';
import { Status } from '../../../src/proxy/dispatch.js';
import { encodeFrame, FrameDecoder } from '../../../src/proxy/ingress/grpc-wire.js';
import { UserFunctionCallError, UserFunctionClient, UserFunctionErrorCode } from '../../../src/proxy/user-function.js';

type Teardown = { teardown(fn: () => unknown): void };

/** One call as the scripted server sees it. */
interface ServerCall {
  readonly path: string;
  readonly headers: http2.IncomingHttpHeaders;
  readonly stream: http2.ServerHttp2Stream;
  /** The request messages so far, decoded with `requestType`. */
  readonly requests: Record<string, unknown>[];
  /** Resolves on the client's half-close. */
  readonly halfClosed: Promise<void>;
  /** Resolves with the RST_STREAM code the stream closed with (0: none). */
  readonly closed: Promise<number>;
  /** 200 and gRPC headers, then `responses` (encoded as `responseType`), then the trailers. */
  reply(responses: object[], status?: number, message?: string): void;
}

const actionCommand = protocolType('cloudstate.action.ActionCommand');
const actionResponse = protocolType('cloudstate.action.ActionResponse');

/** A user function on 127.0.0.1 that hands each call to `onCall`; request and response messages are actions' unless told. */
async function userFunction(t: Teardown, onCall: (call: ServerCall) => void, requestType = actionCommand, responseType = actionResponse): Promise<number> {
  const server = http2.createServer();
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (session) => sessions.add(session));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const requests: Record<string, unknown>[] = [];
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    stream.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(chunk)) requests.push(requestType.toObject(requestType.decode(m), { bytes: String }));
    });
    const reply = (responses: object[], status = 0, message?: string) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(message === undefined ? { 'grpc-status': String(status) } : { 'grpc-status': String(status), 'grpc-message': message }));
      for (const r of responses) stream.write(encodeFrame(responseType.encode(r).finish()));
      stream.end();
    };
    const halfClosed = new Promise<void>((resolve) => stream.once('end', resolve));
    const closed = new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode)));
    onCall({ path: headers[':path'] as string, headers, stream, requests, halfClosed, closed, reply });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

function clientOn(t: Teardown, port: number): UserFunctionClient {
  const client = new UserFunctionClient({ port, reconnectBackoff: { minMs: 100, maxMs: 100 } });
  t.teardown(() => client.close());
  return client;
}

/** The server's view of the next call. */
function nextCall(): { onCall: (call: ServerCall) => void; call: Promise<ServerCall> } {
  let onCall!: (call: ServerCall) => void;
  const call = new Promise<ServerCall>((resolve) => (onCall = resolve));
  return { onCall, call };
}

const command = (name: string, text = name): ActionCommand => ({ service_name: 't.Svc', name, payload: { type_url: 'type.googleapis.com/t.In', value: Buffer.from(text) } });
const reply = (text: string): ActionResponse => ({ reply: { payload: { type_url: 'type.googleapis.com/t.Out', value: Buffer.from(text) } } });
const replyText = (response: ActionResponse) => Buffer.from(response.reply!.payload!.value!).toString();

/** The call's rejection, as a `UserFunctionCallError`. */
async function failure(t: Teardown & { fail(m: string): void }, promise: Promise<unknown>): Promise<UserFunctionCallError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof UserFunctionCallError) return err;
    throw err;
  }
  t.fail('expected a UserFunctionCallError');
  throw new Error('resolved');
}

async function drain<T>(responses: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of responses) out.push(r);
  return out;
}

t.test('discover: the spec, with grpc-timeout; a silent user function ends it DEADLINE_EXCEEDED, reset with CANCEL', async (t) => {
  const calls: ServerCall[] = [];
  const port = await userFunction(
    t,
    (call) => {
      calls.push(call);
      if (calls.length === 1) call.reply([{ proto: Buffer.from('x'), service_info: { service_name: 'shop' } }]);
    },
    protocolType('cloudstate.ProxyInfo'),
    protocolType('cloudstate.EntitySpec'),
  );
  const client = clientOn(t, port);
  const info = { protocol_major_version: 0, protocol_minor_version: 2, proxy_name: 'p', proxy_version: '1', supported_entity_types: ['a'] };
  const spec = await client.discover(info);
  t.equal(spec.service_info?.service_name, 'shop');
  t.equal(calls[0]!.path, '/cloudstate.EntityDiscovery/discover');
  t.equal(calls[0]!.headers['grpc-timeout'], '10000m', 'the default deadline, 10 s');
  t.match(calls[0]!.requests, [{ proxy_name: 'p', supported_entity_types: ['a'] }]);

  const started = Date.now();
  const late = await failure(t, client.discover(info, { deadlineMs: 150 }));
  t.ok(Date.now() - started >= 145, 'not before the deadline');
  t.equal(late.grpcCode, Status.DEADLINE_EXCEEDED);
  t.equal(late.code, UserFunctionErrorCode.CallFailed);
  t.match(late.message, new RegExp(`^discovery at 127\\.0\\.0\\.1:${port}: DEADLINE_EXCEEDED: Deadline exceeded`));
  t.equal(calls[1]!.headers['grpc-timeout'], '150m');
  t.equal(await calls[1]!.closed, http2.constants.NGHTTP2_CANCEL, 'the server sees the call reset');
});

t.test('nobody listening: discover and actions fail UNAVAILABLE, with the stable code', async (t) => {
  const server = http2.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const client = clientOn(t, port);
  const err = await failure(t, client.discover({ protocol_major_version: 0, protocol_minor_version: 2, proxy_name: 'p', proxy_version: '1', supported_entity_types: [] }));
  t.equal(err.grpcCode, Status.UNAVAILABLE);
  t.equal(err.code, UserFunctionErrorCode.Unavailable);
  t.match(err.message, /^discovery at 127\.0\.0\.1:\d+: UNAVAILABLE: cannot connect/);
  const action = await failure(t, client.actionUnary(command('Get')));
  t.equal(action.code, UserFunctionErrorCode.Unavailable);
  t.match(action.message, /^action t\.Svc\.Get: UNAVAILABLE/);
});

t.test('reportError: the message arrives; an Empty reply resolves', async (t) => {
  const next = nextCall();
  const port = await userFunction(
    t,
    (call) => {
      next.onCall(call);
      void call.halfClosed.then(() => call.reply([{}]));
    },
    protocolType('cloudstate.UserFunctionError'),
    protocolType('google.protobuf.Empty'),
  );
  await clientOn(t, port).reportError('entity type is wrong');
  const call = await next.call;
  t.equal(call.path, '/cloudstate.EntityDiscovery/reportError');
  t.same(call.requests, [{ message: 'entity type is wrong' }]);
  t.equal(call.headers['grpc-timeout'], '10000m');
});

t.test('handleUnary: one command, half-closed, one response; no metadata headers', async (t) => {
  const next = nextCall();
  const port = await userFunction(t, (call) => {
    next.onCall(call);
    void call.halfClosed.then(() => call.reply([reply(`got ${call.requests.length}`)]));
  });
  const response = await clientOn(t, port).actionUnary(command('Get', 'hello'));
  t.equal(replyText(response), 'got 1');
  const call = await next.call;
  t.equal(call.path, '/cloudstate.action.ActionProtocol/handleUnary');
  t.match(call.requests, [{ service_name: 't.Svc', name: 'Get', payload: { value: Buffer.from('hello').toString('base64') } }]);
  const extra = Object.keys(call.headers).filter((h) => !h.startsWith(':') && !['content-type', 'te', 'user-agent', 'grpc-accept-encoding'].includes(h));
  t.same(extra, [], 'nothing but the gRPC headers: no metadata, no deadline');
});

t.test('handleUnary failures: trailers-only error (details kept), no message, too many, abort', async (t) => {
  const calls: ServerCall[] = [];
  const port = await userFunction(t, (call) => {
    calls.push(call);
    const name = (): string => (call.requests[0] as { name: string }).name;
    void call.halfClosed.then(() => {
      if (name() === 'Denied') call.stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'not yours' }, { endStream: true });
      else if (name() === 'None') call.reply([]);
      else if (name() === 'Two') call.reply([reply('a'), reply('b')]);
      // 'Slow': never answers
    });
  });
  const client = clientOn(t, port);
  const denied = await failure(t, client.actionUnary(command('Denied')));
  t.equal(denied.grpcCode, 7);
  t.equal(denied.code, UserFunctionErrorCode.CallFailed);
  t.match(denied.message, /^action t\.Svc\.Denied: .*not yours/);
  t.equal((denied.cause as { details: string }).details, 'not yours', 'the description the client will see');

  const none = await failure(t, client.actionUnary(command('None')));
  t.equal(none.grpcCode, Status.UNIMPLEMENTED, 'as grpc-js reports an OK without a message');
  t.match(none.message, /No message received/);
  const two = await failure(t, client.actionUnary(command('Two')));
  t.equal(two.grpcCode, Status.UNIMPLEMENTED);
  t.match(two.message, /Too many responses received/);

  const abort = new AbortController();
  const slow = failure(t, client.actionUnary(command('Slow'), abort.signal));
  while (calls.length < 4) await new Promise((r) => setTimeout(r, 5));
  abort.abort();
  t.equal((await slow).grpcCode, Status.CANCELLED);
  t.equal(await calls[3]!.closed, http2.constants.NGHTTP2_CANCEL, 'the server sees the call reset');
  const pre = new AbortController();
  pre.abort();
  t.equal((await failure(t, client.actionUnary(command('Slow'), pre.signal))).grpcCode, Status.CANCELLED, 'an aborted signal: cancelled at once');
});

t.test('handleStreamedOut: the responses, then the end: OK ends the loop, an error throws after the messages', async (t) => {
  const port = await userFunction(t, (call) => {
    void call.halfClosed.then(() => {
      const name = (call.requests[0] as { name: string }).name;
      if (name === 'Ok') call.reply([reply('1'), reply('2'), reply('3')]);
      else call.reply([reply('1'), reply('2')], Status.NOT_FOUND, 'gone');
    });
  });
  const client = clientOn(t, port);
  t.same((await drain(client.actionStreamedOut(command('Ok')))).map(replyText), ['1', '2', '3']);
  const got: string[] = [];
  const err = await failure(
    t,
    (async () => {
      for await (const r of client.actionStreamedOut(command('Fail'))) got.push(replyText(r));
    })(),
  );
  t.same(got, ['1', '2'], 'the messages before the error');
  t.equal(err.grpcCode, Status.NOT_FOUND);
  t.match(err.message, /^action t\.Svc\.Fail: NOT_FOUND: gone/);
});

t.test('a consumer that stops reading early cancels the call (RST_STREAM CANCEL)', async (t) => {
  const next = nextCall();
  const port = await userFunction(t, (call) => {
    next.onCall(call);
    call.stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    call.stream.write(encodeFrame(actionResponse.encode(reply('first')).finish())); // and never ends
  });
  for await (const r of clientOn(t, port).actionStreamedOut(command('Endless'))) {
    t.equal(replyText(r), 'first');
    break;
  }
  t.equal(await (await next.call).closed, http2.constants.NGHTTP2_CANCEL);
});

t.test('handleStreamedIn: every command, with back-pressure, then the half-close; the one response', async (t) => {
  const next = nextCall();
  const port = await userFunction(t, (call) => {
    next.onCall(call);
    call.stream.pause(); // reads nothing until told
    void call.halfClosed.then(() => call.reply([reply(`got ${call.requests.length}`)]));
  });
  let pulled = 0;
  const big = 'x'.repeat(256 * 1024);
  async function* commands(): AsyncGenerator<ActionCommand> {
    for (let i = 0; i < 40; i++) {
      pulled++;
      yield command('Add', big);
    }
  }
  const response = clientOn(t, port).actionStreamedIn(commands());
  const call = await next.call;
  await new Promise((r) => setTimeout(r, 100));
  t.ok(pulled < 40, `the source waits while the server reads nothing (${pulled} of 40 pulled)`);
  call.stream.resume();
  t.equal(replyText(await response), 'got 40', 'all 40 arrived before the half-close');
  t.equal(call.path, '/cloudstate.action.ActionProtocol/handleStreamedIn');
});

t.test('a command source that throws cancels the call', async (t) => {
  const next = nextCall();
  const port = await userFunction(t, (call) => next.onCall(call));
  async function* commands(): AsyncGenerator<ActionCommand> {
    yield command('Add');
    await new Promise((r) => setTimeout(r, 20));
    throw new Error('the client went away');
  }
  const err = await failure(t, clientOn(t, port).actionStreamedIn(commands()));
  t.equal(err.grpcCode, Status.CANCELLED);
  t.equal(await (await next.call).closed, http2.constants.NGHTTP2_CANCEL, 'the server sees the call reset');
});

t.test('handleStreamed (bidi): responses while commands flow; ends OK after the half-close', async (t) => {
  const port = await userFunction(t, (call) => {
    call.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    call.stream.on('wantTrailers', () => call.stream.sendTrailers({ 'grpc-status': '0' }));
    let echoed = 0;
    call.stream.on('data', () => {
      for (; echoed < call.requests.length; echoed++) call.stream.write(encodeFrame(actionResponse.encode(reply(`echo ${echoed}`)).finish()));
    });
    void call.halfClosed.then(() => call.stream.end());
  });
  let release!: () => void;
  const secondMayGo = new Promise<void>((resolve) => (release = resolve));
  async function* commands(): AsyncGenerator<ActionCommand> {
    yield command('Chat', 'a');
    await secondMayGo; // the first echo comes back before the second command is sent
    yield command('Chat', 'b');
  }
  const got: string[] = [];
  for await (const r of clientOn(t, port).actionStreamed(commands())) {
    got.push(replyText(r));
    release();
  }
  t.same(got, ['echo 0', 'echo 1']);
});
