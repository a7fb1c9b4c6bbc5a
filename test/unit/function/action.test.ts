import http2 from 'node:http2';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { Action, type ActionContext, type StreamedActionContext } from '../../../src/function/index.js';
import { encodeFrame, protocolType } from '../../../src/protocol/index.js';
import { anyOf, decodeAny, Inbox, plain, protocolClient, startServer, type Plain } from './protocol-client.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const SERVICE = 'fixture.model.Actions';

/** Told which streamed-out call the client cancelled. */
let onHandlerCancelled: ((text: string) => void) | undefined;

function actions(): Action {
  return new Action({
    serviceName: SERVICE,
    protoFiles: 'model.proto',
    includeDirs: [fixtures],
    commandHandlers: {
      Unary(ping: { text: string }, ctx: ActionContext) {
        switch (ping.text) {
          case 'fail':
            ctx.effect('fixture.model.Two', 'Call', { id: 'before-fail' });
            return ctx.fail('unary failed');
          case 'forward':
            ctx.effect('fixture.model.Two', 'Call', { id: 'e' }, true);
            return ctx.forward('fixture.model.Two', 'Call', { id: 'fw' });
          case 'none':
            ctx.effect('fixture.model.Two', 'Call', { id: 'only-effect' });
            return undefined;
          case 'crash':
            throw new Error('unary boom');
          case 'endless':
            return new Promise<undefined>((resolve) =>
              ctx.onCancel(() => {
                onHandlerCancelled?.(`unary ${String(ctx.cancelled)}`);
                resolve(undefined);
              }),
            );
          default:
            return { text: `${ping.text}!${String(ctx.metadata.get('x-user') ?? '')}` };
        }
      },
      async In(messages: AsyncIterable<{ text: string }>, ctx: ActionContext) {
        const texts: string[] = [];
        ctx.onCancel(() => onHandlerCancelled?.(`in ${String(ctx.cancelled)}`));
        for await (const message of messages) texts.push(message.text);
        if (texts.includes('fail')) ctx.fail('in failed');
        return { text: `${texts.join('+')}|${String(ctx.metadata.get('x-user') ?? '')}` };
      },
      Out(ping: { text: string }, ctx: StreamedActionContext) {
        if (ping.text === 'endless') {
          ctx.reply({ text: 'first' });
          return new Promise<void>((resolve) => ctx.onCancel(() => {
            onHandlerCancelled?.(ping.text);
            resolve();
          }));
        }
        if (ping.text === 'generator') {
          return (async function* () {
            yield { text: 'g1' };
            yield { text: 'g2' };
          })();
        }
        ctx.effect('fixture.model.Two', 'Call', { id: 'first' });
        ctx.reply({ text: 'r1' });
        ctx.forward('fixture.model.Two', 'Call', { id: 'fw' });
        ctx.effect('fixture.model.Two', 'Call', { id: 'lonely' }, true);
        ctx.noReply();
        ctx.fail('out failed');
        return undefined;
      },
      async Both(messages: AsyncIterable<{ text: string }>, ctx: StreamedActionContext) {
        for await (const message of messages) {
          if (message.text === 'effect') {
            ctx.effect('fixture.model.Two', 'Call', { id: 'bidi' });
            ctx.noReply();
          } else {
            ctx.reply({ text: message.text.toUpperCase() });
          }
        }
      },
    },
  });
}

async function setup(t: Test) {
  const action = actions();
  const { port } = await startServer(t, [action]);
  const client = protocolClient('cloudstate.action.ActionProtocol', port);
  t.teardown(() => client.close());
  const ping = (name: string, text: string, metadata?: Plain) => ({
    service_name: SERVICE,
    name,
    payload: anyOf(action.root, 'fixture.model.Ping', { text }),
    ...(metadata ? { metadata } : {}),
  });
  const unary = (request: Plain) =>
    new Promise<Plain>((resolve, reject) =>
      client.handleUnary!(request, (error: Error | null, response: unknown) => (error ? reject(error) : resolve(plain(response)))),
    );
  return { action, client, ping, unary, port };
}

const effectIds = (action: Action, response: Plain) =>
  (response.side_effects ?? []).map((e: Plain) => `${decodeAny(action.root, e.payload).id}${e.synchronous ? '(sync)' : ''}`);

t.test('unary: reply with metadata, forward with effects, no reply, failure keeps effects, crash', async (t) => {
  const { action, ping, unary } = await setup(t);
  const reply = await unary(ping('Unary', 'hi', { entries: [{ key: 'X-User', string_value: 'ann' }] }));
  t.same(decodeAny(action.root, reply.reply.payload), { text: 'hi!ann' });
  t.equal(reply.reply.payload.type_url, 'type.googleapis.com/fixture.model.Ping');

  const forward = await unary(ping('Unary', 'forward'));
  t.equal(forward.forward.service_name, 'fixture.model.Two');
  t.same(decodeAny(action.root, forward.forward.payload), { id: 'fw' });
  t.same(effectIds(action, forward), ['e(sync)']);

  const none = await unary(ping('Unary', 'none'));
  t.notOk(none.reply ?? none.forward ?? none.failure, 'no response case set');
  t.same(effectIds(action, none), ['only-effect']);

  const failed = await unary(ping('Unary', 'fail'));
  t.same(failed.failure, { description: 'unary failed' });
  t.same(effectIds(action, failed), ['before-fail']);

  const crash = await unary(ping('Unary', 'crash'));
  t.match(crash.failure.description, /Unexpected error in fixture\.model\.Actions\.Unary/);

  const unknown = await unary({ service_name: 'no.Such', name: 'Unary' });
  t.match(unknown.failure.description, /no\.Such/);
});

