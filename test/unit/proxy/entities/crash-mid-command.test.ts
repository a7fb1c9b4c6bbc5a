// A user function that crashes while a command is outstanding (issue 5), end to end through an
// in-process proxy: the proxy reaches the scripted user function through a TCP link the test
// cuts (both sockets destroyed, as a killed process's are) after the user function received
// the command. The command fails as the reference proxy fails it — gRPC UNKNOWN / HTTP 500
// "Unexpected entity termination" ("Unexpected Value entity termination"), not UNAVAILABLE —
// the proxy goes on serving other entities, and the entity comes back on its next command with
// a new stream and a replay of what was persisted before the crash, whether or not the user
// function had answered on the entity's stream before. (A command that arrives while the user function is down is UNAVAILABLE: event-sourced.test.ts,
// shopping-cart.test.ts.)
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { startLink } from '../tcp-link.js';
import { startTestProxy } from '../test-proxy.js';
import { anyOf, b64, FakeUserFunction, key, msg, msgText, testSpec } from './fake-user-function.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const keyUrl = 'type.googleapis.com/t.Key';
const event = (s: string) => anyOf('t.Ev', bytes(s));
const state = (s: string) => anyOf('t.State', bytes(s));
const replyTo = (id: number, text: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: anyOf('t.Msg', msg(text)) } }, ...extra } });
const commandFor = (entity: string, id: number) => ({ command: { entity_id: entity, id, name: 'Cmd', payload: { type_url: keyUrl, value: b64(key(entity)) } } });
const replayed = (sequence: number, s: string) => ({ event: { sequence, payload: { type_url: 'type.googleapis.com/t.Ev', value: b64(bytes(s)) } } });

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function start(t: Teardown) {
  const uf = await new FakeUserFunction().start();
  uf.spec = testSpec();
  t.teardown(() => uf.stop());
  const link = await startLink(uf.port);
  t.teardown(() => link.close());
  const { proxy, client } = await startTestProxy(t, link.port);
  const grpcCall = (path: string, entity: string) =>
    new Promise<{ text?: string; error?: grpc.ServiceError }>((resolve) =>
      client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(key(entity)),
        (error, value) => resolve(error ? { error } : { text: msgText(value!) }),
      ),
    );
  const httpCall = async (path: string, entity: string) => {
    const response = await fetch(`http://127.0.0.1:${proxy.httpPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: entity }) });
    return { status: response.status, body: await response.text() };
  };
  return { uf, link, grpcCall, httpCall };
}

t.test('event sourced: the outstanding command fails "Unexpected entity termination" (gRPC UNKNOWN, HTTP 500); others are served; the entity replays what was persisted', async (t) => {
  const { uf, link, grpcCall, httpCall } = await start(t);
  const init = (id: string) => ({ init: { service_name: 't.Es', entity_id: id } });

  const first = grpcCall('/t.Es/Cmd', 'a');
  const conn = await uf.eventSourced.next();
  t.same(await conn.expect(), init('a'), 'a new stream, initialised');
  t.same(await conn.expect(), commandFor('a', 1));
  conn.send(replyTo(1, 'one', { events: [event('a1')] }));
  t.same(await first, { text: 'one' });

  const interrupted = grpcCall('/t.Es/Cmd', 'a');
  t.same(await conn.expect(), commandFor('a', 2), 'the user function has the command');
  link.cut();
  const { error } = await interrupted;
  t.same([error?.code, error?.details], [grpc.status.UNKNOWN, 'Unexpected entity termination'], 'gRPC: UNKNOWN, the entity failure');

  const other = grpcCall('/t.Es/Cmd', 'b');
  const connB = await uf.eventSourced.next();
  t.same(await connB.expect(), init('b'), 'a new stream, initialised');
  t.same(await connB.expect(), commandFor('b', 1));
  connB.send(replyTo(1, 'other'));
  t.same(await other, { text: 'other' }, 'another entity is served');

  const again = httpCall('/t.Es/Cmd', 'a');
  const conn2 = await uf.eventSourced.next();
  t.same(await conn2.expect(), init('a'), 'a new stream, initialised');
  t.same(await conn2.expect(), replayed(1, 'a1'), 'the event persisted before the crash is replayed');
  t.same(await conn2.expect(), commandFor('a', 1), 'then the command: the interrupted one left no event, ids start again');
  conn2.send(replyTo(1, 'two', { events: [event('a2')] }));
  t.same(await again, { status: 200, body: '{"message":"two"}' });

  const interruptedHttp = httpCall('/t.Es/Cmd', 'a');
  t.same(await conn2.expect(), commandFor('a', 2));
  link.cut();
  t.same(await interruptedHttp, { status: 500, body: 'Unexpected entity termination' }, 'HTTP: 500 with the entity failure');

  const third = grpcCall('/t.Es/Cmd', 'a');
  const conn3 = await uf.eventSourced.next();
  t.same(await conn3.expect(), init('a'), 'a new stream, initialised');
  t.same([await conn3.expect(), await conn3.expect(), await conn3.expect()], [replayed(1, 'a1'), replayed(2, 'a2'), commandFor('a', 1)]);
  conn3.send(replyTo(1, 'three'));
  t.same(await third, { text: 'three' }, 'the entity answers again');
});

t.test('the first command on a new stream: the user function crashed with it; it is not down', async (t) => {
  const { uf, link, grpcCall, httpCall } = await start(t);
  const interrupted = httpCall('/t.Es/Cmd', 'f');
  const conn = await uf.eventSourced.next();
  t.same([await conn.expect(), await conn.expect()], [{ init: { service_name: 't.Es', entity_id: 'f' } }, commandFor('f', 1)], 'the user function has the command');
  link.cut();
  t.same(await interrupted, { status: 500, body: 'Unexpected entity termination' });
  const again = grpcCall('/t.Es/Cmd', 'f');
  const conn2 = await uf.eventSourced.next();
  t.same([await conn2.expect(), await conn2.expect()], [{ init: { service_name: 't.Es', entity_id: 'f' } }, commandFor('f', 1)]);
  conn2.send(replyTo(1, 'back'));
  t.same(await again, { text: 'back' });
});

t.test('value entity: the outstanding command fails "Unexpected Value entity termination"; the entity re-reads its state', async (t) => {
  const { uf, link, grpcCall, httpCall } = await start(t);
  const first = grpcCall('/t.Ve/Cmd', 'v');
  const conn = await uf.valueEntity.next();
  t.same(await conn.expect(), { init: { service_name: 't.Ve', entity_id: 'v', state: {} } });
  await conn.expect();
  conn.send(replyTo(1, 'stored', { state_action: { update: { value: state('A') } } }));
  t.same(await first, { text: 'stored' });

  const interrupted = httpCall('/t.Ve/Cmd', 'v');
  t.same(await conn.expect(), commandFor('v', 2), 'the user function has the command');
  link.cut();
  t.same(await interrupted, { status: 500, body: 'Unexpected Value entity termination' });

  const again = grpcCall('/t.Ve/Cmd', 'v');
  const conn2 = await uf.valueEntity.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Ve', entity_id: 'v', state: { value: { type_url: 'type.googleapis.com/t.State', value: b64(bytes('A')) } } } }, 'the stored state, read again');
  t.same(await conn2.expect(), commandFor('v', 1));
  conn2.send(replyTo(1, 'back'));
  t.same(await again, { text: 'back' });
});
