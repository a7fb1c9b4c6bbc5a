import t from 'tap';
import { openMemoryStorage } from '../../../../src/persistence/index.js';
import { entityStorage, Sharding } from '../../../../src/sharding/index.js';
import { Status } from '../../../../src/proxy/dispatch.js';
import type { Dispatcher, Response } from '../../../../src/proxy/dispatch.js';
import { createDispatcher } from '../../../../src/proxy/entities/index.js';
import { UserFunctionClient } from '../../../../src/proxy/user-function.js';
import { b64, rejection } from '../entities/fake-user-function.js';
import { crdtModel, key, keyAny, msgAny, startCrdtNode } from './harness.js';
import type { CrdtNode } from './harness.js';

const replyTo = (id: number, text: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: msgAny(text) } }, ...extra } });
const text = (r: Response) => (crdtModel().root.lookupType('c.Msg').decode(r.payload) as unknown as { message: string }).message;

async function dispatcherOn(t: { teardown(fn: () => unknown): void }, node: CrdtNode): Promise<Dispatcher> {
  const sharding = new Sharding(node.cluster, { storage: entityStorage(await openMemoryStorage()) });
  t.teardown(() => sharding.stop());
  const client = new UserFunctionClient({ port: node.uf.port });
  t.teardown(() => client.close());
  return createDispatcher({ model: crdtModel(), client, sharding, crdt: node.support });
}

t.test('the dispatcher serves CRDT services: replies, failures, forwards and side effects to other CRDT services', async (t) => {
  const node = await startCrdtNode(t);
  const dispatcher = await dispatcherOn(t, node);
  const signal = new AbortController().signal;
  const unary = (path: string, id: string) => dispatcher.unary(node.method(path), key(id), [{ key: 'x-h', string_value: 'v' }], { signal });

  const first = unary('/c.Crdt/Cmd', 'e');
  const conn = await node.streams.next();
  await conn.expect();
  t.same(await conn.expect(), { command: { entity_id: 'e', id: 1, name: 'Cmd', payload: { type_url: 'type.googleapis.com/c.Key', value: b64(key('e')) } } }, 'no metadata for CRDT entities');
  conn.send(replyTo(1, 'hello', { state_action: { update: { gset: { added: [msgAny('a')] } } } }));
  t.equal(text(await first), 'hello');

  const failing = unary('/c.Crdt/Cmd', 'e');
  await conn.expect();
  conn.send({ reply: { command_id: 2, client_action: { failure: { command_id: 2, description: 'expected failure' } } } });
  const err = await rejection(failing);
  t.same([err.status, err.message], [Status.UNKNOWN, 'expected failure'], 'a failure reaches the client as UNKNOWN with its description');

  const forwarding = unary('/c.Crdt/Cmd', 'e');
  await conn.expect();
  conn.send({
    reply: {
      command_id: 3,
      client_action: { forward: { service_name: 'c.Two', command_name: 'Call', payload: keyAny('t') } },
      side_effects: [{ service_name: 'c.Two', command_name: 'Call', payload: keyAny('s'), synchronous: true }],
    },
  });
  const effect = await node.streams.next();
  t.same(await effect.expect(), { init: { service_name: 'c.Two', entity_id: 's' } }, 'the side effect starts c.Two entity s');
  await effect.expect();
  effect.send(replyTo(1, 'effect done'));
  const forwarded = await node.streams.next();
  t.same(await forwarded.expect(), { init: { service_name: 'c.Two', entity_id: 't' } }, 'then the forward goes to c.Two entity t');
  await forwarded.expect();
  forwarded.send(replyTo(1, 'from two'));
  t.equal(text(await forwarding), 'from two', 'the forward’s reply is the client’s');
});

t.test('the dispatcher streams a server-streaming CRDT command; a client that goes away cancels it, and the cancellation’s side effects are routed', async (t) => {
  const node = await startCrdtNode(t);
  const dispatcher = await dispatcherOn(t, node);
  const abort = new AbortController();
  async function* one() {
    yield key('w');
  }
  const responses = dispatcher.stream({ method: node.method('/c.Crdt/Watch'), metadata: [], requests: one(), signal: abort.signal })[Symbol.asyncIterator]();
  const firstResponse = responses.next();
  const conn = await node.streams.next();
  await conn.expect();
  t.match(await conn.expect(), { command: { id: 1, name: 'Watch', streamed: true } });
  conn.send(replyTo(1, 'now', { streamed: true }));
  t.equal(text((await firstResponse).value as Response), 'now');
  conn.send({ streamed_message: { command_id: 1, client_action: { reply: { payload: msgAny('later') } } } });
  t.equal(text((await responses.next()).value as Response), 'later');
  abort.abort();
  await responses.return?.(undefined);
  t.same(await conn.expect(), { stream_cancelled: { entity_id: 'w', id: 1 } });
  conn.send({ stream_cancelled_response: { command_id: 1, side_effects: [{ service_name: 'c.Two', command_name: 'Call', payload: keyAny('z') }] } });
  const effect = await node.streams.next();
  t.same(await effect.expect(), { init: { service_name: 'c.Two', entity_id: 'z' } }, 'the side effect reaches c.Two');
  t.match(await effect.expect(), { command: { name: 'Call' } });
  effect.send(replyTo(1, 'ok'));
});
