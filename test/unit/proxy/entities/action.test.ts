import t from 'tap';
import type { ActionCommand, ActionResponse, MetadataEntry } from '../../../../src/protocol/index.js';
import { Status } from '../../../../src/proxy/dispatch.js';
import { anyOf, b64, key, msg, msgText, rejection } from './fake-user-function.js';
import { startNode } from './harness.js';
import type { Node } from './harness.js';

const msgUrl = 'type.googleapis.com/t.Msg';
const textOf = (c: ActionCommand) => (c.payload?.value ? msgText(c.payload.value) : undefined);
const reply = (text: string, extra: Partial<ActionResponse> = {}): ActionResponse => ({ reply: { payload: anyOf('t.Msg', msg(text)) }, ...extra });
const effect = (text: string, synchronous: boolean) => ({ service_name: 't.Two', command_name: 'Call', payload: anyOf('t.Msg', msg(text)), synchronous });

async function collect(node: Node, path: string, requests: Uint8Array[], metadata: MetadataEntry[] = []): Promise<string[]> {
  const out: string[] = [];
  const call = { method: node.method(path), metadata, requests: (async function* () { yield* requests; })(), signal: new AbortController().signal };
  for await (const r of node.dispatcher.stream(call)) out.push(msgText(r.payload));
  return out;
}

t.test('the four action shapes, with the call metadata', async (t) => {
  const node = await startNode(t);
  const metadata = [{ key: 'x-user', string_value: 'u1' }];
  node.uf.actions = {
    unary: (c) => reply(`unary ${textOf(c)}`, { reply: { payload: anyOf('t.Msg', msg(`unary ${textOf(c)}`)), metadata: { entries: [{ key: 'x-reply', string_value: 'r' }] } } }),
    streamedOut: (c) => [reply(`1 ${textOf(c)}`), {}, reply(`2 ${textOf(c)}`)],
    streamedIn: (cs) => reply(cs.slice(1).map(textOf).join('+')),
    streamed: (c) => (c.payload ? [reply(`echo ${textOf(c)}`)] : []),
  };
  const unary = await node.call('/t.Act/Unary', msg('a'), metadata);
  t.equal(msgText(unary.payload), 'unary a');
  t.same(unary.metadata, [{ key: 'x-reply', string_value: 'r' }], "the reply's metadata goes with the response");
  t.same(await collect(node, '/t.Act/Out', [msg('b')], metadata), ['1 b', '2 b'], 'server streaming: one message per reply, none for an empty response');
  t.same(await collect(node, '/t.Act/In', [msg('c'), msg('d')], metadata), ['c+d'], 'client streaming: one response');
  t.same(await collect(node, '/t.Act/Bidi', [msg('e'), msg('f')], metadata), ['echo e', 'echo f'], 'bidi');
  const calls = Object.fromEntries(node.uf.actionCalls.map((c) => [c.rpc, c.commands]));
  const md = { entries: [{ key: 'x-user', string_value: 'u1' }] };
  t.same(calls.handleUnary, [{ service_name: 't.Act', name: 'Unary', payload: { type_url: msgUrl, value: b64(msg('a')) }, metadata: md }]);
  t.same(calls.handleStreamedOut, [{ service_name: 't.Act', name: 'Out', payload: { type_url: msgUrl, value: b64(msg('b')) }, metadata: md }]);
  t.same(
    calls.handleStreamedIn,
    [{ service_name: 't.Act', name: 'In', metadata: md }, { payload: { type_url: msgUrl, value: b64(msg('c')) } }, { payload: { type_url: msgUrl, value: b64(msg('d')) } }],
    'a header with the name and metadata, then payload-only messages',
  );
  t.same(calls.handleStreamed?.[0], { service_name: 't.Act', name: 'Bidi', metadata: md });
  t.equal(calls.handleStreamed?.length, 3);
});

