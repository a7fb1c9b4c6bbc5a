// StreamDrain alone: which calls it ends, how, and that it changes nothing else.
import t from 'tap';
import { CallError, Status, type Call, type Response } from '../../../../src/proxy/dispatch.js';
import { SHUTTING_DOWN, StreamDrain } from '../../../../src/proxy/ingress/draining.js';
import type { MethodModel } from '../../../../src/proxy/model.js';
import { requestsOf } from '../../../../src/proxy/ingress/call.js';

const methodOf = (serverStreaming: boolean, clientStreaming = false) => ({ name: 'M', path: '/s.S/M', serverStreaming, clientStreaming }) as unknown as MethodModel;
const callOf = (m: MethodModel, signal = new AbortController().signal): Call => ({ method: m, metadata: [], requests: requestsOf([]), signal });
const response = (n: number): Response => ({ payload: new Uint8Array([n]) });

/** A handler that yields `first` messages, then waits for its signal; records what happened to it. */
function idleHandler(first = 1) {
  const seen = { aborted: undefined as unknown, returned: false, signal: undefined as AbortSignal | undefined };
  const handler = async function* (call: Call): AsyncGenerator<Response> {
    seen.signal = call.signal;
    try {
      for (let i = 1; i <= first; i++) yield response(i);
      await new Promise((resolve) => call.signal.addEventListener('abort', resolve, { once: true }));
      seen.aborted = call.signal.reason;
    } finally {
      seen.returned = true;
    }
  };
  return { handler, seen };
}

async function drainError(iterator: AsyncIterator<Response>): Promise<unknown> {
  try {
    await iterator.next();
  } catch (error) {
    return error;
  }
  throw new Error('the stream went on');
}

t.test('an idle answer-stream ends with UNAVAILABLE, its handler aborted with the same reason', async (t) => {
  const drain = new StreamDrain();
  const { handler, seen } = idleHandler();
  const responses = drain.handler(handler)(callOf(methodOf(true)))[Symbol.asyncIterator]();
  t.same((await responses.next()).value, response(1));
  const pending = drainError(responses);
  t.equal(drain.size, 1);
  drain.drain();
  const error = await pending;
  t.ok(error instanceof CallError);
  t.match(error, { status: Status.UNAVAILABLE, message: SHUTTING_DOWN });
  t.equal(seen.aborted, error, 'the handler was aborted with it');
  t.equal(drain.size, 0, 'no longer open');
});

t.test('a stream suspended at a message (a slow reader) ends at its next read', async (t) => {
  const drain = new StreamDrain();
  const { handler } = idleHandler(3);
  const responses = drain.handler(handler)(callOf(methodOf(true)))[Symbol.asyncIterator]();
  await responses.next();
  drain.drain();
  t.match(await drainError(responses), { status: Status.UNAVAILABLE });
});

t.test('after drain, a new answer-stream fails at its first read, before its handler runs', async (t) => {
  const drain = new StreamDrain();
  drain.drain();
  const { handler, seen } = idleHandler();
  t.match(await drainError(drain.handler(handler)(callOf(methodOf(true)))[Symbol.asyncIterator]()), { status: Status.UNAVAILABLE, message: SHUTTING_DOWN });
  t.equal(seen.signal, undefined, 'the handler never ran');
});

t.test('calls that answer once pass through untouched, drained or not', async (t) => {
  const drain = new StreamDrain();
  const { handler } = idleHandler(1);
  const calls: Call[] = [];
  const recording = (call: Call) => {
    calls.push(call);
    return handler(call);
  };
  const call = callOf(methodOf(false, true));
  const iterable = drain.handler(recording)(call);
  drain.drain();
  t.same((await iterable[Symbol.asyncIterator]().next()).value, response(1), 'client streaming: not ended');
  t.equal(calls[0], call, 'the very call, not a copy');
  const unary = { unary: async () => response(7), stream: recording };
  t.same(await drain.dispatcher(unary).unary(methodOf(false), new Uint8Array(), [], { signal: new AbortController().signal }), response(7));
});

t.test('the client cancelling reaches the handler; a stream that ends by itself leaves nothing open', async (t) => {
  const drain = new StreamDrain();
  const client = new AbortController();
  const { handler, seen } = idleHandler(1);
  const responses = drain.handler(handler)(callOf(methodOf(true), client.signal))[Symbol.asyncIterator]();
  await responses.next();
  const rest = responses.next();
  const reason = new CallError(Status.CANCELLED, 'gone');
  client.abort(reason);
  t.same(await rest, { value: undefined, done: true }, 'the handler ended');
  t.equal(seen.aborted, reason, 'with the client’s reason');
  t.equal(drain.size, 0);
});

t.test('a consumer that stops reading returns the handler', async (t) => {
  const drain = new StreamDrain();
  const { handler, seen } = idleHandler(2);
  const responses = drain.handler(handler)(callOf(methodOf(true)))[Symbol.asyncIterator]();
  await responses.next();
  await responses.return!(undefined);
  await responses.next().catch(() => undefined);
  t.equal(drain.size, 0);
  // The handler was suspended at its yield: `return` runs its finally.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(seen.returned, true, 'the handler was returned');
});