t.test('streamed in: header (name, metadata) then payloads; one response at the end', async (t) => {
  const { action, client, ping } = await setup(t);
  const run = (texts: string[]) =>
    new Promise<Plain>((resolve, reject) => {
      const call = client.handleStreamedIn!((error: Error | null, response: unknown) => (error ? reject(error) : resolve(plain(response)))) as grpc.ClientWritableStream<Plain>;
      call.write({ service_name: SERVICE, name: 'In', metadata: { entries: [{ key: 'x-user', string_value: 'bob' }] } });
      for (const text of texts) call.write({ payload: ping('In', text).payload });
      call.end();
    });
  t.same(decodeAny(action.root, (await run(['a', 'b', 'c'])).reply.payload), { text: 'a+b+c|bob' });
  t.same(decodeAny(action.root, (await run([])).reply.payload), { text: '|bob' });
  t.same((await run(['x', 'fail'])).failure, { description: 'in failed' });
});

t.test('streamed out: one response per reply/forward/noReply/fail with the effects since the last; generator replies', async (t) => {
  const { action, client, ping } = await setup(t);
  const inbox = new Inbox(client.handleStreamedOut!(ping('Out', 'manual')) as NodeJS.EventEmitter);
  const responses = await inbox.ended();
  t.notOk(inbox.error);
  t.equal(responses.length, 4);
  t.same(decodeAny(action.root, responses[0]!.reply.payload), { text: 'r1' });
  t.same(effectIds(action, responses[0]!), ['first']);
  t.same(decodeAny(action.root, responses[1]!.forward.payload), { id: 'fw' });
  t.same(effectIds(action, responses[1]!), []);
  t.notOk(responses[2]!.reply ?? responses[2]!.forward ?? responses[2]!.failure);
  t.same(effectIds(action, responses[2]!), ['lonely(sync)']);
  t.same(responses[3]!.failure, { description: 'out failed' });

  const generated = await new Inbox(client.handleStreamedOut!(ping('Out', 'generator')) as NodeJS.EventEmitter).ended();
  t.same(generated.map((r) => decodeAny(action.root, r.reply.payload).text), ['g1', 'g2']);
});

t.test('streamed (bidi): header then payloads, responses interleaved, stream ends after the client', async (t) => {
  const { action, client, ping } = await setup(t);
  const call = client.handleStreamed!() as grpc.ClientDuplexStream<Plain, unknown>;
  const inbox = new Inbox(call);
  call.write({ service_name: SERVICE, name: 'Both' });
  call.write({ payload: ping('Both', 'one').payload });
  t.same(decodeAny(action.root, (await inbox.next())!.reply.payload), { text: 'ONE' }, 'answered before the client completes');
  call.write({ payload: ping('Both', 'effect').payload });
  const effect = (await inbox.next())!;
  t.same(effectIds(action, effect), ['bidi']);
  call.write({ payload: ping('Both', 'two').payload });
  call.end();
  const rest = await inbox.ended();
  t.same(rest.map((r) => decodeAny(action.root, r.reply.payload).text), ['TWO']);
  t.notOk(inbox.error);
});

t.test('streamed out: a client cancel reaches the handler', async (t) => {
  const { action, client, ping } = await setup(t);
  const call = client.handleStreamedOut!(ping('Out', 'endless')) as grpc.ClientReadableStream<unknown>;
  const inbox = new Inbox(call);
  t.same(decodeAny(action.root, (await inbox.next())!.reply.payload), { text: 'first' });
  const seen = new Promise<string>((resolve) => {
    onHandlerCancelled = resolve;
  });
  call.cancel();
  t.equal(await seen, 'endless');
});

t.test('unary and streamed in: a client cancel reaches the handler (ctx.onCancel, ctx.cancelled)', async (t) => {
  const { action, client, ping, port } = await setup(t);
  const unarySeen = new Promise<string>((resolve) => {
    onHandlerCancelled = resolve;
  });
  const call = client.handleUnary!(ping('Unary', 'endless'), () => undefined) as grpc.ClientUnaryCall;
  // The handler has the call once the server got it: cancel a moment after it was sent.
  await new Promise((resolve) => setTimeout(resolve, 50));
  call.cancel();
  t.equal(await unarySeen, 'unary true', 'the unary handler was told, and ctx.cancelled is true');

  // A client stream still open when its deadline passes (the server enforces grpc-timeout). A
  // Node client's cancel half-closes the stream before its RST_STREAM, which reads as a
  // complete input, so the raw request here sets a deadline and never ends.
  const inSeen = new Promise<string>((resolve) => {
    onHandlerCancelled = resolve;
  });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const stream = session.request({ ':method': 'POST', ':path': '/cloudstate.action.ActionProtocol/handleStreamedIn', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '100m' });
  stream.on('error', () => undefined);
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('trailers', resolve).on('response', (h) => h['grpc-status'] !== undefined && resolve(h)));
  const ActionCommand = protocolType('cloudstate.action.ActionCommand');
  for (const text of ['header', 'a']) stream.write(encodeFrame(ActionCommand.encode(ActionCommand.fromObject({ service_name: SERVICE, name: 'In', payload: anyOf(action.root, 'fixture.model.Ping', { text }) })).finish()));
  t.equal(await inSeen, 'in true', 'the streamed-in handler was told');
  t.equal((await trailers)['grpc-status'], '4', 'and the call ended DEADLINE_EXCEEDED');
  stream.close();
});