t.test('side effects run in order before the answer; a synchronous one is awaited', async (t) => {
  const node = await startNode(t);
  const seen: string[] = [];
  let releaseSync!: () => void;
  const syncHeld = new Promise<void>((r) => (releaseSync = r));
  let syncArrived!: () => void;
  const syncStarted = new Promise<void>((r) => (syncArrived = r));
  node.uf.actions.unary = async (c) => {
    if (c.service_name === 't.Two') {
      seen.push(textOf(c)!);
      if (textOf(c) === 'sync') {
        syncArrived();
        await syncHeld;
      }
      return reply('ignored');
    }
    return reply('main', { side_effects: [effect('async1', false), effect('sync', true), effect('async2', false)] });
  };
  let answered = false;
  const call = node.call('/t.Act/Unary', msg('go')).then((r) => {
    answered = true;
    return r;
  });
  await syncStarted;
  t.notOk(seen.includes('async2'), 'an effect after a synchronous one waits for it');
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(answered, 'no answer while the synchronous side effect runs');
  releaseSync();
  t.equal(msgText((await call).payload), 'main', "the side effects' replies are discarded");
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
  t.same(seen.sort(), ['async1', 'async2', 'sync']);
});

t.test('a forward chain: action → action → event-sourced entity, whose reply is the answer', async (t) => {
  const node = await startNode(t);
  node.uf.actions.unary = (c) => {
    if (c.service_name === 't.Act') return { forward: { service_name: 't.Two', command_name: 'Call', payload: anyOf('t.Msg', msg('to two')), metadata: { entries: [{ key: 'fw', string_value: '1' }] } } };
    t.same(c.metadata?.entries?.map((e) => e.key), ['fw'], "a forwarded action gets the forward's metadata");
    return { forward: { service_name: 't.Es', command_name: 'Cmd', payload: anyOf('t.Key', key('fw-entity')) } };
  };
  const call = node.call('/t.Act/Unary', msg('start'));
  const conn = await node.uf.eventSourced.next();
  t.same(await conn.expect(), { init: { service_name: 't.Es', entity_id: 'fw-entity' } }, "the entity id comes from the forwarded payload's key field");
  t.same(await conn.expect(), { command: { entity_id: 'fw-entity', id: 1, name: 'Cmd', payload: { type_url: 'type.googleapis.com/t.Key', value: b64(key('fw-entity')) } } });
  conn.send({ reply: { command_id: 1, client_action: { reply: { payload: anyOf('t.Msg', msg('from the entity')) } } } });
  t.equal(msgText((await call).payload), 'from the entity');
});

t.test('forwards and side effects to what the user function does not serve: the call fails and the user function hears why', async (t) => {
  const node = await startNode(t);
  node.uf.actions.unary = (c) =>
    textOf(c) === 'forward'
      ? { forward: { service_name: 't.Nope', command_name: 'Call', payload: anyOf('t.Msg', msg('x')) } }
      : reply('ok', { side_effects: [{ service_name: 't.Two', command_name: 'Nope', payload: anyOf('t.Msg', msg('x')), synchronous: true }] });
  const forward = await rejection(node.call('/t.Act/Unary', msg('forward')));
  t.equal(forward.status, Status.UNKNOWN);
  t.equal(await node.uf.reported.next(), 'Service [t.Nope] unknown\n  forwarded from t.Act.Unary');
  await rejection(node.call('/t.Act/Unary', msg('effect')));
  t.equal(await node.uf.reported.next(), 'Service [t.Two] does not have a command named: [Nope]\n  side-effect of t.Act.Unary');
});

t.test('failures, a reply of the wrong type, and no reply', async (t) => {
  const node = await startNode(t);
  node.uf.actions = {
    unary: (c) => (textOf(c) === 'fail' ? { failure: { description: 'expected failure' } } : textOf(c) === 'none' ? {} : { reply: { payload: anyOf('t.Key', key('k')) } }),
    streamedOut: () => [reply('first'), { failure: { description: 'boom' } }, reply('never')],
  };
  const failed = await rejection(node.call('/t.Act/Unary', msg('fail')));
  t.same([failed.status, failed.message], [Status.UNKNOWN, 'expected failure']);
  const wrong = await node.call('/t.Act/Unary', msg('wrong type'));
  t.same(wrong.payload, key('k'), 'a reply of another type is still sent');
  t.equal(await node.uf.reported.next(), 'Warning: t.Act.Unary: Expected reply type_url to be [type.googleapis.com/t.Msg] but was [type.googleapis.com/t.Key].');
  t.equal((await rejection(node.call('/t.Act/Unary', msg('none')))).status, Status.INTERNAL, 'a unary call with no reply is an error');
  const got: string[] = [];
  const streamed = rejection(
    (async () => {
      const call = { method: node.method('/t.Act/Out'), metadata: [], requests: (async function* () { yield msg('x'); })(), signal: new AbortController().signal };
      for await (const r of node.dispatcher.stream(call)) got.push(msgText(r.payload));
    })(),
  );
  t.equal((await streamed).message, 'boom', 'a failure ends the stream with its description');
  t.same(got, ['first'], 'after the messages before it');
});

t.test('a client that goes away cancels the streamed call to the user function', async (t) => {
  const node = await startNode(t);
  node.uf.actions.streamed = (c) => (c.payload ? [reply(`echo ${textOf(c)}`)] : []);
  const controller = new AbortController();
  const requests = (async function* () {
    yield msg('a');
    await new Promise(() => undefined); // the client sends nothing more
  })();
  const call = { method: node.method('/t.Act/Bidi'), metadata: [], requests, signal: controller.signal };
  const got: string[] = [];
  const done = (async () => {
    for await (const r of node.dispatcher.stream(call)) {
      got.push(msgText(r.payload));
      controller.abort();
    }
  })();
  const err = await rejection(done);
  t.equal(err.status, Status.CANCELLED, err.message);
  t.same(got, ['echo a']);
  t.equal(await node.uf.cancelled.next(), 'handleStreamed', 'the user function sees the call cancelled');
});

t.test('a request that does not decode as the input type ends the call INVALID_ARGUMENT, unseen by the user function', async (t) => {
  const node = await startNode(t);
  const streamedPayloads: unknown[] = [];
  node.uf.actions = {
    unary: (c) => reply(`got ${c.payload?.type_url}`),
    streamed: (c) => (streamedPayloads.push(c.payload?.value), c.payload ? [reply(`echo ${textOf(c)}`)] : []),
  };
  const truncated = new Uint8Array([0x08, 0x80]); // field 1, a varint whose continuation byte has no successor
  const unary = await rejection(node.call('/t.Act/Unary', truncated));
  t.equal(unary.status, Status.INVALID_ARGUMENT);
  t.match(unary.message, /^\/t\.Act\/Unary: the request is not a valid t\.Msg: index out of range/, 'naming the method, the type and the decode error');
  t.notOk(node.uf.actionCalls.some((c) => c.rpc === 'handleUnary'), 'no unary call reached the user function');
  const streamed = await rejection(collect(node, '/t.Act/Bidi', [msg('c'), truncated, msg('d')]));
  t.equal(streamed.status, Status.INVALID_ARGUMENT, 'a streamed-in message too');
  t.match(streamed.message, /^\/t\.Act\/Bidi: the request is not a valid t\.Msg/);
  t.equal(await node.uf.cancelled.next(), 'handleStreamed', 'the user function sees the stream cancelled');
  t.notOk(streamedPayloads.some((p) => p instanceof Uint8Array && Buffer.from(p).equals(Buffer.from(truncated))), 'and never the malformed bytes');

  // Eventing calls the Any method with events of any type, under their own type URL: passed as they are.
  const anyEvent = { ...node.method('/t.Act/Unary'), inputTypeUrl: 'p.cloudstate.io/int64' };
  const passed = await node.dispatcher.unary(anyEvent, truncated, [], new AbortController());
  t.equal(msgText(passed.payload), 'got p.cloudstate.io/int64', 'bytes of another type are not checked against the input type');
});
